/**
 * The routing policy: which neighbour a REGISTER or an INVITE goes to next, who accepts a
 * REGISTER, and which link a peer drops when it has too many. The packet engine and the scale model
 * (`sim/scale`, up to 1e8 peers) call these same functions, so what the model measures is what the
 * engine does.
 *
 * Both callers describe a neighbourhood as a `PeerView`: struct-of-typed-arrays indexed by a peer
 * number — 8 coordinates per peer, a row of `slotStride` neighbour slots, a degree and an advertised
 * busy-sector mask. The scale model's view is the whole network; the engine builds a small view of
 * itself, its neighbours and the neighbours they advertise (look-ahead needs those). A slot holds a
 * peer number, with `longLinkFlag` set on links made by a long-link REGISTER (a research option,
 * off by default: in 8-D they did not shorten routes, see docs/routing.md); those are kept out of
 * distance-based eviction.
 *
 * The INVITE fallback around `inviteNextHop` (visited set, at most 2 hops past the closest peer
 * reached, then back; a retry after random first hops) is a walk across peers, so it lives in the
 * caller: `sim/scale/routes.ts` for the model, the INVITE transaction for the engine.
 *
 * Decisions use normalised units (`src/id/geometry.ts`). INVITE routing compares squared distances;
 * REGISTER routing and eviction use the link value of `src/id/sectors.ts` (−distance plus a bonus for
 * filling an empty sector). Nothing here allocates: routing runs ~1e7 decisions per scale run.
 *
 * Sectors are computed by `sectorTowardsFast`, which gives the same answer as `sectorTowards` in
 * about a third of the arithmetic: the simplex vertices are the Helmert basis rows, so the 9 dot
 * products follow from one suffix sum over the 8 coordinates.
 */
import { dimensions } from '../id/geometry.js';

/** Set on a slot whose link was made by a long-link REGISTER (both ends mark it). */
export const longLinkFlag = 0x8000_0000;
/** Mask giving the peer number of a slot. */
export const slotPeerMask = 0x7fff_ffff;
/** An INVITE or REGISTER forwarded more often than this fails (the original's limit). */
export const routeHopsMax = 30;

/** A neighbourhood as typed arrays, indexed by peer number. */
export interface PeerView {
  /** 8 u32 coordinates per peer. */
  readonly coords: Uint32Array;
  /** `slotStride` slots per peer; entry = peer number, optionally | longLinkFlag. */
  readonly slots: Uint32Array;
  readonly slotStride: number;
  /** Used slots per peer. */
  readonly degree: Uint8Array;
  /** Advertised busy-sector mask per peer (bit s: a neighbour lies in sector s). */
  readonly busy: Uint16Array;
}

/** Knobs of the policy that routing research varies. */
export interface RoutingPolicy {
  /** Link-value bonus per end for filling an empty sector, normalised distance units. */
  readonly sectorBonus: number;
  /** INVITE routing scores a neighbour by the best of itself and its advertised neighbours. */
  readonly lookAhead: boolean;
  /** On a local minimum, continue to the best not-yet-visited neighbour and backtrack (visited set). */
  readonly backtrack: boolean;
  /** Look-ahead charges a reach through a neighbour this many local hop lengths (0: no charge). */
  readonly lookAheadHopCost: number;
  /** Eviction prefers neighbours that stay at or above the minimum after losing the link. */
  readonly spareAwareEviction: boolean;
  /**
   * Weight w of a link's spread in its eviction value: −d(self, n) + w · min over the other neighbours m
   * of d(m, n) (+ the sector bonus). At 0 eviction drops the farthest link; at 1 the most occluded one —
   * the link whose far end another neighbour lies nearest to, relative to the link's length, i.e. the
   * link a route could replace by a short detour through another neighbour (`evictionVictim`).
   */
  readonly occlusionWeight: number;
}

/**
 * Searches (attempts whose first hop accepted and came back with FAILURE routeUnavailable) an INVITE
 * makes before it fails as not found. Each search is a depth-first walk over the peers closer to the
 * callee's point; a second one from another first hop covers a dead end the first met.
 */
export const inviteSearchesMax = 2;
/**
 * Hops a search may go past a local minimum. The hop that steps past one forwards with at most this many
 * hops (+1) left; a hop receiving so few explores: it may step anywhere but the way it came and tries
 * one next hop only. Measured on the scale model at 1e5 peers (docs/routing.md): 1 → 99.2 % of
 * INVITEs delivered, 5 → 99.995 %, while a search for nobody costs about 67 forwards either way.
 */
export const inviteExplorationHops = 5;

/** The default policy of the engine and the model (chosen by the research in docs/routing.md). */
export const routingPolicyDefault: RoutingPolicy = {
  sectorBonus: 0.03,
  lookAhead: true,
  backtrack: true,
  lookAheadHopCost: 0,
  spareAwareEviction: true,
  occlusionWeight: 1.25,
};

const scale = 1 / 0x1_0000_0000;

/** Squared normalised distance between peers a and b of one coordinate array. */
export function peerDistanceSquared(coords: Uint32Array, a: number, b: number): number {
  return distanceSquaredToPoint(coords, a, coords, b * dimensions);
}

