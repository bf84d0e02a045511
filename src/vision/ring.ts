/**
 * Per-peer ring buffers of recent vision records, in fixed, preallocated memory.
 *
 * Why: detail records are the bulk of what the code emits, and the original kept them in an
 * unbounded list until the server ran out of RAM. Here every record lands in a slot of one pool
 * allocated up front: `peersTrackedMax` rings of `recordsPerPeerMax` slots each, stored column-wise
 * (a Float64Array of times, a Uint8Array of levels, preallocated arrays of module/message/attribute
 * references). A new record overwrites the oldest of its peer's ring, so a run of any length holds
 * at most `peersTrackedMax × recordsPerPeerMax` records and allocates nothing per record beyond the
 * record the caller built.
 *
 * Peers beyond `peersTrackedMax`: the least recently emitting peer is evicted (its ring is emptied
 * and given to the newcomer). Recency is kept in an intrusive doubly-linked list over the ring
 * indices (two Int32Arrays), so touching and evicting are O(1). Least-recently-emitting is the right
 * victim because a snapshot wants the recent records of the peers involved in a pain *now*, and the
 * pain's own snapshot is taken synchronously when it is emitted.
 *
 * Every stored record also gets a sequence number from one counter, so the rings of several peers
 * can be merged back into emission order (`recentRecordsOf`).
 */
import type { AttentionLevel } from './attention.js';
import type { Attributes, VisionRecord } from './record.js';

/** Upper bound on `recordsPerPeerMax`. */
export const recordsPerPeerMaxLimit = 1 << 16;
/** Upper bound on `peersTrackedMax`. */
export const peersTrackedMaxLimit = 1 << 20;
/** Upper bound on the pool, `peersTrackedMax × recordsPerPeerMax` (about 40 bytes a slot). */
export const ringSlotsMaxLimit = 1 << 22;

const none = -1;

export interface PeerRingsLimits {
  /** Records kept per peer; older ones are overwritten. */
  readonly recordsPerPeerMax: number;
  /** Peers with a ring; beyond this the least recently emitting peer is evicted. */
  readonly peersTrackedMax: number;
}

function checkLimits(l: PeerRingsLimits): void {
  const { recordsPerPeerMax: r, peersTrackedMax: p } = l;
  if (!Number.isInteger(r) || r < 1 || r > recordsPerPeerMaxLimit) {
    throw new RangeError(`recordsPerPeerMax must be an integer in [1, ${recordsPerPeerMaxLimit}], got ${r}`);
  }
  if (!Number.isInteger(p) || p < 1 || p > peersTrackedMaxLimit) {
    throw new RangeError(`peersTrackedMax must be an integer in [1, ${peersTrackedMaxLimit}], got ${p}`);
  }
  if (r * p > ringSlotsMaxLimit) {
    throw new RangeError(`peersTrackedMax × recordsPerPeerMax = ${r * p} exceeds ${ringSlotsMaxLimit}`);
  }
}

export class PeerRecordRings {
  readonly recordsPerPeerMax: number;
  readonly peersTrackedMax: number;

  /** Records currently stored, over all rings. Never exceeds peersTrackedMax × recordsPerPeerMax. */
  storedRecordCount = 0;
  /** Peers whose ring was taken by a newer peer. */
  peersEvicted = 0;
  /** Records overwritten because their ring was full (not counting evictions). */
  recordsOverwritten = 0;

  private readonly ringOfPeer = new Map<string, number>();
  private readonly peerOfRing: string[];
  /** Index (within the ring) of the oldest record. */
  private readonly ringStart: Int32Array;
  private readonly ringCount: Int32Array;
  /** Recency list: `newer[i]` / `older[i]` link ring i to its neighbours; `newest`/`oldest` are the ends. */
  private readonly newer: Int32Array;
  private readonly older: Int32Array;
  private newest = none;
  private oldest = none;
  private ringsInUse = 0;

  private readonly slotTimeMs: Float64Array;
  private readonly slotSeq: Float64Array;
  private readonly slotLevel: Uint8Array;
  private readonly slotModule: string[];
  private readonly slotMessage: string[];
  private readonly slotAttributes: (Attributes | undefined)[];
  private nextSeq = 0;

  constructor(limits: PeerRingsLimits) {
    checkLimits(limits);
    this.recordsPerPeerMax = limits.recordsPerPeerMax;
    this.peersTrackedMax = limits.peersTrackedMax;
    const p = this.peersTrackedMax;
    const n = p * this.recordsPerPeerMax;
    this.peerOfRing = new Array<string>(p).fill('');
    this.ringStart = new Int32Array(p);
    this.ringCount = new Int32Array(p);
    this.newer = new Int32Array(p).fill(none);
    this.older = new Int32Array(p).fill(none);
    this.slotTimeMs = new Float64Array(n);
    this.slotSeq = new Float64Array(n);
    this.slotLevel = new Uint8Array(n);
    this.slotModule = new Array<string>(n).fill('');
    this.slotMessage = new Array<string>(n).fill('');
    this.slotAttributes = new Array<Attributes | undefined>(n).fill(undefined);
  }

  /** Number of peers that currently have a ring. */
  get peersTracked(): number {
    return this.ringOfPeer.size;
  }

