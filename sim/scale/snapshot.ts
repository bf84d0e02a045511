/**
 * Pain snapshots from the scale model: a route of the model (`routes.ts`, the engine's INVITE policy) that
 * failed, or met a local minimum, as a `PainSnapshot` the visualizer and `drp-sim vision --text` read like
 * the simulator's. The model has no clock and no records: a hop's `timeMs` is its step number, and the
 * snapshot carries no ring records. Peers are named `P<index>`; a regID is the first two coordinates of
 * the peer's point (as an engine's regID is the bytes its point is read from).
 *
 * Which peers: all of them up to `peersMax`; beyond it the route's peers and their `neighbourhoodHops`-hop
 * neighbourhood up to the cap, and `peersTotal` says how many the network has.
 */

import type { RoutingPolicy } from '../../src/drp/policy.js';
import { routeHopsMax, slotPeerMask } from '../../src/drp/policy.js';
import { axisRingSize, dimensions, distance } from '../../src/id/geometry.js';
import { AttentionLevel } from '../../src/vision/attention.js';
import {
  type PainSnapshot,
  type SnapshotFault,
  type SnapshotHop,
  type SnapshotPeer,
  snapshotConsideredPerHopMax,
  snapshotHopsMax,
  snapshotLayoutVersion,
  snapshotNeighboursPerPeerMax,
  snapshotPeersMaxLimit,
} from '../../src/vision/snapshot.js';
import type { FastRng } from './fast-rng.js';
import { type RoutableNetwork, type RouteObserver, Router, type RouteStepKind } from './routes.js';

export interface ModelSnapshotOptions {
  /** Peers kept in full up to this many; beyond, the route's neighbourhood. */
  readonly peersMax: number;
  readonly neighbourhoodHops: number;
  /** 1-based number of the snapshot in its trace. */
  readonly number: number;
  readonly faults: readonly SnapshotFault[];
  /** Peers that are entry peers (the model's first joiners). */
  readonly entryPeers: number;
}

export const modelSnapshotDefaults: Omit<ModelSnapshotOptions, 'number' | 'faults' | 'entryPeers'> = {
  peersMax: 2000,
  neighbourhoodHops: 2,
};

interface TracedStep {
  readonly attempt: number;
  readonly step: number;
  readonly from: number;
  readonly to: number;
  readonly kind: RouteStepKind | 'deadEnd' | 'failed';
  /** The hop budget left when the step was taken (`routeHopsMax` less the path's depth). */
  readonly hopsRemaining: number;
}

/** Collects the steps of one routed pair (bounded by `snapshotHopsMax`). */
class StepLog implements RouteObserver {
  readonly steps: TracedStep[] = [];
  private attemptNo = 0;
  private n = 0;
  /** Hops from the attempt's start along the current path (a step back shortens it). */
  private depth = 0;
  beginAttempt(): void {
    this.attemptNo++;
    this.depth = 0;
  }
  step(from: number, to: number, kind: RouteStepKind): void {
    this.push(from, to, kind);
    this.depth += kind === 'back' ? -1 : 1;
  }
  deadEnd(at: number): void {
    this.push(at, -1, 'deadEnd');
  }
  failed(at: number): void {
    this.push(at, -1, 'failed');
  }
  private push(from: number, to: number, kind: TracedStep['kind']): void {
    if (this.steps.length < snapshotHopsMax) {
      const hopsRemaining = routeHopsMax - this.depth;
      this.steps.push({ attempt: this.attemptNo, step: this.n, from, to, kind, hopsRemaining });
    }
    if (kind !== 'deadEnd') this.n++;
  }
}

/** Routes `s` → `t` again with a router that reports each step; the steps and whether it was delivered. */
export function traceRoute(
  net: RoutableNetwork,
  policy: RoutingPolicy,
  rng: FastRng | null,
  s: number,
  t: number,
): { steps: readonly TracedStep[]; hops: number } {
  const log = new StepLog();
  const router = new Router(net, policy, rng);
  router.observer = log;
  const hops = router.route(s, t);
  return { steps: log.steps, hops };
}

const decisions: Record<TracedStep['kind'], string> = {
  greedy: 'INVITE forwarded',
  fallback: 'local minimum: on to the best unvisited neighbour',
  back: 'no unvisited neighbour closer: back to the previous hop',
  random: 'retry: random hop',
  deadEnd: 'INVITE at a local minimum: no neighbour closer to the target',
  failed: 'INVITE failed here: no route',
};

function regIdOf(coords: Uint32Array, p: number): string {
  const a = coords[p * dimensions]!.toString(16).padStart(8, '0');
  const b = coords[p * dimensions + 1]!.toString(16).padStart(8, '0');
  return a + b;
}