/** Squared normalised distance from peer a to a point given by (target, targetOffset). */
export function distanceSquaredToPoint(
  coords: Uint32Array,
  a: number,
  target: Uint32Array,
  targetOffset: number,
): number {
  // Unrolled; the sum is taken in axis order, as a loop would.
  const oa = a * dimensions;
  let d = ((target[targetOffset]! - coords[oa]!) | 0) * scale;
  let sum = d * d;
  d = ((target[targetOffset + 1]! - coords[oa + 1]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 2]! - coords[oa + 2]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 3]! - coords[oa + 3]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 4]! - coords[oa + 4]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 5]! - coords[oa + 5]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 6]! - coords[oa + 6]!) | 0) * scale;
  sum += d * d;
  d = ((target[targetOffset + 7]! - coords[oa + 7]!) | 0) * scale;
  sum += d * d;
  return sum;
}

// Helmert weights 1/√(k(k+1)), k = 1..8. The common factor √(9/8) does not change argmax.
const h1 = 1 / Math.sqrt(1 * 2);
const h2 = 1 / Math.sqrt(2 * 3);
const h3 = 1 / Math.sqrt(3 * 4);
const h4 = 1 / Math.sqrt(4 * 5);
const h5 = 1 / Math.sqrt(5 * 6);
const h6 = 1 / Math.sqrt(6 * 7);
const h7 = 1 / Math.sqrt(7 * 8);
const h8 = 1 / Math.sqrt(8 * 9);

/**
 * Sector (0..8) of the wrap-around direction from point a to point b — the same value as
 * `sectorTowards` of `src/id/sectors.ts` (vertex with the largest dot product, ties to the lower
 * index), from a suffix sum instead of 9 dot products: with w_k = v_{k−1}/√(k(k+1)), the dot product
 * with vertex i is proportional to Σ_{k>i} w_k − i·w_i.
 */
export function sectorTowardsFast(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
): number {
  return sectorOfDifferences(
    (coordsB[offsetB]! - coordsA[offsetA]!) | 0,
    (coordsB[offsetB + 1]! - coordsA[offsetA + 1]!) | 0,
    (coordsB[offsetB + 2]! - coordsA[offsetA + 2]!) | 0,
    (coordsB[offsetB + 3]! - coordsA[offsetA + 3]!) | 0,
    (coordsB[offsetB + 4]! - coordsA[offsetA + 4]!) | 0,
    (coordsB[offsetB + 5]! - coordsA[offsetA + 5]!) | 0,
    (coordsB[offsetB + 6]! - coordsA[offsetA + 6]!) | 0,
    (coordsB[offsetB + 7]! - coordsA[offsetA + 7]!) | 0,
  );
}

/**
 * The argmax of the 9 vertex dot products for raw per-axis differences v0..v7 (each `(b − a) | 0`),
 * walking i from 8 down to 0 with the suffix sum; ties go to the lower index (≥).
 */
function sectorOfDifferences(
  v0: number,
  v1: number,
  v2: number,
  v3: number,
  v4: number,
  v5: number,
  v6: number,
  v7: number,
): number {
  let w = v7 * h8;
  let best = 8;
  let bestDot = 0 - 8 * w;
  let suffix = w;
  w = v6 * h7;
  let dot = suffix - 7 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 7;
  }
  suffix += w;
  w = v5 * h6;
  dot = suffix - 6 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 6;
  }
  suffix += w;
  w = v4 * h5;
  dot = suffix - 5 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 5;
  }
  suffix += w;
  w = v3 * h4;
  dot = suffix - 4 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 4;
  }
  suffix += w;
  w = v2 * h3;
  dot = suffix - 3 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 3;
  }
  suffix += w;
  w = v1 * h2;
  dot = suffix - 2 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 2;
  }
  suffix += w;
  w = v0 * h1;
  dot = suffix - w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 1;
  }
  suffix += w;
  // Vertex 0: the whole sum (its own weight term is 0).
  if (suffix >= bestDot) best = 0;
  return best;
}

/**
 * Both sectors for raw differences v0..v7 (a → b): argmax (the sector at a) in the low 4 bits,
 * argmin (the sector at b of b → a, valid when no axis is at exactly half a ring) in the next 4.
 */
function sectorPairOfDifferences(
  v0: number,
  v1: number,
  v2: number,
  v3: number,
  v4: number,
  v5: number,
  v6: number,
  v7: number,
): number {
  let w = v7 * h8;
  let dot = 0 - 8 * w;
  let best = 8;
  let bestDot = dot;
  let worst = 8;
  let worstDot = dot;
  let suffix = w;
  w = v6 * h7;
  dot = suffix - 7 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 7;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 7;
  }
  suffix += w;
  w = v5 * h6;
  dot = suffix - 6 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 6;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 6;
  }
  suffix += w;
  w = v4 * h5;
  dot = suffix - 5 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 5;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 5;
  }
  suffix += w;
  w = v3 * h4;
  dot = suffix - 4 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 4;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 4;
  }
  suffix += w;
  w = v2 * h3;
  dot = suffix - 3 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 3;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 3;
  }
  suffix += w;
  w = v1 * h2;
  dot = suffix - 2 * w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 2;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 2;
  }
  suffix += w;
  w = v0 * h1;
  dot = suffix - w;
  if (dot >= bestDot) {
    bestDot = dot;
    best = 1;
  }
  if (dot <= worstDot) {
    worstDot = dot;
    worst = 1;
  }
  suffix += w;
  // Vertex 0: the whole sum (its own weight term is 0).
  if (suffix >= bestDot) best = 0;
  if (suffix <= worstDot) worst = 0;
  return best | (worst << 4);
}

