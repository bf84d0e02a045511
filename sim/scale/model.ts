/**
 * The scale model of a DRP network: up to 1e8 peers as struct-of-typed-arrays, grown by the join
 * process the engine performs and maintained by the engine's upkeep rules.
 *
 * Per peer: 8 u32 coordinates (32 B), `slotStride` u32 neighbour slots (64 B at the default 16), a
 * degree (1 B) and the advertised busy-sector mask (2 B) — 99 B; a 1-bit alive set is added only for
 * churn. One typed array per field: Node allows 2^32 elements, so 1e8 peers need no sharding (the
 * slots array, the largest, is 1.6e9 elements).
 *
 * A join, as the engine does it (DESIGN §6, the original's §7):
 *  1. the newcomer A sends a REGISTER to a random entry peer; it takes 0..`randomHopsMax` random hops
 *     (each to a random neighbour, or ending early when the current peer picks itself), then hops
 *     greedily by link value towards A (`registerStep`); the first peer better than all its
 *     neighbours, not yet linked to A and with a free slot accepts, and the two link;
 *  2. while A holds fewer than `minNeighbors` links it registers again through a random neighbour
 *     (random hops, then greedy), up to `registerAttemptsMax` times;
 *  3. gap filling: for each sector of A still empty, a REGISTER steered to the point one typical
 *     neighbour distance away along that sector's simplex vertex;
 *  4. long links: `longLinks` REGISTERs steered to points at a harmonic (log-uniform) distance in a
 *     random direction; the accepting peer must hold fewer than `longLinksMax` long links;
 *  5. a peer above `softMax` drops its worst local link (`evictionVictim`, preferring neighbours that
 *     stay at or above their minimum); a peer left below `minNeighbors` queues and registers again
 *     (bounded by `deficitQueueMax` / `deficitStepsMax`).
 * Each peer visited by a REGISTER is marked so a walk never loops (the engine's pending set).
 *
 * Batched (the default, `JoinParams.joinBatchDivisor`): `planJoin` / `planRecycle` compute a batch's
 * steps against the network as the batch began, writing nothing another plan reads, so threads plan at
 * once (`parallel-build.ts`); `applyPlanned` / `applyRecycle` then carry them out in order.
 *
 * `recycle` is the engine's periodic upkeep (every 120 s at or above the minimum: drop the worst
 * link, register again); the default build ends with one round. `refine` (a research variant) links
 * to the nearest of the neighbours' advertised neighbours instead (NN-descent in effect). `removePeers`
 * and `repair` model churn; `leave` a peer going away.
 */

import {
  computeBusyMask,
  type EvictionCause,
  evictionVictim,
  evictionVictimOfRow,
  isLinked,
  longLinkCount,
  longLinkFlag,
  type PeerView,
  peerDistanceSquared,
  prospectiveValue,
  type RoutingPolicy,
  registerAcceptHere,
  registerStepVisited,
  routeHopsMax,
  sectorPair,
  sectorTowardsFast,
  slotPeerMask,
  spareAboveDegreeFor,
} from '../../src/drp/policy.js';
import { dimensions, typicalNeighbourDistance } from '../../src/id/geometry.js';
import { sectorCount, simplexVertices } from '../../src/id/sectors.js';
import type { FastRng } from './fast-rng.js';

/** Parameters of the join process and upkeep. */
export interface JoinParams {
  /** Target neighbour count (the headline 13). */
  readonly neighbors: number;
  /** Register again below this (default: neighbors; the original used neighbors − 1). */
  readonly minNeighbors: number;
  /** Drop the worst local link above this (default neighbors + 1). */
  readonly softMax: number;
  /** Random hops at the start of a REGISTER: uniform in 0..randomHopsMax. */
  readonly randomHopsMax: number;
  /** REGISTERs a newcomer sends at most to reach `minNeighbors`. */
  readonly registerAttemptsMax: number;
  /** Long-link REGISTERs per newcomer. */
  readonly longLinks: number;
  /** Long links a peer holds at most (its own and accepted). */
  readonly longLinksMax: number;
  /** Direction-steered REGISTERs into empty sectors after reaching the minimum. */
  readonly gapFill: boolean;
  /** Upkeep rounds (neighbours' neighbours refinement) after the build. */
  readonly refineRounds: number;
  /** Recycling rounds (drop the worst link, register again) after the build. */
  readonly recycleRounds: number;
  /**
   * Spare-aware eviction prefers neighbours above their minimum by this much link value only
   * (research; Infinity: always, the default).
   */
  readonly spareEvictionMargin: number;
  /**
   * Batched joins (`planJoin` / `applyPlanned`): 0 joins one peer at a time; D > 0 joins in batches of up
   * to joined/D peers (a power of two, at most `joinBatchMax`), each planned against the network as the
   * batch began. The build then spreads over threads (`parallel-build.ts`) with the same result.
   */
  readonly joinBatchDivisor: number;
  readonly policy: RoutingPolicy;
}

export function joinParamsFor(
  neighbors: number,
  policy: RoutingPolicy,
  over: Partial<JoinParams> = {},
): JoinParams {
  return {
    neighbors,
    minNeighbors: neighbors,
    softMax: neighbors + 1,
    randomHopsMax: 9,
    registerAttemptsMax: 3 * neighbors,
    longLinks: 0,
    longLinksMax: 3,
    gapFill: true,
    refineRounds: 0,
    recycleRounds: 1,
    spareEvictionMargin: Number.POSITIVE_INFINITY,
    joinBatchDivisor: joinBatchDivisorDefault,
    policy,
    ...over,
  };
}

/** Bytes the model needs per peer for a slot stride (coordinates, slots, degree, busy mask). */
export function bytesPerPeer(slotStride: number): number {
  return dimensions * 4 + slotStride * 4 + 1 + 2;
}

/** Slots per peer for a target neighbour count: soft max + 1 (evictions are immediate). */
export function slotStrideFor(neighbors: number): number {
  return neighbors + 3;
}

/** The build checks its progress (a place to stop or save) every this many joins (`runScale`). */
export const joinTickEvery = 1 << 12;
/** An upkeep round (`recycle`, `refine`) checks its progress (a place to stop) every this many peers. */
export const upkeepTickEvery = 1 << 16;

/**
 * The default batch divisor: batches of joined/1024 peers (512 at 1e6) leave about 3 % of the rows changed
 * by the time a batch is applied, so most foreseen evictions hold, and route as well as one join at a time.
 */
export const joinBatchDivisorDefault = 1024;

/** Peers in one batch of joins at most (a power of two dividing `joinTickEvery`). */
export const joinBatchMax = 1 << 12;

