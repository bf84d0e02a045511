/**
 * The engine's neighbourhood as the routing policy sees it. `src/drp/policy.ts` decides on a `PeerView`
 * (struct-of-typed-arrays indexed by peer number) so that the packet engine and the scale model run the
 * same code. Here a local registration builds a small view: peer 0 is itself, then its usable
 * neighbours, then the neighbours those advertised in their PINGs (for look-ahead). Views are rebuilt
 * only when the neighbourhood changed (`version`), and reused for every decision in between.
 */
import { dimensions } from '../id/geometry.js';
import { pingNeighbourRegIdsMaxCount } from '../wire/constants.js';
import type { NeighborLink } from './neighbor.js';
import { type PeerView, slotStrideMax } from './policy.js';

/** Peers a view of `stride` slots may hold: self + neighbours + what each advertises (+ its link to us). */
export function viewPeersFor(stride: number): number {
  return 1 + stride + stride * (pingNeighbourRegIdsMaxCount + 1);
}

/** A power of two at least twice `entries` (the first-coordinate table's load stays at most one half). */
function firstTableSize(entries: number): number {
  let n = 16;
  while (n < 2 * entries) n *= 2;
  return n;
}

/** Peers a view has room for before it first grows (a 13-neighbour registration needs ~150–200). */
export const viewPeersInitial = 256;

export class LocalView implements PeerView {
  coords: Uint32Array;
  readonly slots: Uint32Array;
  readonly slotStride: number;
  degree: Uint8Array;
  busy: Uint16Array;
  /** Peers this view holds at most. */
  readonly peersMax: number;
  /** View peer number → the link it is (for neighbours, 1..count). */
  readonly links: NeighborLink[] = [];
  /** Mark array for the policy's "tried / visited" sets. */
  mark: Uint32Array;
  epoch = 0;
  size = 0;
  builtVersion = -1;

  /**
   * `stride`: slots per peer — the registration's hard maximum of neighbours plus room for the link back
   * (at most `slotStrideMax`, the policy's bound). The per-peer arrays start with room for
   * `viewPeersInitial` peers and double when a rebuild needs more (up to `peersMax`, what a full
   * neighbourhood advertising the most neighbours a PING carries needs): a simulated network holds one
   * view per registration, and the full size (~30 KB at stride 19; ~16 KB now) was a quarter of a
   * user's memory there.
   */
  constructor(stride: number) {
    if (!Number.isInteger(stride) || stride < 2 || stride > slotStrideMax) {
      throw new RangeError(`view stride must be an integer in [2, ${slotStrideMax}], got ${stride}`);
    }
    this.slotStride = stride;
    this.peersMax = viewPeersFor(stride);
    // Room for this many peers now (the length of every per-peer array): doubles as needed, up to peersMax.
    const capacity = Math.min(this.peersMax, Math.max(viewPeersInitial, 1 + stride));
    this.coords = new Uint32Array(capacity * dimensions);
    // Only self and its neighbours have slot rows: the second ring are leaves (degree 0), whose rows the
    // policy never reads.
    this.slots = new Uint32Array((1 + stride) * stride);
    this.degree = new Uint8Array(capacity);
    this.busy = new Uint16Array(capacity);
    this.mark = new Uint32Array(capacity);
    this.firstKeys = new Uint32Array(firstTableSize(capacity));
    this.firstValues = new Int16Array(this.firstKeys.length);
    this.firstStamps = new Uint16Array(this.firstKeys.length);
  }

  /**
   * Doubles the per-peer arrays (keeping the first `n` peers) and the first-coordinate table, whose
   * entries are re-inserted. Called by `rebuild` when peer number `n` does not fit.
   */
  private grow(n: number): void {
    const capacity = Math.min(this.peersMax, this.degree.length * 2);
    const coords = new Uint32Array(capacity * dimensions);
    coords.set(this.coords.subarray(0, n * dimensions));
    this.coords = coords;
    const degree = new Uint8Array(capacity);
    degree.set(this.degree.subarray(0, n));
    this.degree = degree;
    const busy = new Uint16Array(capacity);
    busy.set(this.busy.subarray(0, n));
    this.busy = busy;
    // Marks are per decision (`nextEpoch`); a fresh array only needs the epoch to stay above zero.
    this.mark = new Uint32Array(capacity);
    const size = firstTableSize(capacity);
    if (size !== this.firstKeys.length) {
      this.firstKeys = new Uint32Array(size);
      this.firstValues = new Int16Array(size);
      this.firstStamps = new Uint16Array(size);
      this.firstStamp = 1;
      // Re-inserted in view order, as `rebuild` inserted them (an equal point found first stays first).
      for (let i = 0; i < n; i++) this.pointInsert(coords[i * dimensions]!, i);
    }
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
    this.firstClear();
    this.pointInsert(selfPoint[0]!, 0);
    for (let i = 1; i <= neighbourCount; i++) this.pointInsert(this.links[i]!.remotePoint[0]!, i);
    let coords = this.coords;
    for (let i = 1; i <= neighbourCount; i++) {
      const l = this.links[i]!;
      let deg = 0;
      // The link to us is implied: the neighbour holds a slot for self.
      this.slots[i * stride + deg++] = 0;
      for (const p of l.remoteNeighbourPoints) {
        if (deg >= stride) break;
        let idx = this.pointIndex(p);
        if (idx < 0) {
          if (n >= this.peersMax) break;
          if (n >= this.degree.length) {
            this.grow(n);
            coords = this.coords;
          }
          idx = n++;
          const o = idx * dimensions;
          for (let k = 0; k < dimensions; k++) coords[o + k] = p[k]!;
          this.busy[idx] = 0;
          this.degree[idx] = 0;
          this.pointInsert(p[0]!, idx);
        }
        if (idx === 0) continue;
        this.slots[i * stride + deg++] = idx;
      }
      this.degree[i] = deg;
    }
    this.size = n;
    this.builtVersion = version;
  }

  // First coordinate → view peer numbers: an open-addressing table of at least twice the capacity
  // (linear probing), emptied per rebuild by bumping a stamp rather than clearing it. Points that share
  // a first coordinate each get an entry; a lookup compares all eight coordinates.
  private firstKeys: Uint32Array;
  private firstValues: Int16Array;
  private firstStamps: Uint16Array;
  private firstStamp = 0;

  private firstClear(): void {
    this.firstStamp = (this.firstStamp + 1) & 0xffff;
    if (this.firstStamp === 0) {
      this.firstStamps.fill(0);
      this.firstStamp = 1;
    }
  }

  /** The view number holding point `p` (the first inserted, if several), or -1. */
  private pointIndex(p: Uint32Array): number {
    const key = p[0]!;
    const mask = this.firstKeys.length - 1;
    for (
      let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
      this.firstStamps[i] === this.firstStamp;
      i = (i + 1) & mask
    ) {
      if (this.firstKeys[i] === key && this.samePoint(this.firstValues[i]!, p)) return this.firstValues[i]!;
    }
    return -1;
  }

  /** Adds an entry for view number `value`, whose first coordinate is `key`. */
  private pointInsert(key: number, value: number): void {
    const mask = this.firstKeys.length - 1;
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    while (this.firstStamps[i] === this.firstStamp) i = (i + 1) & mask;
    this.firstStamps[i] = this.firstStamp;
    this.firstKeys[i] = key;
    this.firstValues[i] = value;
  }

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