const halfRing = -0x8000_0000;

/**
 * Both sectors of a pair at once: the sector at a of the direction a → b in the low 4 bits, the sector
 * at b of b → a in the next 4 — equal to two `sectorTowardsFast` calls. The vector b → a is the exact
 * negation of a → b (so its dot products are the exact negations, and its sector is the argmin), except
 * when an axis differs by exactly half a ring, where the ring has no negation; that case takes the two
 * calls.
 */
export function sectorPair(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
): number {
  const v0 = (coordsB[offsetB]! - coordsA[offsetA]!) | 0;
  const v1 = (coordsB[offsetB + 1]! - coordsA[offsetA + 1]!) | 0;
  const v2 = (coordsB[offsetB + 2]! - coordsA[offsetA + 2]!) | 0;
  const v3 = (coordsB[offsetB + 3]! - coordsA[offsetA + 3]!) | 0;
  const v4 = (coordsB[offsetB + 4]! - coordsA[offsetA + 4]!) | 0;
  const v5 = (coordsB[offsetB + 5]! - coordsA[offsetA + 5]!) | 0;
  const v6 = (coordsB[offsetB + 6]! - coordsA[offsetA + 6]!) | 0;
  const v7 = (coordsB[offsetB + 7]! - coordsA[offsetA + 7]!) | 0;
  if (
    v0 === halfRing ||
    v1 === halfRing ||
    v2 === halfRing ||
    v3 === halfRing ||
    v4 === halfRing ||
    v5 === halfRing ||
    v6 === halfRing ||
    v7 === halfRing
  ) {
    return (
      sectorTowardsFast(coordsA, offsetA, coordsB, offsetB) |
      (sectorTowardsFast(coordsB, offsetB, coordsA, offsetA) << 4)
    );
  }
  return sectorPairOfDifferences(v0, v1, v2, v3, v4, v5, v6, v7);
}

/** Whether `peer` holds a link to `other`. */
export function isLinked(view: PeerView, peer: number, other: number): boolean {
  const base = peer * view.slotStride;
  const deg = view.degree[peer]!;
  for (let j = 0; j < deg; j++) if ((view.slots[base + j]! & slotPeerMask) === other) return true;
  return false;
}

/** Long links `peer` holds (its own and accepted ones). */
export function longLinkCount(view: PeerView, peer: number): number {
  const base = peer * view.slotStride;
  const deg = view.degree[peer]!;
  let n = 0;
  for (let j = 0; j < deg; j++) if (view.slots[base + j]! >= longLinkFlag) n++;
  return n;
}

/**
 * Value of a prospective link between `peer` and a requester whose point is `target[targetOffset]`
 * and who advertises `requesterBusy`: −distance, plus the bonus on each side where the link would
 * fill an empty sector.
 */
export function prospectiveValue(
  view: PeerView,
  peer: number,
  target: Uint32Array,
  targetOffset: number,
  requesterBusy: number,
  bonus: number,
): number {
  const d = Math.sqrt(distanceSquaredToPoint(view.coords, peer, target, targetOffset));
  return -d + sectorBonusOf(view, peer, target, targetOffset, requesterBusy, bonus);
}

/** The sector part of `prospectiveValue`: 0, one bonus or two. */
export function sectorBonusOf(
  view: PeerView,
  peer: number,
  target: Uint32Array,
  targetOffset: number,
  requesterBusy: number,
  bonus: number,
): number {
  if (bonus === 0) return 0;
  const pair = sectorPair(view.coords, peer * dimensions, target, targetOffset);
  let v = 0;
  if (((view.busy[peer]! >>> (pair & 15)) & 1) === 0) v += bonus;
  if (((requesterBusy >>> (pair >>> 4)) & 1) === 0) v += bonus;
  return v;
}

/** Slots per peer the policy functions handle at most (scratch size). */
export const slotStrideMax = 64;
const distanceScratch = new Float64Array(slotStrideMax);
const candidateScratch = new Int32Array(slotStrideMax);
const slotIndexScratch = new Int32Array(slotStrideMax);
const diffScratch = new Int32Array(slotStrideMax * dimensions);
/** Sink of the early reads in `registerStepOf` and `evictionVictim` (see there), so they are not dropped. */
let _touched = 0;
/** The same scratch read as u32 (for `sectorPair`, which takes points). */
const diffScratchBits = new Uint32Array(diffScratch.buffer);

/**
 * `sectorBonusOf` for a peer given the raw differences target − peer (`diffs[offset .. offset+8)`,
 * each `(b − a) | 0`): the same pair of sectors from the same operations. Only differences enter
 * `sectorPair`, so its half-ring case runs on the differences against the origin.
 */
