/**
 * Baseline topologies for side-by-side tables with the DRP 8-D network, on the same peer count and
 * the same seeded route sampler:
 *
 * - `knn`: each peer links to its k nearest peers in the 8-D torus (directed, state k), routed by
 *   plain greedy (no look-ahead, no fallback). The k nearest are found by NN-descent (local joins
 *   of neighbours' neighbours until fewer than 0.1 % of entries change); `knnRecall` measures the
 *   result against brute force on a sample.
 * - `can`: CAN with balanced zones — the torus cut into a grid of N cells whose 8 side lengths
 *   multiply to N (prime factors dealt out greedily); each zone knows its 2·8 face neighbours;
 *   greedy routing. Equal zones are CAN's best case; random splits only add hops.
 * - `kademlia`: 32-bit IDs, one contact per k-bucket (k = 1, the closest Kademlia gets to the DRP
 *   state budget: one entry per non-empty bucket, ≈ log2 N), the next hop is the contact closest to
 *   the target by XOR (the iterative lookup with α = 1), counted in hops.
 * - `chord`: 32-bit ring, fingers successor(id + 2^i); next hop is the closest preceding finger.
 *
 * Every baseline exposes its contacts as slot rows (for BFS stretch) and a router.
 */

import { type RoutingPolicy, slotPeerMask } from '../../src/drp/policy.js';
import { dimensions } from '../../src/id/geometry.js';
import type { FastRng } from './fast-rng.js';
import { type PeerRouter, type RoutableNetwork, Router } from './routes.js';

export interface BaselineNetwork extends RoutableNetwork {
  readonly name: string;
  readonly statePerPeer: number;
  readonly bytesPerPeer: number;
  /** 8-D coordinates when the topology is geometric (dead-end distances), else null. */
  readonly geometric: boolean;
  readonly router: PeerRouter;
  readonly routingPolicy: RoutingPolicy;
  readonly knnRecall?: number;
  meanDegree(): number;
}

/** Plain greedy routing, as the geometric baselines use it. */
export const plainGreedy: RoutingPolicy = {
  sectorBonus: 0,
  lookAhead: false,
  backtrack: false,
  lookAheadHopCost: 0,
  spareAwareEviction: false,
  occlusionWeight: 0,
};

/** NN-descent stops when fewer than this share of entries changed in a round. */
export const nnDescentConvergedShare = 0.001;
/** NN-descent rounds at most. */
export const nnDescentRoundsMax = 12;
/** Peers whose NN-descent lists are checked against brute force. */
export const knnRecallSamples = 32;

class Graph {
  readonly slots: Uint32Array;
  readonly degree: Uint8Array;
  readonly busy: Uint16Array;
  readonly marks: Uint32Array;
  private epoch = 0;
  constructor(
    readonly count: number,
    readonly slotStride: number,
    readonly coords: Uint32Array,
  ) {
    this.slots = new Uint32Array(count * slotStride);
    this.degree = new Uint8Array(count);
    this.busy = new Uint16Array(count);
    this.marks = new Uint32Array(count);
  }
  isAlive(_p: number): boolean {
    return true;
  }
  nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.marks.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }
  add(p: number, q: number): void {
    const base = p * this.slotStride;
    const deg = this.degree[p]!;
    for (let j = 0; j < deg; j++) if (this.slots[base + j] === q) return;
    if (deg >= this.slotStride) throw new RangeError(`slot row of peer ${p} full (${this.slotStride})`);
    this.slots[base + deg] = q;
    this.degree[p] = deg + 1;
  }
  meanDegree(): number {
    let sum = 0;
    for (let p = 0; p < this.count; p++) sum += this.degree[p]!;
    return this.count > 0 ? sum / this.count : 0;
  }
}

export function buildBaseline(
  topology: 'knn' | 'can' | 'kademlia' | 'chord',
  peers: number,
  neighbors: number,
  rng: FastRng,
  onProgress: (done: number) => boolean,
): BaselineNetwork {
  switch (topology) {
    case 'knn':
      return buildKnn(peers, neighbors, rng, onProgress);
    case 'can':
      return buildCan(peers);
    case 'kademlia':
      return buildKademlia(peers, rng);
    case 'chord':
      return buildChord(peers, rng);
  }
}

