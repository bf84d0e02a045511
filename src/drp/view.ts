/**
 * The engine's neighbourhood as the routing policy sees it. `src/drp/policy.ts` decides on a `PeerView`
 * (struct-of-typed-arrays indexed by peer number) so that the packet engine and the scale model run the
 * same code. Here a local registration builds a small view: peer 0 is itself, then its usable
 * neighbours, then the neighbours those advertised in their PINGs (for look-ahead). Views are rebuilt
 * only when the neighbourhood changed (`version`), and reused for every decision in between.
 */
import { dimensions } from '../id/geometry.js';
import type { NeighborLink } from './neighbor.js';
import { type PeerView, slotStrideMax } from './policy.js';

/** Peers a view may hold: self + neighbours + their advertised neighbours. */
export const viewPeersMax = 1 + slotStrideMax + slotStrideMax * slotStrideMax;

export class LocalView implements PeerView {
  readonly coords = new Uint32Array(viewPeersMax * dimensions);
  readonly slots: Uint32Array;
  readonly slotStride = slotStrideMax;
  readonly degree = new Uint8Array(viewPeersMax);
  readonly busy = new Uint16Array(viewPeersMax);
  /** View peer number → the link it is (for neighbours, 1..count). */
  readonly links: NeighborLink[] = [];
  /** Mark array for the policy's "tried / visited" sets. */
  readonly mark = new Uint32Array(viewPeersMax);
  epoch = 0;
  size = 0;
  builtVersion = -1;

  constructor() {
    this.slots = new Uint32Array(viewPeersMax * this.slotStride);
  }

  /** Rebuilds from the local point and busy mask, and the usable links. */
  rebuild(selfPoint: Uint32Array, selfBusy: number, links: Iterable<NeighborLink>, version: number): void {
    const stride = this.slotStride;
    this.links.length = 0;
    this.coords.set(selfPoint, 0);
    this.busy[0] = selfBusy;
    let n = 1;
    for (const l of links) {
      if (!l.usable) continue;
      if (n > stride) break;
      this.coords.set(l.remotePoint, n * dimensions);
      this.busy[n] = l.remoteBusySectors;
      this.links[n] = l;
      n++;
    }
    const neighbourCount = n - 1;
    this.degree[0] = neighbourCount;
    for (let j = 0; j < neighbourCount; j++) this.slots[j] = j + 1;
    // Second ring: the points each neighbour advertised. Identical points are the same peer; they are
    // found by the first coordinate and confirmed on all eight (no strings, no allocation per point).
    const byFirst = this.byFirst;
    byFirst.clear();
    byFirst.set(selfPoint[0]!, 0);
    for (let i = 1; i <= neighbourCount; i++) byFirst.set(this.links[i]!.remotePoint[0]!, i);
    for (let i = 1; i <= neighbourCount; i++) {
      const l = this.links[i]!;
      let deg = 0;
      // The link to us is implied: the neighbour holds a slot for self.
      this.slots[i * stride + deg++] = 0;
      for (const p of l.remoteNeighbourPoints) {
        if (deg >= stride) break;
        let idx = byFirst.get(p[0]!);
        if (idx !== undefined && !this.samePoint(idx, p)) idx = undefined;
        if (idx === undefined) {
          if (n >= viewPeersMax) break;
          idx = n++;
          this.coords.set(p, idx * dimensions);
          this.busy[idx] = 0;
          this.degree[idx] = 0;
          if (!byFirst.has(p[0]!)) byFirst.set(p[0]!, idx);
        }
        if (idx === 0) continue;
        this.slots[i * stride + deg++] = idx;
      }
      this.degree[i] = deg;
    }
    this.size = n;
    this.builtVersion = version;
  }

  private readonly byFirst = new Map<number, number>();

  private samePoint(idx: number, p: Uint32Array): boolean {
    const o = idx * dimensions;
    for (let k = 0; k < dimensions; k++) if (this.coords[o + k] !== p[k]) return false;
    return true;
  }

  /** Starts a fresh mark epoch (nothing marked). */
  nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.mark.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** View number of a link, or -1. */
  indexOf(link: NeighborLink): number {
    for (let i = 1; i < this.links.length; i++) if (this.links[i] === link) return i;
    return -1;
  }
}