/**
 * The size of the batch of joins that starts at join position `at`: the largest power of two at most
 * at/divisor, at most `joinBatchMax` and dividing `at` (so batches end at every progress check), 1 for
 * a divisor of 0. A function of the position alone, so a build resumed from a checkpoint batches alike.
 */
export function joinBatchAt(at: number, divisor: number): number {
  return divisor <= 0 ? 1 : batchAt(at, at / divisor);
}

/** The largest power of two at most `bound` and `joinBatchMax` that divides `at` (1 when `bound` < 2). */
export function batchAt(at: number, bound: number): number {
  let b = 1;
  while (b * 2 <= bound && b * 2 <= joinBatchMax) b *= 2;
  while (at % b !== 0) b /= 2;
  return b;
}

/** Pending re-registrations of peers left below the minimum, at most. */
export const deficitQueueMax = 1 << 16;
/** Re-registrations processed at most after one join (bounds a cascade of evictions). */
export const deficitStepsMax = 64;

export interface JoinCounters {
  registers: number;
  registerHops: number;
  registerFailures: number;
  evictions: number;
  deficitDropped: number;
  longLinksMade: number;
  gapFills: number;
}

/**
 * The scalar part of a `ScaleNetwork` between two joins (or two peers of an upkeep round), for a
 * checkpoint: with the arrays of `stateArrays` it is the whole state the rest of the build depends on.
 * Visit marks are not saved: between steps they only hold old epochs, which a restored zero equals in
 * effect (no later comparison can match either).
 */
export interface ModelState {
  readonly count: number;
  readonly joined: number;
  readonly epoch: number;
  readonly deficitHead: number;
  readonly deficitLength: number;
  readonly counters: JoinCounters;
  readonly rng: readonly [number, number, number, number];
}

/** No peer, in a plan (`planRecycle`). */
export const noPeer = 0xffff_ffff;

/** `foreseeEvictions` could not tell (the far end's choice is made when the link is applied). */
export const victimUnknown = -2;

/**
 * Per planned link (`foreseeEvictions`): the slot its far end drops (−1: none), that end's busy mask
 * after it, and the spare status of the members of its row.
 */
export interface ForeseenEvictions {
  readonly victims: Int8Array;
  readonly masks: Uint16Array;
  readonly spares: Uint32Array;
}

/** The arrays a build helper thread reads (`ScaleNetwork.attach`); over SharedArrayBuffers. */
export interface SharedModelArrays {
  readonly coords: Uint32Array;
  readonly slots: Uint32Array;
  readonly degree: Uint8Array;
  readonly busy: Uint16Array;
  readonly joinOrder: Uint32Array;
}

/** A named array of the model's state (`stateArrays`), saved and restored byte for byte. */
export interface StateArray {
  readonly name: string;
  readonly array: Uint8Array | Uint16Array | Uint32Array;
}

export class ScaleNetwork implements PeerView {
  readonly coords: Uint32Array;
  readonly slots: Uint32Array;
  readonly slotStride: number;
  readonly degree: Uint8Array;
  readonly busy: Uint16Array;
  /** Peers with a point (indices 0..count−1); `prepare` numbers them in space-filling-curve order. */
  count = 0;
  /** Peers that have joined so far: `joinOrder[0..joined)`. */
  joined = 0;
  /** The order in which prepared peers join (a random order of their numbers). */
  joinOrder: Uint32Array = new Uint32Array(0);
  /** Links are made and dropped at both ends. */
  readonly undirected = true;
  /** Alive bit per peer, allocated by `enableChurn`; null means all alive. */
  alive: Uint8Array | null = null;
  readonly counters: JoinCounters = {
    registers: 0,
    registerHops: 0,
    registerFailures: 0,
    evictions: 0,
    deficitDropped: 0,
    longLinksMade: 0,
    gapFills: 0,
  };

  /** Visit marks for routing and upkeep (allocated on first use: a build helper never needs them). */
  private mark: Uint32Array | null = null;
  private epoch = 0;
  /** Peers a REGISTER walk has tried, one bit each (cleared after every walk through `walkList`). */
  private readonly visited: Uint32Array;
  private readonly walkList = new Uint32Array(routeHopsMax + 1);
  private walked = 0;
  private readonly deficit = new Uint32Array(deficitQueueMax);
  private deficitHead = 0;
  private deficitLength = 0;
  private readonly target = new Uint32Array(dimensions);
  private readonly sectorScratch = new Uint8Array(sectorCount);
  private readonly slotSector: Uint8Array;
  private readonly direction = new Float64Array(dimensions);
  /** While a join is planned (`planJoin`): where its links go, else null. */
  private plan: Uint32Array | null = null;
  private planOffset = 0;
  private planLength = 0;
  /** Batched joins: per peer, the batch (`batchMark`) in which its row last changed; null otherwise. */
  private touched: Uint16Array | null = null;
  private batchMark = 0;
  /** A far end's row with the planned link added (`foreseeEvictions`). */
  private readonly rowScratch: Uint32Array;
  /** Peers whose degree or row a join's foreseen links change, and the degree change (`foreseeEvictions`). */
  private readonly changedPeers: Uint32Array;
  private readonly changedDelta: Int32Array;

  /**
   * `arrays`: 'shared' allocates the state over SharedArrayBuffers (for build helpers, `attach`);
   * otherwise the arrays of another network to work on (a helper's view of the parent's).
   */
  constructor(
    readonly capacity: number,
    readonly params: JoinParams,
    private rng: FastRng,
    arrays?: 'shared' | SharedModelArrays,
  ) {
    this.slotStride = slotStrideFor(params.neighbors);
    if (params.softMax + 1 > this.slotStride) throw new RangeError('softMax + 1 must fit the slot stride');
    this.shared = arrays !== undefined;
    if (typeof arrays === 'object') {
      this.coords = arrays.coords;
      this.slots = arrays.slots;
      this.degree = arrays.degree;
      this.busy = arrays.busy;
      this.joinOrder = arrays.joinOrder;
    } else {
      this.coords = new Uint32Array(this.buffer(capacity * dimensions * 4));
      this.slots = new Uint32Array(this.buffer(capacity * this.slotStride * 4));
      this.degree = new Uint8Array(this.buffer(capacity));
      this.busy = new Uint16Array(this.buffer(capacity * 2));
    }
    this.visited = new Uint32Array(Math.ceil(capacity / 32));
    this.slotSector = new Uint8Array(this.slotStride);
    this.rowScratch = new Uint32Array(this.slotStride);
    // Two changes at most per planned link (its far end and the neighbour that end drops).
    this.changedPeers = new Uint32Array(2 * this.slotStride + 2);
    this.changedDelta = new Int32Array(2 * this.slotStride + 2);
  }