function randomCoords(peers: number, rng: FastRng): Uint32Array {
  const coords = new Uint32Array(peers * dimensions);
  for (let i = 0; i < coords.length; i++) coords[i] = rng.uint32();
  return coords;
}

function d2(coords: Uint32Array, a: number, b: number): number {
  const oa = a * dimensions;
  const ob = b * dimensions;
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    const d = ((coords[ob + i]! - coords[oa + i]!) | 0) * 2.3283064365386963e-10;
    sum += d * d;
  }
  return sum;
}

function buildKnn(
  peers: number,
  k: number,
  rng: FastRng,
  onProgress: (done: number) => boolean,
): BaselineNetwork {
  const coords = randomCoords(peers, rng);
  const kk = Math.min(k, peers - 1);
  const ids = new Uint32Array(peers * kk);
  const dist = new Float64Array(peers * kk);
  const fresh = new Uint8Array(peers * kk);
  // Random initial lists, sorted by distance.
  for (let p = 0; p < peers; p++) {
    const base = p * kk;
    let n = 0;
    while (n < kk) {
      const q = rng.int(peers);
      if (q === p) continue;
      let dup = false;
      for (let j = 0; j < n; j++) if (ids[base + j] === q) dup = true;
      if (dup) continue;
      insertSorted(ids, dist, fresh, base, n, q, d2(coords, p, q));
      n++;
    }
  }
  const tryInsert = (p: number, q: number): number => {
    if (p === q) return 0;
    const base = p * kk;
    const d = d2(coords, p, q);
    if (d >= dist[base + kk - 1]!) return 0;
    for (let j = 0; j < kk; j++) if (ids[base + j] === q) return 0;
    insertSorted(ids, dist, fresh, base, kk - 1, q, d);
    return 1;
  };
  // Candidate list of a peer: its new forward neighbours, then (all) its reverse neighbours, capped.
  const both = new Uint32Array(3 * kk);
  const revCount = new Uint32Array(peers);
  const rev = new Uint32Array(peers * kk);
  for (let round = 0; round < nnDescentRoundsMax; round++) {
    if (!onProgress(Math.floor((round / nnDescentRoundsMax) * peers))) break;
    revCount.fill(0);
    for (let p = 0; p < peers; p++) {
      for (let j = 0; j < kk; j++) {
        const q = ids[p * kk + j]!;
        const c = revCount[q]!;
        if (c < kk) {
          rev[q * kk + c] = p;
          revCount[q] = c + 1;
        }
      }
    }
    let changes = 0;
    for (let p = 0; p < peers; p++) {
      const base = p * kk;
      let nNew = 0;
      for (let j = 0; j < kk; j++) {
        if (fresh[base + j] === 1) {
          both[nNew++] = ids[base + j]!;
          fresh[base + j] = 0;
        }
      }
      for (let j = 0; j < revCount[p]!; j++) both[nNew++] = rev[p * kk + j]!;
      let nAll = nNew;
      for (let j = 0; j < kk; j++) both[nAll++] = ids[base + j]!;
      // Local join: every new or reverse neighbour meets every other candidate of p.
      for (let a = 0; a < nNew; a++) {
        const u = both[a]!;
        for (let b = a + 1; b < nAll; b++) {
          const v = both[b]!;
          if (v === u) continue;
          changes += tryInsert(u, v);
          changes += tryInsert(v, u);
        }
      }
    }
    if (changes < nnDescentConvergedShare * peers * kk) break;
  }
  const g = new Graph(peers, kk, coords);
  for (let p = 0; p < peers; p++) for (let j = 0; j < kk; j++) g.add(p, ids[p * kk + j]!);
  // Recall against brute force on a sample.
  let hits = 0;
  let total = 0;
  const samples = Math.min(knnRecallSamples, peers);
  const all = new Float64Array(peers);
  for (let s = 0; s < samples; s++) {
    const p = rng.int(peers);
    for (let q = 0; q < peers; q++) all[q] = q === p ? Number.POSITIVE_INFINITY : d2(coords, p, q);
    const kth = all.slice().sort()[kk - 1]!;
    for (let j = 0; j < kk; j++) if (dist[p * kk + j]! <= kth) hits++;
    total += kk;
  }
  return withRouter(
    g,
    'knn',
    kk,
    (dimensions * 4 + kk * 4) as number,
    true,
    plainGreedy,
    hits / Math.max(1, total),
  );
}