/** The pain snapshot of one routed pair of the scale model. */
export function modelSnapshot(
  net: RoutableNetwork,
  s: number,
  t: number,
  traced: { steps: readonly TracedStep[]; hops: number },
  opts: ModelSnapshotOptions,
): PainSnapshot {
  const coords = net.coords;
  const nb = (p: number): number[] => {
    const out: number[] = [];
    const base = p * net.slotStride;
    for (let j = 0; j < net.degree[p]!; j++) out.push(net.slots[base + j]! & slotPeerMask);
    return out;
  };
  const dist = (a: number, b: number): number => distance(coords, a * dimensions, coords, b * dimensions);

  // Which peers.
  const onRoute: number[] = [s];
  for (const st of traced.steps) {
    onRoute.push(st.from);
    if (st.to >= 0) onRoute.push(st.to);
  }
  onRoute.push(t);
  const peersMax = Math.min(opts.peersMax, snapshotPeersMaxLimit);
  let chosen: number[];
  let selection: PainSnapshot['selection'];
  if (net.count <= peersMax) {
    chosen = Array.from({ length: net.count }, (_, i) => i);
    selection = 'all';
  } else {
    const seen = new Set<number>();
    for (const p of onRoute) if (seen.size < peersMax) seen.add(p);
    let frontier = [...seen];
    for (let h = 0; h < opts.neighbourhoodHops && seen.size < peersMax; h++) {
      const next: number[] = [];
      for (const p of frontier) {
        for (const q of nb(p)) {
          if (seen.size >= peersMax) break;
          if (!seen.has(q)) {
            seen.add(q);
            next.push(q);
          }
        }
      }
      frontier = next;
    }
    chosen = [...seen].sort((a, b) => a - b);
    selection = 'routeNeighbourhood';
  }
  const index = new Map<number, number>(chosen.map((p, i) => [p, i]));
  const at = (p: number): number => index.get(p) ?? -1;

  const peers: SnapshotPeer[] = chosen.map((p) => {
    const all = nb(p);
    const inside = all
      .map(at)
      .filter((i) => i >= 0)
      .slice(0, snapshotNeighboursPerPeerMax);
    const alive = net.isAlive(p);
    return {
      name: `P${p}`,
      regId: regIdOf(coords, p),
      point: Array.from(coords.subarray(p * dimensions, (p + 1) * dimensions), (c) => c / axisRingSize),
      neighbours: inside,
      neighboursOutside: all.length - inside.length,
      online: alive,
      offline: alive ? '' : 'removed',
      nat: 'open',
      isp: 'model',
      rating: alive && all.length > 0 ? 1 : 0,
      entry: p < opts.entryPeers,
    };
  });

  const hops: SnapshotHop[] = traced.steps.map((st) => {
    const considered = nb(st.from)
      .map((q) => ({ regId: regIdOf(coords, q).slice(0, 8), peer: at(q), distance: dist(q, t) }))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, snapshotConsideredPerHopMax);
    const first = st.kind === 'greedy' && st.from === s;
    return {
      timeMs: st.step,
      tx: `A${st.attempt}`,
      peerName: `P${st.from}`,
      peer: at(st.from),
      distance: dist(st.from, t),
      chosen: st.to < 0 ? '' : regIdOf(coords, st.to),
      chosenPeer: st.to < 0 ? -1 : at(st.to),
      chosenDistance: st.to < 0 ? -1 : dist(st.to, t),
      considered,
      decision: first ? 'INVITE sent' : decisions[st.kind],
      hopsRemaining: st.hopsRemaining,
    };
  });
  const txs = [...new Set(hops.map((h) => h.tx))];
  const delivered = traced.hops >= 0;
  const deadEnds = traced.steps.filter((x) => x.kind === 'deadEnd').length;
  return {
    layout: snapshotLayoutVersion,
    number: opts.number,
    pain: {
      timeMs: 0,
      peer: `P${s}`,
      module: 'scale',
      level: !delivered
        ? AttentionLevel.strongPain
        : deadEnds > 0
          ? AttentionLevel.lightPain
          : AttentionLevel.guiActivity,
      message: !delivered
        ? 'INVITE failed: no route'
        : deadEnds > 0
          ? `INVITE met ${deadEnds} local minim${deadEnds === 1 ? 'um' : 'a'}, delivered after ${traced.hops} hops`
          : `INVITE delivered after ${traced.hops} hops`,
      attributes: { source: `P${s}`, target: `P${t}`, hops: traced.hops },
    },
    eventIndex: 0,
    eventHash: '0000000000000000',
    peersTotal: net.count,
    selection,
    neighbourhoodHops: selection === 'all' ? 0 : opts.neighbourhoodHops,
    peers,
    route: {
      txs,
      sourceName: `P${s}`,
      source: at(s),
      target: regIdOf(coords, t),
      targetPeer: at(t),
      hops,
    },
    records: [],
    faults: [...opts.faults],
  };
}