  /** The state lives in SharedArrayBuffers (see the constructor). */
  readonly shared: boolean;

  private buffer(bytes: number): ArrayBuffer | SharedArrayBuffer {
    return this.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  }

  /** The arrays a helper thread attaches to (only for a network made with `'shared'`). */
  sharedArrays(): SharedModelArrays {
    if (!this.shared) throw new Error('this network is not in shared memory');
    return {
      coords: this.coords,
      slots: this.slots,
      degree: this.degree,
      busy: this.busy,
      joinOrder: this.joinOrder,
    };
  }

  /** A helper's view: the joins so far and the peers prepared (`attach`ed networks only). */
  follow(count: number, joined: number): void {
    this.count = count;
    this.joined = joined;
  }

  /** A fresh visit epoch for `mark` (cleared on wrap-around). */
  nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.marks.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** The shared visit marks (routing uses them with `nextEpoch`). */
  get marks(): Uint32Array {
    this.mark ??= new Uint32Array(this.capacity);
    return this.mark;
  }

  isAlive(p: number): boolean {
    return this.alive === null || this.alive[p] === 1;
  }

  /**
   * Draws `n` uniformly random points (a regID's hash is uniform) for the peers that will join, in
   * join order, and numbers the peers along a Z-order curve of their points. The join process is
   * unchanged — peers join in the order drawn — but neighbours get nearby numbers, so the walks'
   * memory accesses stay in cache (3–4× faster at 1e6 peers). Call once, before any join.
   */
  prepare(n: number): void {
    if (this.count !== 0 || n > this.capacity)
      throw new RangeError(`prepare(${n}) on capacity ${this.capacity}`);
    // Two passes over the same draws (the generator is rewound) so no second copy of the points is held.
    const keys = new Uint32Array(n);
    const start = this.rng.save();
    for (let i = 0; i < n; i++) {
      let key = 0;
      for (let k = 0; k < dimensions; k++) {
        const c = this.rng.uint32();
        // Interleave the top 4 bits of each axis: bit b of axis k goes to key bit (3 − b)·8 + (7 − k).
        for (let b = 0; b < 4; b++) key |= ((c >>> (31 - b)) & 1) << ((3 - b) * 8 + (7 - k));
      }
      keys[i] = key >>> 0;
    }
    const order = radixSortIndices(keys);
    // order[rank] = draw index; the peer numbered `rank` has the point drawn `order[rank]`-th.
    this.joinOrder = new Uint32Array(this.buffer(n * 4));
    for (let rank = 0; rank < n; rank++) this.joinOrder[order[rank]!] = rank;
    this.rng.restore(start);
    for (let i = 0; i < n; i++) {
      const off = this.joinOrder[i]! * dimensions;
      for (let k = 0; k < dimensions; k++) this.coords[off + k] = this.rng.uint32();
    }
    this.count = n;
  }

  /** The scalars of the state (see `ModelState`); take them between steps, never inside one. */
  saveState(): ModelState {
    return {
      count: this.count,
      joined: this.joined,
      epoch: this.epoch,
      deficitHead: this.deficitHead,
      deficitLength: this.deficitLength,
      counters: { ...this.counters },
      rng: this.rng.save(),
    };
  }

  /**
   * The arrays of the state, each cut to the prepared peers. After `restoreState` they are the views to
   * fill (the join order is allocated there).
   */
  stateArrays(): StateArray[] {
    const n = this.count;
    return [
      { name: 'coords', array: this.coords.subarray(0, n * dimensions) },
      { name: 'slots', array: this.slots.subarray(0, n * this.slotStride) },
      { name: 'degree', array: this.degree.subarray(0, n) },
      { name: 'busy', array: this.busy.subarray(0, n) },
      { name: 'joinOrder', array: this.joinOrder },
      { name: 'deficit', array: this.deficit },
    ];
  }

  /**
   * Takes the scalars of a saved state into a fresh network (before any `prepare`); the caller then
   * fills `stateArrays()` and calls `checkRestored`. Throws a RangeError when they do not fit.
   */
  restoreState(s: ModelState): void {
    if (this.count !== 0 || this.joined !== 0) throw new RangeError('restoreState on a network in use');
    const whole = (x: number, max: number): boolean => Number.isInteger(x) && x >= 0 && x <= max;
    if (!whole(s.count, this.capacity) || !whole(s.joined, s.count)) {
      throw new RangeError(`a state of ${s.count} peers (${s.joined} joined) does not fit ${this.capacity}`);
    }
    if (
      !whole(s.epoch, 0xffff_ffff) ||
      !whole(s.deficitHead, deficitQueueMax - 1) ||
      !whole(s.deficitLength, deficitQueueMax)
    ) {
      throw new RangeError('the saved visit epoch or deficit queue is out of range');
    }
    if (
      s.rng.length !== 4 ||
      !s.rng.every((w) => Number.isInteger(w) && Math.abs(w) <= 0xffff_ffff) ||
      s.rng.every((w) => w === 0)
    ) {
      throw new RangeError('the saved generator state is not four 32-bit words, not all zero');
    }
    for (const key of Object.keys(this.counters) as (keyof JoinCounters)[]) {
      const v = s.counters[key];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw new RangeError(`the saved counter ${key} is not a count`);
      this.counters[key] = v;
    }
    this.count = s.count;
    this.joined = s.joined;
    this.epoch = s.epoch;
    this.deficitHead = s.deficitHead;
    this.deficitLength = s.deficitLength;
    this.joinOrder = new Uint32Array(this.buffer(s.count * 4));
    this.rng.restore(s.rng);
  }

  /**
   * After filling `stateArrays()`: checks what the build relies on (degrees at most the soft maximum,
   * neighbours and queued peers among the prepared ones, the join order a permutation), so a damaged
   * state is refused instead of steering the build out of its arrays. Returns a reason or null.
   */
  checkRestored(): string | null {
    const n = this.count;
    const stride = this.slotStride;
    // Between two steps no peer holds more than the soft maximum (a link above it evicts at once).
    const degreeMax = this.params.softMax;
    const seen = new Uint32Array(Math.ceil(n / 32));
    for (let i = 0; i < n; i++) {
      const p = this.joinOrder[i]!;
      if (p >= n || ((seen[p >>> 5]! >>> (p & 31)) & 1) !== 0) return 'the join order is not a permutation';
      seen[p >>> 5] = seen[p >>> 5]! | (1 << (p & 31));
    }
    for (let p = 0; p < n; p++) {
      const deg = this.degree[p]!;
      if (deg > degreeMax) return `peer ${p} has ${deg} neighbours, more than the soft maximum ${degreeMax}`;
      const base = p * stride;
      for (let j = 0; j < deg; j++) {
        if ((this.slots[base + j]! & slotPeerMask) >= n)
          return `peer ${p} links to a peer that does not exist`;
      }
      if (this.busy[p]! >>> sectorCount !== 0)
        return `peer ${p} has a busy mask beyond ${sectorCount} sectors`;
    }
    for (let k = 0; k < this.deficitLength; k++) {
      if (this.deficit[(this.deficitHead + k) % deficitQueueMax]! >= n)
        return 'the deficit queue holds an unknown peer';
    }
    return null;
  }