function sectorBonusOfDiffs(
  diffs: Int32Array,
  offset: number,
  peerBusy: number,
  requesterBusy: number,
  bonus: number,
): number {
  if (bonus === 0 || (peerBusy & requesterBusy & 0x1ff) === 0x1ff) return 0;
  const v0 = diffs[offset]!;
  const v1 = diffs[offset + 1]!;
  const v2 = diffs[offset + 2]!;
  const v3 = diffs[offset + 3]!;
  const v4 = diffs[offset + 4]!;
  const v5 = diffs[offset + 5]!;
  const v6 = diffs[offset + 6]!;
  const v7 = diffs[offset + 7]!;
  const pair =
    v0 === halfRing ||
    v1 === halfRing ||
    v2 === halfRing ||
    v3 === halfRing ||
    v4 === halfRing ||
    v5 === halfRing ||
    v6 === halfRing ||
    v7 === halfRing
      ? sectorPair(zeroPoint, 0, diffScratchBits, offset)
      : sectorPairOfDifferences(v0, v1, v2, v3, v4, v5, v6, v7);
  let v = 0;
  if (((peerBusy >>> (pair & 15)) & 1) === 0) v += bonus;
  if (((requesterBusy >>> (pair >>> 4)) & 1) === 0) v += bonus;
  return v;
}

const zeroPoint = new Uint32Array(dimensions);

/** `registerStep` result: accept the REGISTER here. */
export const registerAcceptHere = -1;
/** `registerStep` result: no neighbour to forward to and this peer may not accept. */
export const registerNoRoute = -2;

/**
 * One greedy REGISTER hop at `self` towards the requester (`requester` = its peer number, or −1 when
 * it is not in the view) whose point is `target[targetOffset]`: the neighbour with the best
 * prospective link value, skipping the requester and peers with `mark[p] === epoch` (the sender and
 * neighbours already tried). `self` accepts when it is not linked to the requester, has a free slot
 * (`degree < slotsMax`) and its own value beats every candidate — "the first peer better than all
 * its neighbours". Returns the next peer, `registerAcceptHere` or `registerNoRoute`.
 *
 * The result is the slot-order argmax of the link value (ties to the lower slot). It is computed
 * without evaluating every value: distances first; the nearest candidate's value seeds the best; a
 * candidate whose value cannot reach the best so far (−d + 2·bonus below it: a value is −d plus 0, one
 * or two bonuses) is skipped without its sectors, the costly part; a candidate that ties the best wins
 * only from a lower slot.
 */
export function registerStep(
  view: PeerView,
  self: number,
  requester: number,
  target: Uint32Array,
  targetOffset: number,
  requesterBusy: number,
  bonus: number,
  mark: Uint32Array,
  epoch: number,
  slotsMax: number,
): number {
  return registerStepOf(
    view,
    self,
    requester,
    target,
    targetOffset,
    requesterBusy,
    bonus,
    mark,
    epoch,
    slotsMax,
  );
}

/**
 * `registerStep` with the tried peers as a bit set (bit p of `visited`: word p >>> 5, bit p & 31)
 * instead of epoch marks: N/8 bytes that stay in cache where N epoch marks (4N bytes) do not. The same
 * decision: both forms share one body.
 */
export function registerStepVisited(
  view: PeerView,
  self: number,
  requester: number,
  target: Uint32Array,
  targetOffset: number,
  requesterBusy: number,
  bonus: number,
  visited: Uint32Array,
  slotsMax: number,
): number {
  return registerStepOf(
    view,
    self,
    requester,
    target,
    targetOffset,
    requesterBusy,
    bonus,
    visited,
    -1,
    slotsMax,
  );
}

