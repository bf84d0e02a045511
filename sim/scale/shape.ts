/**
 * Shape figures of a built DRP graph, sampled: how long its links are, how many distinct peers a peer
 * reaches in two hops (what INVITE routing's look-ahead sees) and how often two neighbours of a peer are
 * linked to each other (clustering). They explain routing figures: at the same degree, fewer linked
 * neighbour pairs mean more distinct peers within two hops, and greedy routing with look-ahead goes
 * farther per hop (docs/routing.md, "Occlusion-aware eviction").
 */

import { type PeerView, peerDistanceSquared, slotPeerMask } from '../../src/drp/policy.js';
import type { FastRng } from './fast-rng.js';

/** Peers `graphShape` samples (the figures are means over them). */
export const graphShapeSamples = 3000;

export interface GraphShape {
  /** Peers sampled. */
  readonly samples: number;
  /** Mean normalised length of the sampled peers' links. */
  readonly linkLengthMean: number;
  /** Mean count of distinct peers (other than the peer) within two hops. */
  readonly twoHopReachMean: number;
  /** Share of the sampled peers' neighbour pairs that are linked to each other. */
  readonly clustering: number;
}

/** Samples `samples` peers of `count` (uniformly, with repetition) and measures the graph around them. */
export function graphShape(
  view: PeerView,
  count: number,
  rng: Pick<FastRng, 'int'>,
  samples = graphShapeSamples,
): GraphShape {
  const stride = view.slotStride;
  const neighbour = (p: number, j: number): number => view.slots[p * stride + j]! & slotPeerMask;
  let length = 0;
  let links = 0;
  let reach = 0;
  let linkedPairs = 0;
  let pairs = 0;
  const within = new Set<number>();
  for (let t = 0; t < samples; t++) {
    const p = rng.int(count);
    const deg = view.degree[p]!;
    within.clear();
    for (let j = 0; j < deg; j++) {
      const n = neighbour(p, j);
      length += Math.sqrt(peerDistanceSquared(view.coords, p, n));
      links++;
      within.add(n);
      const nd = view.degree[n]!;
      for (let k = 0; k < nd; k++) {
        const m = neighbour(n, k);
        if (m !== p) within.add(m);
      }
      // Pairs (j, i > j): is neighbour i in n's slot row?
      for (let i = j + 1; i < deg; i++) {
        const other = neighbour(p, i);
        pairs++;
        for (let k = 0; k < nd; k++) {
          if (neighbour(n, k) === other) {
            linkedPairs++;
            break;
          }
        }
      }
    }
    reach += within.size;
  }
  return {
    samples,
    linkLengthMean: links === 0 ? 0 : length / links,
    twoHopReachMean: samples === 0 ? 0 : reach / samples,
    clustering: pairs === 0 ? 0 : linkedPairs / pairs,
  };
}