  /** Joins the next prepared peer; returns its number. */
  joinNext(): number {
    if (this.joined >= this.count) throw new RangeError('every prepared peer has joined');
    const p = this.joinOrder[this.joined++]!;
    this.join(p);
    return p;
  }

  /** A uniformly random alive joined peer other than `except`, or −1. */
  randomPeer(except: number): number {
    if (this.joined <= 1) return -1;
    for (let tries = 0; tries < 64; tries++) {
      const p = this.joinOrder[this.rng.int(this.joined)]!;
      if (p !== except && this.isAlive(p)) return p;
    }
    return -1;
  }

  /**
   * Links a and b (both ends), then applies eviction above the soft maximum at both ends. While a join
   * is planned, a is the newcomer and the link is planned instead (`linkPlanned`).
   */
  link(a: number, b: number, long: boolean): void {
    if (long) this.counters.longLinksMade++;
    if (this.plan !== null) this.linkPlanned(a, b, long);
    else this.connect(a, b, long);
  }

  private connect(a: number, b: number, long: boolean): void {
    this.addLink(a, b, long);
    this.evictAbove(a, this.params.softMax);
    this.evictAbove(b, this.params.softMax);
  }

  /** The link a–b at both ends and in both busy masks, nothing else. */
  private addLink(a: number, b: number, long: boolean): void {
    const flag = long ? longLinkFlag : 0;
    const sa = a * this.slotStride + this.degree[a]!;
    const sb = b * this.slotStride + this.degree[b]!;
    this.slots[sa] = b | flag;
    this.slots[sb] = a | flag;
    this.degree[a] = this.degree[a]! + 1;
    this.degree[b] = this.degree[b]! + 1;
    const pair = sectorPair(this.coords, a * dimensions, this.coords, b * dimensions);
    this.busy[a] = this.busy[a]! | (1 << (pair & 15));
    this.busy[b] = this.busy[b]! | (1 << (pair >>> 4));
    if (this.touched !== null) {
      this.touched[a] = this.batchMark;
      this.touched[b] = this.batchMark;
    }
  }

  /**
   * A planned link of the newcomer p to `other`: only p's row changes (no other thread or plan reads it
   * before the batch is applied) and the link joins the plan. Above the soft maximum p drops its worst
   * link from both, as `connect` would; what `other` would evict is decided when the plan is applied.
   */
  private linkPlanned(p: number, other: number, long: boolean): void {
    const plan = this.plan!;
    const flag = long ? longLinkFlag : 0;
    this.slots[p * this.slotStride + this.degree[p]!] = other | flag;
    this.degree[p] = this.degree[p]! + 1;
    this.busy[p] =
      this.busy[p]! | (1 << (sectorPair(this.coords, p * dimensions, this.coords, other * dimensions) & 15));
    plan[this.planOffset + this.planLength++] = other | flag;
    while (this.degree[p]! > this.params.softMax) {
      const j = this.victimOf(p);
      if (j < 0) return;
      const gone = this.slots[p * this.slotStride + j]! & slotPeerMask;
      const maskAfter = this.maskWithout(this.degree[p]!, j);
      this.removeSlot(p, gone);
      this.busy[p] = maskAfter;
      this.counters.evictions++;
      // Out of the plan too, keeping the order of the rest.
      let w = this.planOffset;
      for (let k = this.planOffset; k < this.planOffset + this.planLength; k++) {
        if ((plan[k]! & slotPeerMask) !== gone) plan[w++] = plan[k]!;
      }
      this.planLength = w - this.planOffset;
    }
  }

  /**
   * The slot `self` drops for `cause` (or −1), as the engine's upkeep chooses (`spareAboveDegreeFor`);
   * leaves each slot's sector in `slotSector`.
   */
  private victimOf(self: number, cause: EvictionCause = 'aboveMaximum'): number {
    const policy = this.params.policy;
    return evictionVictim(
      this,
      self,
      policy.sectorBonus,
      policy.occlusionWeight,
      this.sectorScratch,
      this.slotSector,
      spareAboveDegreeFor(cause, policy, this.params.minNeighbors),
      this.params.spareEvictionMargin,
    );
  }

  /** Drops `self`'s worst local links while its degree exceeds `limit`. */
  evictAbove(self: number, limit: number): void {
    while (this.degree[self]! > limit) {
      const j = this.victimOf(self);
      if (j < 0) return;
      this.dropSlot(self, j, this.maskWithout(this.degree[self]!, j));
    }
  }

  /** The busy mask of `deg` slots without slot j, from the sectors `evictionVictim` left in `slotSector`. */
  private maskWithout(deg: number, j: number): number {
    let mask = 0;
    for (let k = 0; k < deg; k++) if (k !== j) mask |= 1 << this.slotSector[k]!;
    return mask;
  }

  /** Drops the link in slot j of `self` (an eviction), leaving `self` the busy mask `maskAfter`. */
  private dropSlot(self: number, j: number, maskAfter: number): void {
    const other = this.slots[self * this.slotStride + j]! & slotPeerMask;
    this.removeSlot(self, other);
    this.removeSlot(other, self);
    this.busy[self] = maskAfter;
    this.busy[other] = this.busyWithout(
      other,
      sectorTowardsFast(this.coords, other * dimensions, this.coords, self * dimensions),
    );
    this.counters.evictions++;
    if (this.degree[other]! < this.params.minNeighbors) this.queueDeficit(other);
  }

  /** Removes the link a–b at both ends and updates both busy masks. */
  unlink(a: number, b: number): void {
    const pair = sectorPair(this.coords, a * dimensions, this.coords, b * dimensions);
    this.removeSlot(a, b);
    this.removeSlot(b, a);
    this.busy[a] = this.busyWithout(a, pair & 15);
    this.busy[b] = this.busyWithout(b, pair >>> 4);
  }