/** The body of `registerStep` (`epoch` ≥ 0: epoch marks) and `registerStepVisited` (`epoch` −1: bit set). */
function registerStepOf(
  view: PeerView,
  self: number,
  requester: number,
  target: Uint32Array,
  targetOffset: number,
  requesterBusy: number,
  bonus: number,
  mark: Uint32Array,
  epoch: number,
  slotsMax: number,
): number {
  const bits = epoch < 0;
  const coords = view.coords;
  const slots = view.slots;
  const base = self * view.slotStride;
  const deg = view.degree[self]!;
  const t0 = target[targetOffset]!;
  const t1 = target[targetOffset + 1]!;
  const t2 = target[targetOffset + 2]!;
  const t3 = target[targetOffset + 3]!;
  const t4 = target[targetOffset + 4]!;
  const t5 = target[targetOffset + 5]!;
  const t6 = target[targetOffset + 6]!;
  const t7 = target[targetOffset + 7]!;
  // Pass 1: squared distances only, into a compact candidate list (slot order kept).
  const dist = distanceScratch;
  const cand = candidateScratch;
  const slotOf = slotIndexScratch;
  const diffs = diffScratch;
  const busy = view.busy;
  let count = 0;
  let nearest = Number.POSITIVE_INFINITY;
  let nearestIndex = -1;
  let linked = false;
  // Pass 0: one read of each neighbour's point and busy mask, back to back. In a large network these
  // are cache misses; issued together they overlap, where pass 1's long body lets only a few be in
  // flight at once (with the same pass in `evictionVictim`: 8–9 % more joins at 1e7 peers, unchanged at 1e6).
  let touch = 0;
  for (let j = 0; j < deg; j++) {
    const n = slots[base + j]! & slotPeerMask;
    touch ^= coords[n * dimensions]! ^ busy[n]!;
  }
  _touched ^= touch;
  for (let j = 0; j < deg; j++) {
    const n = slots[base + j]! & slotPeerMask;
    if (n === requester) {
      linked = true;
      continue;
    }
    if (bits ? ((mark[n >>> 5]! >>> (n & 31)) & 1) !== 0 : mark[n] === epoch) continue;
    const o = n * dimensions;
    // The same sum, in the same order, as `distanceSquaredToPoint`; the raw differences are kept for
    // the sectors (`sectorBonusOfDiffs`).
    const od = count * dimensions;
    let r = (t0 - coords[o]!) | 0;
    diffs[od] = r;
    let e = r * scale;
    let sum = e * e;
    r = (t1 - coords[o + 1]!) | 0;
    diffs[od + 1] = r;
    e = r * scale;
    sum += e * e;
    r = (t2 - coords[o + 2]!) | 0;
    diffs[od + 2] = r;
    e = r * scale;
    sum += e * e;
    r = (t3 - coords[o + 3]!) | 0;
    diffs[od + 3] = r;
    e = r * scale;
    sum += e * e;
    r = (t4 - coords[o + 4]!) | 0;
    diffs[od + 4] = r;
    e = r * scale;
    sum += e * e;
    r = (t5 - coords[o + 5]!) | 0;
    diffs[od + 5] = r;
    e = r * scale;
    sum += e * e;
    r = (t6 - coords[o + 6]!) | 0;
    diffs[od + 6] = r;
    e = r * scale;
    sum += e * e;
    r = (t7 - coords[o + 7]!) | 0;
    diffs[od + 7] = r;
    e = r * scale;
    sum += e * e;
    dist[count] = sum;
    cand[count] = n;
    slotOf[count] = j;
    if (sum < nearest) {
      nearest = sum;
      nearestIndex = count;
    }
    count++;
  }
  // Any candidate can seed the best (the scan below finds the slot-order argmax from any seed); the
  // nearest one prunes the most.
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  if (nearestIndex >= 0) {
    // The nearest candidate is usually the next hop: reading its first slot now starts fetching its
    // slot row (a cache miss in a large network) while the sectors below are computed.
    _touched ^= slots[cand[nearestIndex]! * view.slotStride]!;
    best = nearestIndex;
    bestValue =
      -Math.sqrt(nearest) +
      sectorBonusOfDiffs(diffs, nearestIndex * dimensions, busy[cand[nearestIndex]!]!, requesterBusy, bonus);
    const reach = 2 * bonus;
    // A squared distance above `skipAbove` is a distance more than reach − bestValue + 1e-9, so the
    // exact test below would skip it too (with a margin far above rounding): no square root needed.
    let margin = reach - bestValue + 1e-9;
    let skipAbove = margin * margin;
    for (let k = 0; k < count; k++) {
      if (k === nearestIndex) continue;
      const sum = dist[k]!;
      if (sum > skipAbove) continue;
      const d = Math.sqrt(sum);
      // −d + sector bonus ≤ −d + 2·bonus (rounding is monotonic), so this candidate cannot beat the best.
      if (-d + reach < bestValue) continue;
      const v = -d + sectorBonusOfDiffs(diffs, k * dimensions, busy[cand[k]!]!, requesterBusy, bonus);
      if (v > bestValue || (v === bestValue && slotOf[k]! < slotOf[best]!)) {
        bestValue = v;
        best = k;
        margin = reach - bestValue + 1e-9;
        skipAbove = margin * margin;
      }
    }
  }
  if (!linked && self !== requester && deg < slotsMax) {
    const d = Math.sqrt(distanceSquaredToPoint(coords, self, target, targetOffset));
    if (-d + 2 * bonus > bestValue) {
      const own = -d + sectorBonusOf(view, self, target, targetOffset, requesterBusy, bonus);
      if (own > bestValue) return registerAcceptHere;
    }
  }
  return best >= 0 ? cand[best]! : registerNoRoute;
}

/**
 * One INVITE hop at `self` towards the point `target[targetOffset]`. A neighbour's score is its squared
 * distance to the target, or with `lookAhead` the smallest of that and its advertised neighbours'
 * (other than `self`). Neighbours with `mark[p] === epoch` (visited) are skipped. Returns the best
 * neighbour if its score beats `self`'s own distance; otherwise, with `anyUnvisited`, the best
 * unvisited neighbour regardless (the backtracking fallback); otherwise −1 (a local minimum: fail fast).
 */