function insertSorted(
  ids: Uint32Array,
  dist: Float64Array,
  fresh: Uint8Array,
  base: number,
  n: number,
  q: number,
  d: number,
): void {
  let j = n;
  while (j > 0 && dist[base + j - 1]! > d) {
    ids[base + j] = ids[base + j - 1]!;
    dist[base + j] = dist[base + j - 1]!;
    fresh[base + j] = fresh[base + j - 1]!;
    j--;
  }
  ids[base + j] = q;
  dist[base + j] = d;
  fresh[base + j] = 1;
}

/** Side lengths of a balanced 8-D grid with exactly `peers` cells. */
export function canGridSides(peers: number): number[] {
  const factors: number[] = [];
  let n = peers;
  for (let f = 2; f * f <= n; f++) {
    while (n % f === 0) {
      factors.push(f);
      n /= f;
    }
  }
  if (n > 1) factors.push(n);
  factors.sort((a, b) => b - a);
  const sides = new Array<number>(dimensions).fill(1);
  for (const f of factors) {
    let smallest = 0;
    for (let i = 1; i < dimensions; i++) if (sides[i]! < sides[smallest]!) smallest = i;
    sides[smallest] = sides[smallest]! * f;
  }
  return sides;
}

function buildCan(peers: number): BaselineNetwork {
  const sides = canGridSides(peers);
  const coords = new Uint32Array(peers * dimensions);
  const g = new Graph(peers, 2 * dimensions, coords);
  const cell = new Array<number>(dimensions).fill(0);
  const strides = new Array<number>(dimensions);
  let acc = 1;
  for (let i = 0; i < dimensions; i++) {
    strides[i] = acc;
    acc *= sides[i]!;
  }
  for (let p = 0; p < peers; p++) {
    let r = p;
    for (let i = 0; i < dimensions; i++) {
      cell[i] = r % sides[i]!;
      r = Math.floor(r / sides[i]!);
      // Zone centre on the axis, in ring units.
      coords[p * dimensions + i] = Math.floor(((cell[i]! + 0.5) / sides[i]!) * 0x1_0000_0000) >>> 0;
    }
    for (let i = 0; i < dimensions; i++) {
      const side = sides[i]!;
      if (side === 1) continue;
      const up = (cell[i]! + 1) % side;
      const down = (cell[i]! + side - 1) % side;
      g.add(p, p + (up - cell[i]!) * strides[i]!);
      g.add(p, p + (down - cell[i]!) * strides[i]!);
    }
  }
  return withRouter(g, 'can', g.meanDegree(), dimensions * 4 + 2 * dimensions * 4, true, plainGreedy);
}

/** Sorted, unique, uniformly drawn 32-bit IDs (collisions are bumped to the next free ID). */
function sortedIds(peers: number, rng: FastRng): Uint32Array {
  if (peers > 0x1_0000_0000 / 4) throw new RangeError('too many peers for 32-bit IDs');
  const ids = new Uint32Array(peers);
  for (let i = 0; i < peers; i++) ids[i] = rng.uint32();
  ids.sort();
  for (let i = 1; i < peers; i++) if (ids[i]! <= ids[i - 1]!) ids[i] = ids[i - 1]! + 1;
  return ids;
}