  /**
   * `computeBusyMask` of p after it lost a link in `sector`, from its mask before (`busy` always holds
   * the union of the current neighbours' sectors): the bit stays while another neighbour lies in that
   * sector, so the scan stops at the first one found.
   */
  private busyWithout(p: number, sector: number): number {
    const base = p * this.slotStride;
    const deg = this.degree[p]!;
    const off = p * dimensions;
    for (let j = 0; j < deg; j++) {
      const n = this.slots[base + j]! & slotPeerMask;
      if (sectorTowardsFast(this.coords, off, this.coords, n * dimensions) === sector) return this.busy[p]!;
    }
    return this.busy[p]! & ~(1 << sector);
  }

  private removeSlot(self: number, other: number): void {
    if (this.touched !== null) this.touched[self] = this.batchMark;
    const base = self * this.slotStride;
    const last = this.degree[self]! - 1;
    for (let j = 0; j <= last; j++) {
      if ((this.slots[base + j]! & slotPeerMask) === other) {
        this.slots[base + j] = this.slots[base + last]!;
        this.slots[base + last] = 0;
        this.degree[self] = last;
        return;
      }
    }
  }

  private queueDeficit(p: number): void {
    if (this.deficitLength >= deficitQueueMax) {
      this.counters.deficitDropped++;
      return;
    }
    this.deficit[(this.deficitHead + this.deficitLength) % deficitQueueMax] = p;
    this.deficitLength++;
  }

  /**
   * Routes one REGISTER from `requester` (whose own point or a steered point is in `target`),
   * starting at `start` with `randomHops` random hops. Returns the accepting peer or −1.
   */
  register(
    requester: number,
    start: number,
    randomHops: number,
    target: Uint32Array,
    bonus: number,
    requesterBusy = this.busy[requester]!,
  ): number {
    this.counters.registers++;
    const acc = this.walk(requester, start, randomHops, target, bonus, requesterBusy);
    // Clear the walk's visit bits (the walk lists the peers it marked).
    for (let i = 0; i < this.walked; i++) {
      const p = this.walkList[i]!;
      this.visited[p >>> 5] = 0;
    }
    this.walked = 0;
    return acc;
  }

  private walk(
    requester: number,
    start: number,
    randomHops: number,
    target: Uint32Array,
    bonus: number,
    requesterBusy: number,
  ): number {
    const visited = this.visited;
    const stride = this.slotStride;
    let cur = start;
    let hops = 0;
    // A planned newcomer's links are in its own row only: whether a peer is linked to it is read there.
    const planning = this.plan !== null;
    for (let r = 0; r < randomHops; r++) {
      const deg = this.degree[cur]!;
      // Choose among the neighbours and the current peer itself; choosing itself ends the random phase. A
      // planned newcomer counts among the neighbours of the peers it is linked to, as it will be.
      const newcomer = planning && isLinked(this, requester, cur) ? 1 : 0;
      const pick = this.rng.int(deg + 1 + newcomer);
      if (pick >= deg) break;
      const n = this.slots[cur * stride + pick]! & slotPeerMask;
      if (n === requester || !this.isAlive(n)) break;
      cur = n;
      hops++;
    }
    const slotsMax = this.params.softMax + 1;
    for (;;) {
      if (hops >= routeHopsMax) {
        this.counters.registerHops += hops;
        if (cur !== requester && !isLinked(this, requester, cur) && this.degree[cur]! < slotsMax) return cur;
        this.counters.registerFailures++;
        return -1;
      }
      const step = registerStepVisited(
        this,
        cur,
        requester,
        target,
        0,
        requesterBusy,
        bonus,
        visited,
        planning && isLinked(this, requester, cur) ? 0 : slotsMax,
      );
      if (step === registerAcceptHere) {
        this.counters.registerHops += hops;
        return cur;
      }
      if (step < 0) {
        this.counters.registerHops += hops;
        this.counters.registerFailures++;
        return -1;
      }
      visited[cur >>> 5] = visited[cur >>> 5]! | (1 << (cur & 31));
      this.walkList[this.walked++] = cur;
      cur = step;
      hops++;
    }
  }

  private ownPoint(p: number): Uint32Array {
    const off = p * dimensions;
    for (let i = 0; i < dimensions; i++) this.target[i] = this.coords[off + i]!;
    return this.target;
  }

  /** Point at normalised `radius` from peer p along the unit vector in `this.direction`. */
  private steeredPoint(p: number, radius: number): Uint32Array {
    const off = p * dimensions;
    for (let i = 0; i < dimensions; i++) {
      const delta = Math.round(this.direction[i]! * radius * 0x1_0000_0000);
      this.target[i] = (this.coords[off + i]! + delta) >>> 0;
    }
    return this.target;
  }

  /** A random neighbour of p that is alive, or a random alive peer (an entry peer) if none. */
  private viaPeer(p: number): number {
    const deg = this.degree[p]!;
    if (deg > 0) {
      const n = this.slots[p * this.slotStride + this.rng.int(deg)]! & slotPeerMask;
      if (this.isAlive(n)) return n;
    }
    return this.randomPeer(p);
  }

  /** Brings peer p up to the minimum through REGISTERs via its neighbours. */
  fillToMinimum(p: number, attemptsMax: number): void {
    const params = this.params;
    const bonus = params.policy.sectorBonus;
    for (let attempt = 0; attempt < attemptsMax && this.degree[p]! < params.minNeighbors; attempt++) {
      const via = this.viaPeer(p);
      if (via < 0) return;
      const acc = this.register(p, via, this.rng.int(params.randomHopsMax + 1), this.ownPoint(p), bonus);
      if (acc >= 0) this.link(p, acc, false);
    }
  }

  /** The full join of peer p (numbered by `prepare`). */
  join(p: number): void {
    this.joinSteps(p);
    this.drainDeficit();
  }

  /** A join without the re-registrations it leaves queued. */
  private joinSteps(p: number): void {
    const params = this.params;
    const bonus = params.policy.sectorBonus;
    const entry = this.randomPeer(p);
    if (entry < 0) return;
    const first = this.register(p, entry, this.rng.int(params.randomHopsMax + 1), this.ownPoint(p), bonus);
    if (first >= 0) this.link(p, first, false);
    this.fillToMinimum(p, params.registerAttemptsMax);
    if (params.gapFill) this.fillGaps(p);
    for (let i = 0; i < params.longLinks; i++) this.makeLongLink(p);
  }

  /**
   * Plans the join of peer p, the way `join` does it, against the network as it is (the joins before p's
   * batch): its links go to `out[offset..)` (with `longLinkFlag` on long ones), and the count is returned.
   * Only p's own row is written, so the peers of one batch can be planned at once on several threads.
   * `rng` is p's own stream. `applyPlanned` then makes the links, in join order.
   */
  planJoin(p: number, rng: FastRng, out: Uint32Array, offset: number): number {
    const saved = this.rng;
    this.rng = rng;
    this.plan = out;
    this.planOffset = offset;
    this.planLength = 0;
    this.degree[p] = 0;
    this.busy[p] = 0;
    try {
      this.joinSteps(p);
      return this.planLength;
    } finally {
      this.plan = null;
      this.rng = saved;
    }
  }