  /** Stores `r` in its peer's ring, evicting the least recently emitting peer if needed. */
  push(r: VisionRecord): void {
    const ring = this.ringFor(r.peer);
    const cap = this.recordsPerPeerMax;
    const count = this.ringCount[ring]!;
    const start = this.ringStart[ring]!;
    let pos: number;
    if (count < cap) {
      pos = start + count;
      if (pos >= cap) pos -= cap;
      this.ringCount[ring] = count + 1;
      this.storedRecordCount++;
    } else {
      pos = start;
      this.ringStart[ring] = start + 1 === cap ? 0 : start + 1;
      this.recordsOverwritten++;
    }
    const slot = ring * cap + pos;
    this.slotTimeMs[slot] = r.timeMs;
    this.slotSeq[slot] = this.nextSeq++;
    this.slotLevel[slot] = r.level;
    this.slotModule[slot] = r.module;
    this.slotMessage[slot] = r.message;
    this.slotAttributes[slot] = r.attributes;
  }

  /** Records stored for `peer` (0 for an untracked peer). */
  recordCount(peer: string): number {
    const ring = this.ringOfPeer.get(peer);
    return ring === undefined ? 0 : this.ringCount[ring]!;
  }

  /** True when `peer` has a ring. */
  has(peer: string): boolean {
    return this.ringOfPeer.has(peer);
  }

  /** Tracked peers, most recently emitting first. */
  peers(): string[] {
    const out: string[] = [];
    for (let i = this.newest; i !== none; i = this.older[i]!) out.push(this.peerOfRing[i]!);
    return out;
  }

  /** The newest `limit` records of `peer` (all by default), oldest first. */
  records(peer: string, limit = this.recordsPerPeerMax): VisionRecord[] {
    const ring = this.ringOfPeer.get(peer);
    if (ring === undefined) return [];
    const out: VisionRecord[] = [];
    this.collect(ring, limit, out);
    return out;
  }

  /**
   * The newest `limitPerPeer` records of each of `peers` (untracked ones contribute nothing), merged
   * into emission order.
   */
  recentRecordsOf(peers: Iterable<string>, limitPerPeer = this.recordsPerPeerMax): VisionRecord[] {
    const tagged: { seq: number; record: VisionRecord }[] = [];
    const seen = new Set<number>();
    for (const peer of peers) {
      const ring = this.ringOfPeer.get(peer);
      if (ring === undefined || seen.has(ring)) continue;
      seen.add(ring);
      const recs: VisionRecord[] = [];
      const seqs = this.collect(ring, limitPerPeer, recs);
      for (let i = 0; i < recs.length; i++) tagged.push({ seq: seqs[i]!, record: recs[i]! });
    }
    tagged.sort((a, b) => a.seq - b.seq);
    return tagged.map((t) => t.record);
  }

  /** Forgets every record and peer (the pool stays allocated). */
  clear(): void {
    this.ringOfPeer.clear();
    this.ringCount.fill(0);
    this.ringStart.fill(0);
    this.newer.fill(none);
    this.older.fill(none);
    this.newest = none;
    this.oldest = none;
    this.ringsInUse = 0;
    this.storedRecordCount = 0;
    this.slotModule.fill('');
    this.slotMessage.fill('');
    this.slotAttributes.fill(undefined);
  }

  /** Appends the ring's newest `limit` records to `out`, oldest first; returns their sequence numbers. */
  private collect(ring: number, limit: number, out: VisionRecord[]): number[] {
    const cap = this.recordsPerPeerMax;
    const count = this.ringCount[ring]!;
    const take = Math.max(0, Math.min(count, Math.floor(limit)));
    const peer = this.peerOfRing[ring]!;
    const seqs: number[] = [];
    for (let k = count - take; k < count; k++) {
      let pos = this.ringStart[ring]! + k;
      if (pos >= cap) pos -= cap;
      const slot = ring * cap + pos;
      const attributes = this.slotAttributes[slot];
      const base = {
        timeMs: this.slotTimeMs[slot]!,
        peer,
        module: this.slotModule[slot]!,
        level: this.slotLevel[slot]! as AttentionLevel,
        message: this.slotMessage[slot]!,
      };
      out.push(attributes === undefined ? base : { ...base, attributes });
      seqs.push(this.slotSeq[slot]!);
    }
    return seqs;
  }

  /** The ring of `peer`, made most recent; allocates or evicts for a new peer. */
  private ringFor(peer: string): number {
    const known = this.ringOfPeer.get(peer);
    if (known !== undefined) {
      if (known !== this.newest) {
        this.unlink(known);
        this.linkNewest(known);
      }
      return known;
    }
    let ring: number;
    if (this.ringsInUse < this.peersTrackedMax) {
      ring = this.ringsInUse++;
    } else {
      ring = this.oldest;
      this.unlink(ring);
      this.ringOfPeer.delete(this.peerOfRing[ring]!);
      this.storedRecordCount -= this.ringCount[ring]!;
      this.peersEvicted++;
    }
    this.peerOfRing[ring] = peer;
    this.ringStart[ring] = 0;
    this.ringCount[ring] = 0;
    this.ringOfPeer.set(peer, ring);
    this.linkNewest(ring);
    return ring;
  }

  private unlink(i: number): void {
    const n = this.newer[i]!;
    const o = this.older[i]!;
    if (n === none) this.newest = o;
    else this.older[n] = o;
    if (o === none) this.oldest = n;
    else this.newer[o] = n;
    this.newer[i] = none;
    this.older[i] = none;
  }

  private linkNewest(i: number): void {
    this.older[i] = this.newest;
    this.newer[i] = none;
    if (this.newest !== none) this.newer[this.newest] = i;
    this.newest = i;
    if (this.oldest === none) this.oldest = i;
  }
}
