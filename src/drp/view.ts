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

export class LocalView implements PeerView {
  readonly coords: Uint32Array;
  readonly slots: Uint32Array;
  readonly slotStride: number;
  readonly degree: Uint8Array;
  readonly busy: Uint16Array;
  /** Peers this view holds at most. */
  readonly peersMax: number;
  /** View peer number → the link it is (for neighbours, 1..count). */
  readonly links: NeighborLink[] = [];
  /** Mark array for the policy's "tried / visited" sets. */
  readonly mark: Uint32Array;
  epoch = 0;
  size = 0;
  builtVersion = -1;

  /**
   * `stride`: slots per peer — the registration's hard maximum of neighbours plus room for the link back
   * (at most `slotStrideMax`, the policy's bound). Sized to the registration, a view costs a few tens of
   * kilobytes, not the megabyte a maximal one would.
   */
  constructor(stride: number) {
    if (!Number.isInteger(stride) || stride < 2 || stride > slotStrideMax) {
      throw new RangeError(`view stride must be an integer in [2, ${slotStrideMax}], got ${stride}`);
    }
    this.slotStride = stride;
    this.peersMax = viewPeersFor(stride);
    this.coords = new Uint32Array(this.peersMax * dimensions);
    // Only self and its neighbours have slot rows: the second ring are leaves (degree 0), whose rows the
    // policy never reads. That keeps a view at ~15 KB instead of ~45 KB.
    this.slots = new Uint32Array((1 + stride) * stride);
    this.degree = new Uint8Array(this.peersMax);
    this.busy = new Uint16Array(this.peersMax);
    this.mark = new Uint32Array(this.peersMax);
    this.firstKeys = new Uint32Array(firstTableSize(this.peersMax));
    this.firstValues = new Int16Array(this.firstKeys.length);
    this.firstStamps = new Uint16Array(this.firstKeys.length);
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
    this.firstSet(selfPoint[0]!, 0);
    for (let i = 1; i <= neighbourCount; i++) this.firstSet(this.links[i]!.remotePoint[0]!, i);
    const coords = this.coords;
    for (let i = 1; i <= neighbourCount; i++) {
      const l = this.links[i]!;
      let deg = 0;
      // The link to us is implied: the neighbour holds a slot for self.
      this.slots[i * stride + deg++] = 0;
      for (const p of l.remoteNeighbourPoints) {
        if (deg >= stride) break;
        const first = p[0]!;
        let idx = this.firstGet(first);
        if (idx >= 0 && !this.samePoint(idx, p)) idx = -1;
        if (idx < 0) {
          if (n >= this.peersMax) break;
          idx = n++;
          const o = idx * dimensions;
          for (let k = 0; k < dimensions; k++) coords[o + k] = p[k]!;
          this.busy[idx] = 0;
          this.degree[idx] = 0;
          if (this.firstGet(first) < 0) this.firstSet(first, idx);
        }
        if (idx === 0) continue;
        this.slots[i * stride + deg++] = idx;
      }
      this.degree[i] = deg;
    }
    this.size = n;
    this.builtVersion = version;
  }

  // First coordinate → view peer number: an open-addressing table of at least twice `peersMax` slots
  // (linear probing), emptied per rebuild by bumping a stamp rather than clearing it.
  private readonly firstKeys: Uint32Array;
  private readonly firstValues: Int16Array;
  private readonly firstStamps: Uint16Array;
  private firstStamp = 0;

  private firstClear(): void {
    this.firstStamp = (this.firstStamp + 1) & 0xffff;
    if (this.firstStamp === 0) {
      this.firstStamps.fill(0);
      this.firstStamp = 1;
    }
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private firstSlot(key: number): number {
    const mask = this.firstKeys.length - 1;
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    while (this.firstStamps[i] === this.firstStamp && this.firstKeys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private firstGet(key: number): number {
    const i = this.firstSlot(key);
    return this.firstStamps[i] === this.firstStamp ? this.firstValues[i]! : -1;
  }

  private firstSet(key: number, value: number): void {
    const i = this.firstSlot(key);
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