  /**
   * Joins the next peer in join order along its plan (`planJoin`): its planned row is cleared, each link
   * is made at both ends with the evictions it causes, then queued re-registrations run, as after `join`.
   */
  applyPlanned(plan: Uint32Array, offset: number, length: number, foreseen?: ForeseenEvictions): number {
    const p = this.joinOrder[this.joined++]!;
    const base = p * this.slotStride;
    this.slots.fill(0, base, base + this.slotStride);
    this.degree[p] = 0;
    this.busy[p] = 0;
    for (let k = 0; k < length; k++) {
      const e = plan[offset + k]!;
      this.connectForeseen(p, e & slotPeerMask, e >= longLinkFlag, foreseen, offset + k);
    }
    this.drainDeficit();
    return p;
  }

  /**
   * `connect(p, other, long)` with the far end's eviction as foreseen at `foreseen[i]` when that still
   * holds: the far end's row is as the batch found it and every member's spare status (the one input of
   * the choice that other steps may change) is as foreseen. Otherwise the far end chooses now.
   */
  private connectForeseen(
    p: number,
    other: number,
    long: boolean,
    foreseen: ForeseenEvictions | undefined,
    i: number,
  ): void {
    const softMax = this.params.softMax;
    const untouched = foreseen !== undefined && this.touched![other] !== this.batchMark;
    this.addLink(p, other, long);
    this.evictAbove(p, softMax);
    if (this.degree[other]! <= softMax) return;
    if (untouched && foreseen.victims[i] !== victimUnknown && this.spareBits(other) === foreseen.spares[i]) {
      const j = foreseen.victims[i]!;
      if (j >= 0) this.dropSlot(other, j, foreseen.masks[i]!);
      this.foreseenHits++;
    } else {
      this.evictAbove(other, softMax);
    }
  }

  /** Evictions taken from `foreseeEvictions` (a measurement of the batched build, not part of the state). */
  foreseenHits = 0;

  /** Starts a batch of joins: rows changed from now on count as touched (`applyPlanned`). */
  beginBatch(): void {
    this.touched ??= new Uint16Array(this.capacity);
    this.batchMark = this.batchMark === 0xffff ? 1 : this.batchMark + 1;
    if (this.batchMark === 1) this.touched.fill(0);
  }

  /**
   * Bit j: the peer in slot j of `self` is spare for eviction (its degree is above the minimum); 0 without
   * spare-aware eviction. For a row foreseen rather than current: `degreeOf` gives the members' degrees
   * as they will be, and a newcomer of degree `newcomerDegree` ≥ 0 takes the slot after the last.
   */
  private spareBits(self: number, newcomerDegree = -1, degreeOf?: (q: number) => number): number {
    if (!this.params.policy.spareAwareEviction) return 0;
    const min = this.params.minNeighbors;
    const base = self * this.slotStride;
    const deg = this.degree[self]!;
    let bits = 0;
    for (let j = 0; j < deg; j++) {
      const q = this.slots[base + j]! & slotPeerMask;
      if ((degreeOf === undefined ? this.degree[q]! : degreeOf(q)) > min) bits |= 1 << j;
    }
    if (newcomerDegree > min) bits |= 1 << deg;
    return bits;
  }

  /**
   * What `other` evicts when p links to it (its row with p added, the members in `spares` spare), into
   * `out[i]`; returns the slot (`deg` is p's) or −1. Reads only.
   */
  private foreseeOne(
    p: number,
    other: number,
    long: boolean,
    spares: number,
    out: ForeseenEvictions,
    i: number,
  ): number {
    const policy = this.params.policy;
    const deg = this.degree[other]!;
    const row = this.rowScratch;
    const base = other * this.slotStride;
    for (let j = 0; j < deg; j++) row[j] = this.slots[base + j]!;
    // As `addLink` would write it: p at the end, with the link's long flag.
    row[deg] = p | (long ? longLinkFlag : 0);
    const j = evictionVictimOfRow(
      this,
      other,
      row,
      0,
      deg + 1,
      policy.sectorBonus,
      policy.occlusionWeight,
      this.sectorScratch,
      this.slotSector,
      spareAboveDegreeFor('aboveMaximum', policy, this.params.minNeighbors),
      this.params.spareEvictionMargin,
      policy.spareAwareEviction ? spares : -1,
    );
    out.victims[i] = j;
    out.spares[i] = spares;
    if (j >= 0) out.masks[i] = this.maskWithout(deg + 1, j);
    return j;
  }

  /**
   * After `planJoin(p)` on a planning thread: for each planned link, what its far end would evict when the
   * link is made (`evictAbove` of its row with p added), so `applyPlanned` need not choose again while
   * nothing the choice depends on has changed. The choice depends on the far end's row and on which of its
   * members are spare (degree above the minimum); the degrees are taken as they will be when the link is
   * made, after the join's earlier links and the evictions foreseen for them (a far end whose row one of
   * those changed is left to choose then). Reads the network only; p's row and degree are its own.
   */
  foreseeEvictions(
    p: number,
    plan: Uint32Array,
    offset: number,
    length: number,
    out: ForeseenEvictions,
  ): void {
    const stride = this.slotStride;
    const softMax = this.params.softMax;
    // Degree changes and changed rows foreseen so far in this join (a few peers: searched linearly).
    const changed = this.changedPeers;
    const delta = this.changedDelta;
    let changes = 0;
    const find = (q: number): number => {
      for (let c = 0; c < changes; c++) if (changed[c] === q) return c;
      return -1;
    };
    const note = (q: number, d: number): void => {
      const c = find(q);
      if (c >= 0) delta[c] = delta[c]! + d;
      else {
        changed[changes] = q;
        delta[changes++] = d;
      }
    };
    const degreeOf = (q: number): number => {
      const c = find(q);
      return this.degree[q]! + (c >= 0 ? delta[c]! : 0);
    };
    // p's links so far, less those its far ends will have dropped.
    let own = 0;
    for (let k = 0; k < length; k++) {
      const i = offset + k;
      const e = plan[i]!;
      const other = e & slotPeerMask;
      const deg = this.degree[other]!;
      own++;
      out.spares[i] = 0;
      out.victims[i] = victimUnknown;
      // A row an earlier link of this join changes, or more slots than spare bits: chosen when applied.
      if (find(other) >= 0 || stride > 31) {
        note(other, 1);
        continue;
      }
      if (deg + 1 <= softMax) {
        note(other, 1);
        continue;
      }
      const spares = this.spareBits(other, own, degreeOf);
      const j = this.foreseeOne(p, other, e >= longLinkFlag, spares, out, i);
      if (j < 0) {
        note(other, 1);
        continue;
      }
      // The far end keeps its degree; the dropped neighbour loses a link and its row changes.
      note(other, 0);
      const gone = j === deg ? p : this.slots[other * stride + j]! & slotPeerMask;
      if (gone === p) own--;
      else note(gone, -1);
    }
  }