export function inviteNextHop(
  view: PeerView,
  self: number,
  target: Uint32Array,
  targetOffset: number,
  lookAhead: boolean,
  mark: Uint32Array,
  epoch: number,
  anyUnvisited: boolean,
  hopCost = 0,
): number {
  if (lookAhead && hopCost > 0)
    return inviteNextHopCosted(view, self, target, targetOffset, mark, epoch, anyUnvisited, hopCost);
  const coords = view.coords;
  const slots = view.slots;
  const degree = view.degree;
  const stride = view.slotStride;
  const base = self * stride;
  const deg = degree[self]!;
  const t0 = target[targetOffset]!;
  const t1 = target[targetOffset + 1]!;
  const t2 = target[targetOffset + 2]!;
  const t3 = target[targetOffset + 3]!;
  const t4 = target[targetOffset + 4]!;
  const t5 = target[targetOffset + 5]!;
  const t6 = target[targetOffset + 6]!;
  const t7 = target[targetOffset + 7]!;
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  let bestOwn = Number.POSITIVE_INFINITY;
  for (let j = 0; j < deg; j++) {
    const n = slots[base + j]! & slotPeerMask;
    if (mark[n] === epoch) continue;
    const own = distanceSquaredToPoint(coords, n, target, targetOffset);
    let score = own;
    if (lookAhead && own > 0) {
      const nb = n * stride;
      const nd = degree[n]!;
      // A neighbour's score matters only while it can reach the best score so far (ties included), so
      // an advertised point whose partial sum over the first axes already exceeds both its running score
      // and the best is dropped: partial sums of squares only grow, and a score above the best loses
      // either way. The sums run in axis order, as in `distanceSquaredToPoint`.
      for (let k = 0; k < nd; k++) {
        const m = slots[nb + k]! & slotPeerMask;
        if (m === self || mark[m] === epoch) continue;
        const limit = Math.min(score, bestScore);
        const o = m * dimensions;
        let e = ((t0 - coords[o]!) | 0) * scale;
        let dm = e * e;
        e = ((t1 - coords[o + 1]!) | 0) * scale;
        dm += e * e;
        e = ((t2 - coords[o + 2]!) | 0) * scale;
        dm += e * e;
        e = ((t3 - coords[o + 3]!) | 0) * scale;
        dm += e * e;
        if (dm > limit) continue;
        e = ((t4 - coords[o + 4]!) | 0) * scale;
        dm += e * e;
        e = ((t5 - coords[o + 5]!) | 0) * scale;
        dm += e * e;
        e = ((t6 - coords[o + 6]!) | 0) * scale;
        dm += e * e;
        e = ((t7 - coords[o + 7]!) | 0) * scale;
        dm += e * e;
        if (dm < score) score = dm;
      }
    }
    if (score < bestScore || (score === bestScore && own < bestOwn)) {
      bestScore = score;
      bestOwn = own;
      best = n;
    }
  }
  if (best < 0) return -1;
  if (bestScore < distanceSquaredToPoint(coords, self, target, targetOffset)) return best;
  return anyUnvisited ? best : -1;
}

/**
 * `inviteNextHop` with look-ahead that charges the extra hop: a neighbour n scores
 * min(d(n), d(m) + δ) over its advertised neighbours m, in distances (not squared), where
 * δ = `hopCost` × the mean distance from `self` to its neighbours (the local hop length). Progress is
 * judged as without the charge (some neighbour or advertised neighbour closer than `self`).
 */
function inviteNextHopCosted(
  view: PeerView,
  self: number,
  target: Uint32Array,
  targetOffset: number,
  mark: Uint32Array,
  epoch: number,
  anyUnvisited: boolean,
  hopCost: number,
): number {
  const coords = view.coords;
  const slots = view.slots;
  const degree = view.degree;
  const stride = view.slotStride;
  const base = self * stride;
  const deg = degree[self]!;
  let hopLength = 0;
  for (let j = 0; j < deg; j++)
    hopLength += Math.sqrt(peerDistanceSquared(coords, self, slots[base + j]! & slotPeerMask));
  const delta = deg > 0 ? (hopCost * hopLength) / deg : 0;
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  let bestOwn = Number.POSITIVE_INFINITY;
  let rawBest = -1;
  let rawBestScore = Number.POSITIVE_INFINITY;
  let rawBestOwn = Number.POSITIVE_INFINITY;
  for (let j = 0; j < deg; j++) {
    const n = slots[base + j]! & slotPeerMask;
    if (mark[n] === epoch) continue;
    const own = distanceSquaredToPoint(coords, n, target, targetOffset);
    let raw = own;
    const nb = n * stride;
    const nd = degree[n]!;
    if (own > 0) {
      for (let k = 0; k < nd; k++) {
        const m = slots[nb + k]! & slotPeerMask;
        if (m === self || mark[m] === epoch) continue;
        const dm = distanceSquaredToPoint(coords, m, target, targetOffset);
        if (dm < raw) raw = dm;
      }
    }
    const score = Math.min(Math.sqrt(own), Math.sqrt(raw) + delta);
    if (score < bestScore || (score === bestScore && own < bestOwn)) {
      bestScore = score;
      bestOwn = own;
      best = n;
    }
    if (raw < rawBestScore || (raw === rawBestScore && own < rawBestOwn)) {
      rawBestScore = raw;
      rawBestOwn = own;
      rawBest = n;
    }
  }
  if (best < 0) return -1;
  const selfD = distanceSquaredToPoint(coords, self, target, targetOffset);
  if (rawBestScore < selfD) {
    // Progress exists: the charged choice if it is progress itself, else the uncharged one.
    if (bestScore < Math.sqrt(selfD)) return best;
    return rawBest;
  }
  return anyUnvisited ? rawBest : -1;
}