/** First index whose id ≥ x (ids ascending). */
function lowerBound(ids: Uint32Array, x: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const idBits = 32;

function buildKademlia(peers: number, rng: FastRng): BaselineNetwork {
  const ids = sortedIds(peers, rng);
  const g = new Graph(peers, idBits, new Uint32Array(0));
  for (let p = 0; p < peers; p++) {
    const id = ids[p]!;
    for (let b = idBits - 1; b >= 0; b--) {
      // Bucket b: IDs sharing the bits above b with ours and differing at bit b.
      const prefix = (b === 31 ? 0 : (id >>> (b + 1)) << (b + 1)) >>> 0;
      const lo = (prefix | (~id & (1 << b))) >>> 0;
      const hi = b === 0 ? lo : (lo + ((1 << b) >>> 0) - 1) >>> 0;
      const from = lowerBound(ids, lo);
      const to = lowerBound(ids, hi + 1 > 0xffff_ffff ? 0x1_0000_0000 : hi + 1);
      if (to > from) g.add(p, from + rng.int(to - from));
    }
  }
  const router: PeerRouter = {
    lastDeadEndPeer: -1,
    lastDeadEndHop: -1,
    route(s: number, t: number): number {
      let cur = s;
      let hops = 0;
      const target = ids[t]!;
      while (cur !== t) {
        if (hops >= 4 * idBits) return -1;
        const base = cur * g.slotStride;
        const deg = g.degree[cur]!;
        let best = -1;
        let bestX = (ids[cur]! ^ target) >>> 0;
        for (let j = 0; j < deg; j++) {
          const c = g.slots[base + j]!;
          const x = (ids[c]! ^ target) >>> 0;
          if (x < bestX) {
            bestX = x;
            best = c;
          }
        }
        if (best < 0) return -1;
        cur = best;
        hops++;
      }
      return hops;
    },
  };
  return withRouter(
    g,
    'kademlia',
    g.meanDegree(),
    4 + g.meanDegree() * 4,
    false,
    plainGreedy,
    undefined,
    router,
  );
}

function buildChord(peers: number, rng: FastRng): BaselineNetwork {
  const ids = sortedIds(peers, rng);
  const g = new Graph(peers, idBits, new Uint32Array(0));
  for (let p = 0; p < peers; p++) {
    for (let i = 0; i < idBits; i++) {
      const x = (ids[p]! + 2 ** i) % 0x1_0000_0000;
      let s = lowerBound(ids, x);
      if (s === peers) s = 0;
      if (s !== p) g.add(p, s);
    }
  }
  const router: PeerRouter = {
    lastDeadEndPeer: -1,
    lastDeadEndHop: -1,
    route(s: number, t: number): number {
      let cur = s;
      let hops = 0;
      const target = ids[t]!;
      while (cur !== t) {
        if (hops >= 4 * idBits) return -1;
        const base = cur * g.slotStride;
        const deg = g.degree[cur]!;
        const remaining = (target - ids[cur]!) >>> 0;
        let best = -1;
        let bestGap = remaining;
        for (let j = 0; j < deg; j++) {
          const c = g.slots[base + j]!;
          const gap = (target - ids[c]!) >>> 0;
          // Closest preceding finger: the largest step that does not overshoot the target.
          if ((ids[c]! - ids[cur]!) >>> 0 <= remaining && gap < bestGap) {
            bestGap = gap;
            best = c;
          }
        }
        if (best < 0) return -1;
        cur = best;
        hops++;
      }
      return hops;
    },
  };
  return withRouter(
    g,
    'chord',
    g.meanDegree(),
    4 + g.meanDegree() * 4,
    false,
    plainGreedy,
    undefined,
    router,
  );
}

function withRouter(
  g: Graph,
  name: string,
  statePerPeer: number,
  bytesPerPeer: number,
  geometric: boolean,
  routingPolicy: RoutingPolicy,
  knnRecall?: number,
  router?: PeerRouter,
): BaselineNetwork {
  const net = g as unknown as BaselineNetwork;
  const extra: Record<string, unknown> = {
    name,
    statePerPeer,
    bytesPerPeer: Math.round(bytesPerPeer),
    geometric,
    routingPolicy,
    router: router ?? new Router(g as unknown as RoutableNetwork, routingPolicy),
  };
  if (knnRecall !== undefined) extra.knnRecall = knnRecall;
  Object.assign(net, extra);
  return net;
}

/** Peer numbers of p's contacts (tests). */
export function contactsOf(net: BaselineNetwork, p: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < net.degree[p]!; j++) out.push(net.slots[p * net.slotStride + j]! & slotPeerMask);
  return out;
}