  /** Gap filling: a steered REGISTER into each empty sector of p. */
  fillGaps(p: number): void {
    const radius = typicalNeighbourDistance(Math.max(this.joined, 2), this.params.neighbors);
    for (let s = 0; s < sectorCount; s++) {
      if (((this.busy[p]! >>> s) & 1) !== 0) continue;
      for (let i = 0; i < dimensions; i++) this.direction[i] = simplexVertices[s * dimensions + i]!;
      const acc = this.register(p, p, 0, this.steeredPoint(p, radius), this.params.policy.sectorBonus);
      if (acc >= 0 && acc !== p && !isLinked(this, p, acc) && this.degree[acc]! <= this.params.softMax) {
        this.link(p, acc, false);
        this.counters.gapFills++;
      }
    }
  }

  /** One long link from p to the peer nearest a point at a log-uniform distance in a random direction. */
  makeLongLink(p: number): void {
    const rMin = typicalNeighbourDistance(Math.max(this.joined, 2), this.params.neighbors);
    const rMax = 0.5;
    if (rMin >= rMax) return;
    const radius = rMin * (rMax / rMin) ** this.rng.float();
    let norm = 0;
    for (let i = 0; i < dimensions; i++) {
      const g = this.rng.normal();
      this.direction[i] = g;
      norm += g * g;
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dimensions; i++) this.direction[i] = this.direction[i]! / norm;
    const acc = this.register(p, p, 0, this.steeredPoint(p, radius), 0);
    if (acc < 0 || acc === p || isLinked(this, p, acc)) return;
    if (
      longLinkCount(this, acc) >= this.params.longLinksMax ||
      longLinkCount(this, p) >= this.params.longLinksMax
    ) {
      return;
    }
    if (this.degree[acc]! > this.params.softMax) return;
    this.link(p, acc, true);
  }

  /** Re-registers peers left below the minimum by evictions (bounded per call). */
  drainDeficit(): void {
    for (let step = 0; step < deficitStepsMax && this.deficitLength > 0; step++) {
      const q = this.deficit[this.deficitHead]!;
      this.deficitHead = (this.deficitHead + 1) % deficitQueueMax;
      this.deficitLength--;
      if (!this.isAlive(q) || this.degree[q]! >= this.params.minNeighbors) continue;
      this.fillToMinimum(q, 2);
    }
  }

  /**
   * One upkeep round over every alive peer: the best not-yet-linked peer among its neighbours'
   * neighbours (by prospective link value) replaces its worst local link if it is better. `start` is
   * the peer to begin at (a round resumed from a checkpoint).
   */
  refine(onProgress?: (done: number) => boolean, start = 0): void {
    const stride = this.slotStride;
    const bonus = this.params.policy.sectorBonus;
    const coords = this.coords;
    for (let p = start; p < this.count; p++) {
      if (onProgress !== undefined && p % upkeepTickEvery === 0 && !onProgress(p)) return;
      if (!this.isAlive(p)) continue;
      const epoch = this.nextEpoch();
      const mark = this.marks;
      mark[p] = epoch;
      const base = p * stride;
      const deg = this.degree[p]!;
      for (let j = 0; j < deg; j++) mark[this.slots[base + j]! & slotPeerMask] = epoch;
      let best = -1;
      let bestD = Number.POSITIVE_INFINITY;
      for (let j = 0; j < deg; j++) {
        const n = this.slots[base + j]! & slotPeerMask;
        const nb = n * stride;
        const nd = this.degree[n]!;
        for (let k = 0; k < nd; k++) {
          const m = this.slots[nb + k]! & slotPeerMask;
          if (mark[m] === epoch) continue;
          mark[m] = epoch;
          const d = peerDistanceSquared(coords, p, m);
          if (d < bestD) {
            bestD = d;
            best = m;
          }
        }
      }
      if (best < 0 || !this.isAlive(best) || this.degree[best]! > this.params.softMax) continue;
      // The victim by distance alone (weight 0): the trade below compares distances, and an
      // occlusion-aware victim's value is not comparable with a prospective link's.
      const victim = evictionVictim(this, p, bonus, 0, this.sectorScratch, this.slotSector);
      if (victim < 0) continue;
      const worst = this.slots[base + victim]! & slotPeerMask;
      const worstValue = -Math.sqrt(peerDistanceSquared(coords, p, worst));
      const offP = p * dimensions;
      const candidateValue = prospectiveValue(this, best, coords, offP, this.busy[p]!, bonus);
      if (candidateValue <= worstValue) continue;
      this.link(p, best, false);
      this.evictAbove(p, this.params.neighbors);
      this.drainDeficit();
    }
  }

  /**
   * One recycling round, the engine's periodic upkeep (every 120 s at or above the minimum): each
   * joined peer, in join order, drops its worst local link and sends one REGISTER towards itself
   * through a random neighbour (random hops, then greedy); peers left below the minimum re-register.
   * Links made when the network was small get replaced by nearer ones. `start` is the join-order
   * position to begin at (a round resumed from a checkpoint).
   */
  recycle(onProgress?: (done: number) => boolean, start = 0): void {
    const bonus = this.params.policy.sectorBonus;
    for (let i = start; i < this.joined; i++) {
      if (onProgress !== undefined && i % upkeepTickEvery === 0 && !onProgress(i)) return;
      const p = this.joinOrder[i]!;
      if (!this.isAlive(p) || this.degree[p]! < this.params.minNeighbors) continue;
      const j = this.recycleVictim(p);
      if (j < 0) continue;
      const worst = this.slots[p * this.slotStride + j]! & slotPeerMask;
      this.unlink(p, worst);
      if (this.degree[worst]! < this.params.minNeighbors) this.queueDeficit(worst);
      const via = this.viaPeer(p);
      if (via >= 0) {
        const acc = this.register(
          p,
          via,
          this.rng.int(this.params.randomHopsMax + 1),
          this.ownPoint(p),
          bonus,
        );
        if (acc >= 0) this.link(p, acc, false);
      }
      if (this.degree[p]! < this.params.minNeighbors) this.fillToMinimum(p, 2);
      this.drainDeficit();
    }
  }