/** Why a peer drops one of its links. */
export type EvictionCause = 'aboveMaximum' | 'recycling';

/**
 * `evictionVictim`'s `spareAboveDegree` for a link dropped for `cause`. Above the soft maximum, with
 * spare-aware eviction, neighbours above the minimum are preferred: no re-registration cascade.
 * Periodic recycling drops the worst link whatever its far end's degree: a neighbour left below its
 * minimum registers again, and that re-registration is part of what makes recycling improve the graph
 * (with spare-aware recycling the scale model routed worse than with no recycling: docs/routing.md,
 * "Recycling"). The engine's upkeep and the scale model both choose through this.
 */
export function spareAboveDegreeFor(
  cause: EvictionCause,
  policy: RoutingPolicy,
  neighborsMin: number,
): number {
  return cause === 'aboveMaximum' && policy.spareAwareEviction ? neighborsMin : 0;
}

/**
 * Slot index (0..degree−1) of the link `self` drops when above its soft maximum: the lowest
 * existing-link value, −distance plus the bonus when the link is the only one in its sector at
 * `self`, plus `occlusionWeight` × the distance from the neighbour to the nearest other neighbour
 * (`RoutingPolicy.occlusionWeight`; ties to the lower slot). Long links are exempt (as victims; their
 * far ends still count as other neighbours). With `spareAboveDegree` > 0, neighbours whose degree exceeds it are
 * preferred as victims (no re-registration cascade); with a finite `spareMargin` (a research variant)
 * they are preferred only by that much link value. Returns −1 when every link is long. `sectorScratch`
 * holds 9 counts and `slotSector` one sector per slot (both scratch, overwritten).
 */
export function evictionVictim(
  view: PeerView,
  self: number,
  bonus: number,
  occlusionWeight: number,
  sectorScratch: Uint8Array,
  slotSector: Uint8Array,
  spareAboveDegree = 0,
  spareMargin = Number.POSITIVE_INFINITY,
): number {
  return evictionVictimOfRow(
    view,
    self,
    view.slots,
    self * view.slotStride,
    view.degree[self]!,
    bonus,
    occlusionWeight,
    sectorScratch,
    slotSector,
    spareAboveDegree,
    spareMargin,
  );
}

/**
 * `evictionVictim` of `self` as if its slots were `row[base..base + deg)`: a row that is not (yet) the
 * view's, e.g. its row with one more link, evaluated where the view's row must not change (a join
 * planned on another thread, `sim/scale/model.ts`). The neighbours' points come from the view, and so do
 * their degrees unless `spareMask` ≥ 0 gives which slots hold a spare neighbour (bit j: slot j; at most 31
 * slots), for degrees as they will be rather than as the view holds them.
 */
export function evictionVictimOfRow(
  view: PeerView,
  self: number,
  row: Uint32Array,
  base: number,
  deg: number,
  bonus: number,
  occlusionWeight: number,
  sectorScratch: Uint8Array,
  slotSector: Uint8Array,
  spareAboveDegree = 0,
  spareMargin = Number.POSITIVE_INFINITY,
  spareMask = -1,
): number {
  const coords = view.coords;
  const off = self * dimensions;
  const linkDistance = distanceScratch;
  sectorScratch.fill(0, 0, dimensions + 1);
  const a0 = coords[off]!;
  const a1 = coords[off + 1]!;
  const a2 = coords[off + 2]!;
  const a3 = coords[off + 3]!;
  const a4 = coords[off + 4]!;
  const a5 = coords[off + 5]!;
  const a6 = coords[off + 6]!;
  const a7 = coords[off + 7]!;
  // The neighbours' points and degrees read back to back first, as in `registerStepOf`.
  let touch = 0;
  for (let j = 0; j < deg; j++) {
    const n = row[base + j]! & slotPeerMask;
    touch ^= coords[n * dimensions]! ^ view.degree[n]!;
  }
  _touched ^= touch;
  for (let j = 0; j < deg; j++) {
    const o = (row[base + j]! & slotPeerMask) * dimensions;
    // One set of differences gives the sector (`sectorTowardsFast`) and the distance (`peerDistanceSquared`).
    const v0 = (coords[o]! - a0) | 0;
    const v1 = (coords[o + 1]! - a1) | 0;
    const v2 = (coords[o + 2]! - a2) | 0;
    const v3 = (coords[o + 3]! - a3) | 0;
    const v4 = (coords[o + 4]! - a4) | 0;
    const v5 = (coords[o + 5]! - a5) | 0;
    const v6 = (coords[o + 6]! - a6) | 0;
    const v7 = (coords[o + 7]! - a7) | 0;
    const s = sectorOfDifferences(v0, v1, v2, v3, v4, v5, v6, v7);
    slotSector[j] = s;
    sectorScratch[s] = sectorScratch[s]! + 1;
    // Kept for the neighbour pairs (`nearestOtherNeighbour`), which then read no point again.
    const q = j * dimensions;
    offsetScratch[q] = v0;
    offsetScratch[q + 1] = v1;
    offsetScratch[q + 2] = v2;
    offsetScratch[q + 3] = v3;
    offsetScratch[q + 4] = v4;
    offsetScratch[q + 5] = v5;
    offsetScratch[q + 6] = v6;
    offsetScratch[q + 7] = v7;
    let e = v0 * scale;
    let sum = e * e;
    e = v1 * scale;
    sum += e * e;
    e = v2 * scale;
    sum += e * e;
    e = v3 * scale;
    sum += e * e;
    e = v4 * scale;
    sum += e * e;
    e = v5 * scale;
    sum += e * e;
    e = v6 * scale;
    sum += e * e;
    e = v7 * scale;
    sum += e * e;
    linkDistance[j] = Math.sqrt(sum);
  }
  // A lone link has no other neighbour to be occluded by: its value is its distance alone.
  const occlusion = deg > 1 ? occlusionWeight : 0;
  if (occlusion !== 0) nearestOtherNeighbour(deg);
  let worst = -1;
  let worstValue = Number.POSITIVE_INFINITY;
  let worstSpare = false;
  for (let j = 0; j < deg; j++) {
    const slot = row[base + j]!;
    if (slot >= longLinkFlag) continue;
    const n = slot & slotPeerMask;
    let v = -linkDistance[j]!;
    if (occlusion !== 0) v += occlusion * spreadScratch[j]!;
    if (sectorScratch[slotSector[j]!] === 1) v += bonus;
    // With `spareAboveDegree`, a neighbour that can lose a link without falling below it (its advertised
    // degree is higher) is dropped before any neighbour that cannot, which would have to register again.
    const spare =
      spareAboveDegree > 0 &&
      (spareMask >= 0 ? ((spareMask >>> j) & 1) === 1 : view.degree[n]! > spareAboveDegree);
    if (spareMargin !== Number.POSITIVE_INFINITY) {
      if (spare) v -= spareMargin;
      if (v < worstValue) {
        worstValue = v;
        worst = j;
      }
    } else if ((spare && !worstSpare) || (spare === worstSpare && v < worstValue)) {
      worstValue = v;
      worst = j;
      worstSpare = spare;
    }
  }
  return worst;
}

/** Per slot of the last `evictionVictim` call: the neighbour's point minus self's, each axis `| 0`. */
const offsetScratch = new Int32Array(slotStrideMax * dimensions);
/** Per slot of the last `nearestOtherNeighbour` call: distance to the nearest other neighbour. */
const spreadScratch = new Float64Array(slotStrideMax);

/**
 * For each of the `deg` neighbours whose offsets from self are in `offsetScratch`: the distance to the
 * nearest other neighbour, into `spreadScratch` (`deg` ≥ 2). Offsets differ by the points' difference
 * modulo 2^32, so `(offset_k − offset_j) | 0` is `distanceSquaredToPoint`'s axis term, bit for bit. Each
 * pair's squared distance is taken once (it is symmetric: the same squared differences).
 */
function nearestOtherNeighbour(deg: number): void {
  const offs = offsetScratch;
  const best = spreadScratch;
  best.fill(Number.POSITIVE_INFINITY, 0, deg);
  for (let j = 0; j < deg; j++) {
    let bj = best[j]!;
    const oj = j * dimensions;
    const a0 = offs[oj]!;
    const a1 = offs[oj + 1]!;
    const a2 = offs[oj + 2]!;
    const a3 = offs[oj + 3]!;
    const a4 = offs[oj + 4]!;
    const a5 = offs[oj + 5]!;
    const a6 = offs[oj + 6]!;
    const a7 = offs[oj + 7]!;
    for (let k = j + 1; k < deg; k++) {
      // `distanceSquaredToPoint`'s operations in its order, with j's offset held in locals (10–25 %
      // faster than the call in a micro-benchmark; partial-sum pruning was slower: a pair is skipped only
      // when it beats neither minimum, and early rows have none yet).
      const ok = k * dimensions;
      let d = ((offs[ok]! - a0) | 0) * scale;
      let sq = d * d;
      d = ((offs[ok + 1]! - a1) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 2]! - a2) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 3]! - a3) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 4]! - a4) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 5]! - a5) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 6]! - a6) | 0) * scale;
      sq += d * d;
      d = ((offs[ok + 7]! - a7) | 0) * scale;
      sq += d * d;
      if (sq < bj) bj = sq;
      if (sq < best[k]!) best[k] = sq;
    }
    best[j] = bj;
  }
  for (let j = 0; j < deg; j++) best[j] = Math.sqrt(best[j]!);
}

/** Busy-sector mask of `self` from its current neighbours. */
export function computeBusyMask(view: PeerView, self: number): number {
  const base = self * view.slotStride;
  const deg = view.degree[self]!;
  const off = self * dimensions;
  let mask = 0;
  for (let j = 0; j < deg; j++) {
    const n = view.slots[base + j]! & slotPeerMask;
    mask |= 1 << sectorTowardsFast(view.coords, off, view.coords, n * dimensions);
  }
  return mask;
}