  /** The slot p drops in a recycling step (`spareAboveDegreeFor`: its worst link, spare or not). */
  private recycleVictim(p: number): number {
    return this.victimOf(p, 'recycling');
  }

  /**
   * Plans peer p's step of a recycling round (`recycle`) against the network as it is, reading only: the
   * link it drops (`out[offset]`) and the peer its REGISTER reaches (`out[offset + 1]`), each `noPeer`
   * when there is none. The walk starts where `recycle` would start it after the drop, with p's busy mask
   * after the drop; the dropped neighbour still counts as linked (it cannot accept again). `rng` is the
   * step's own stream. `applyRecycle` carries the plan out.
   */
  planRecycle(p: number, rng: FastRng, out: Uint32Array, offset: number, foreseen: ForeseenEvictions): void {
    out[offset] = noPeer;
    out[offset + 1] = noPeer;
    foreseen.victims[offset] = victimUnknown;
    if (!this.isAlive(p) || this.degree[p]! < this.params.minNeighbors) return;
    const bonus = this.params.policy.sectorBonus;
    const j = this.recycleVictim(p);
    if (j < 0) return;
    const deg = this.degree[p]!;
    const base = p * this.slotStride;
    out[offset] = this.slots[base + j]! & slotPeerMask;
    const busyAfter = this.maskWithout(deg, j);
    const saved = this.rng;
    this.rng = rng;
    try {
      // `viaPeer` after the drop: slot j then holds what was the last slot.
      let via = -1;
      if (deg > 1) {
        const k = rng.int(deg - 1);
        const n = this.slots[base + (k === j ? deg - 1 : k)]! & slotPeerMask;
        if (this.isAlive(n)) via = n;
      }
      if (via < 0) via = this.randomPeer(p);
      if (via < 0) return;
      const hops = rng.int(this.params.randomHopsMax + 1);
      const acc = this.register(p, via, hops, this.ownPoint(p), bonus, busyAfter);
      if (acc < 0) return;
      out[offset + 1] = acc;
      // The far end's eviction, with p's degree as it will be (one link dropped, one made) and the dropped
      // neighbour's one less.
      const accDeg = this.degree[acc]!;
      if (accDeg + 1 <= this.params.softMax || this.slotStride > 31) return;
      const worst = out[offset]!;
      const spares = this.spareBits(acc, deg, (q) => this.degree[q]! - (q === worst ? 1 : 0));
      this.foreseeOne(p, acc, false, spares, foreseen, offset);
    } finally {
      this.rng = saved;
    }
  }

  /**
   * Peer p's recycling step along its plan (`planRecycle`), at its turn in the round: drops the planned
   * link if p still holds it and is at or above the minimum, links the peer the REGISTER reached if they
   * are not linked by now, registers again below the minimum and runs the queued re-registrations.
   */
  applyRecycle(p: number, plan: Uint32Array, offset: number, foreseen?: ForeseenEvictions): void {
    const worst = plan[offset]!;
    if (worst === noPeer) return;
    const min = this.params.minNeighbors;
    if (this.degree[p]! >= min && isLinked(this, p, worst)) {
      this.unlink(p, worst);
      if (this.degree[worst]! < min) this.queueDeficit(worst);
    }
    const acc = plan[offset + 1]!;
    if (acc !== noPeer && acc !== p && this.isAlive(acc) && !isLinked(this, p, acc))
      this.connectForeseen(p, acc, false, foreseen, offset);
    if (this.degree[p]! < min) this.fillToMinimum(p, 2);
    this.drainDeficit();
  }

  /** Marks a share of peers dead and removes their links (no repair). Returns the dead count. */
  removePeers(share: number): number {
    if (this.alive === null) {
      this.alive = new Uint8Array(this.capacity);
      this.alive.fill(1, 0, this.count);
    }
    const dead = Math.floor(this.count * share);
    let removed = 0;
    for (let tries = 0; removed < dead && tries < 4 * dead + 64; tries++) {
      const p = this.rng.int(this.count);
      if (this.alive[p] === 0) continue;
      this.alive[p] = 0;
      removed++;
    }
    // Links to dead peers time out at their neighbours; the dead peers' own rows are cleared.
    for (let p = 0; p < this.count; p++) {
      if (this.alive[p] === 0) {
        this.degree[p] = 0;
        this.busy[p] = 0;
        continue;
      }
      const base = p * this.slotStride;
      let deg = this.degree[p]!;
      let changed = false;
      for (let j = 0; j < deg; ) {
        if (this.alive[this.slots[base + j]! & slotPeerMask] === 0) {
          deg--;
          this.slots[base + j] = this.slots[base + deg]!;
          this.slots[base + deg] = 0;
          changed = true;
        } else j++;
      }
      this.degree[p] = deg;
      if (changed) this.busy[p] = computeBusyMask(this, p);
    }
    return removed;
  }

  /** Repair after churn: every alive peer below the minimum registers again, then fills gaps. */
  repair(): void {
    for (let p = 0; p < this.count; p++) {
      if (!this.isAlive(p) || this.degree[p]! >= this.params.minNeighbors) continue;
      this.fillToMinimum(p, this.params.registerAttemptsMax);
      if (this.params.gapFill) this.fillGaps(p);
      this.drainDeficit();
    }
  }

  /** Removes every link of p (a peer leaving) and marks its neighbours for re-registration. */
  leave(p: number): void {
    while (this.degree[p]! > 0) {
      const other = this.slots[p * this.slotStride]! & slotPeerMask;
      this.unlink(p, other);
      if (this.degree[other]! < this.params.minNeighbors) this.queueDeficit(other);
    }
    this.drainDeficit();
  }

  /** Mean degree over alive peers. */
  meanDegree(): number {
    let sum = 0;
    let n = 0;
    for (let p = 0; p < this.count; p++) {
      if (!this.isAlive(p)) continue;
      sum += this.degree[p]!;
      n++;
    }
    return n > 0 ? sum / n : 0;
  }
}

/** Indices 0..n−1 sorted by `keys` (stable LSD radix sort, two 16-bit passes). */
export function radixSortIndices(keys: Uint32Array): Uint32Array {
  const n = keys.length;
  let src = new Uint32Array(n);
  let dst = new Uint32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  const counts = new Uint32Array(0x1_0000 + 1);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((keys[i]! >>> shift) & 0xffff) + 1]!++;
    for (let b = 0; b < 0x1_0000; b++) counts[b + 1]! += counts[b]!;
    for (let i = 0; i < n; i++) {
      const idx = src[i]!;
      const bucket = (keys[idx]! >>> shift) & 0xffff;
      dst[counts[bucket]!++] = idx;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}
