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
  /** Eviction prefers neighbours that stay at or above the minimum after losing the link. */
  readonly spareAwareEviction: boolean;
}

/** The default policy of the engine and the model (chosen by the research in docs/routing.md). */
export const routingPolicyDefault: RoutingPolicy = {
  sectorBonus: 0.03,
  lookAhead: true,
  backtrack: true,
  spareAwareEviction: true,
};

const scale = 1 / 0x1_0000_0000;

/** Squared normalised distance between peers a and b of one coordinate array. */
export function peerDistanceSquared(coords: Uint32Array, a: number, b: number): number {
  const oa = a * dimensions;
  const ob = b * dimensions;
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    const d = ((coords[ob + i]! - coords[oa + i]!) | 0) * scale;
    sum += d * d;
  }
  return sum;
}

/** Squared normalised distance from peer a to a point given by (target, targetOffset). */
export function distanceSquaredToPoint(
  coords: Uint32Array,
  a: number,
  target: Uint32Array,
  targetOffset: number,
): number {
  const oa = a * dimensions;
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    const d = ((target[targetOffset + i]! - coords[oa + i]!) | 0) * scale;
    sum += d * d;
  }
  return sum;
}

// Helmert weights 1/√(k(k+1)), k = 1..8 (index k−1). The common factor √(9/8) does not change argmax.
const helmert = new Float64Array(dimensions);
for (let k = 1; k <= dimensions; k++) helmert[k - 1] = 1 / Math.sqrt(k * (k + 1));

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
  // Walk i from 8 down to 0, keeping the suffix sum; ties resolve to the lower index by using ≥.
  let suffix = 0;
  let best = 8;
  let bestDot = Number.NEGATIVE_INFINITY;
  for (let i = dimensions; i >= 0; i--) {
    let wi = 0;
    if (i >= 1) wi = ((coordsB[offsetB + i - 1]! - coordsA[offsetA + i - 1]!) | 0) * helmert[i - 1]!;
    const dot = suffix - i * wi;
    if (dot >= bestDot) {
      bestDot = dot;
      best = i;
    }
    suffix += wi;
  }
  return best;
}

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
  let suffix = 0;
  let best = 8;
  let bestDot = Number.NEGATIVE_INFINITY;
  let worst = 8;
  let worstDot = Number.POSITIVE_INFINITY;
  for (let i = dimensions; i >= 0; i--) {
    let wi = 0;
    if (i >= 1) {
      const diff = (coordsB[offsetB + i - 1]! - coordsA[offsetA + i - 1]!) | 0;
      if (diff === -0x8000_0000) {
        return (
          sectorTowardsFast(coordsA, offsetA, coordsB, offsetB) |
          (sectorTowardsFast(coordsB, offsetB, coordsA, offsetA) << 4)
        );
      }
      wi = diff * helmert[i - 1]!;
    }
    const dot = suffix - i * wi;
    if (dot >= bestDot) {
      bestDot = dot;
      best = i;
    }
    if (dot <= worstDot) {
      worstDot = dot;
      worst = i;
    }
    suffix += wi;
  }
  return best | (worst << 4);
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
  const base = self * view.slotStride;
  const deg = view.degree[self]!;
  // Pass 1: distances only. A candidate farther than the nearest by more than two bonuses cannot win,
  // so sectors (the costly part of a link value) are computed only for the few that can.
  const dist = distanceScratch;
  let nearest = Number.POSITIVE_INFINITY;
  let nearestPeer = -1;
  let linked = false;
  for (let j = 0; j < deg; j++) {
    const n = view.slots[base + j]! & slotPeerMask;
    if (n === requester) {
      linked = true;
      continue;
    }
    if (mark[n] === epoch) continue;
    const d = Math.sqrt(distanceSquaredToPoint(view.coords, n, target, targetOffset));
    dist[j] = d;
    if (d < nearest) {
      nearest = d;
      nearestPeer = n;
    }
  }
  // The nearest candidate's full value is achieved by some candidate, so any candidate whose value
  // cannot reach it (−d + 2·bonus below it) is skipped without changing the slot-order argmax.
  const bound =
    nearestPeer < 0
      ? Number.NEGATIVE_INFINITY
      : -nearest + sectorBonusOf(view, nearestPeer, target, targetOffset, requesterBusy, bonus);
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < deg; j++) {
    const n = view.slots[base + j]! & slotPeerMask;
    if (n === requester || mark[n] === epoch) continue;
    const d = dist[j]!;
    if (-d + 2 * bonus < bound) continue;
    const v = -d + sectorBonusOf(view, n, target, targetOffset, requesterBusy, bonus);
    if (v > bestValue) {
      bestValue = v;
      best = n;
    }
  }
  if (!linked && self !== requester && deg < slotsMax) {
    const d = Math.sqrt(distanceSquaredToPoint(view.coords, self, target, targetOffset));
    if (-d + 2 * bonus > bestValue) {
      const own = -d + sectorBonusOf(view, self, target, targetOffset, requesterBusy, bonus);
      if (own > bestValue) return registerAcceptHere;
    }
  }
  return best >= 0 ? best : registerNoRoute;
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
): number {
  const coords = view.coords;
  const slots = view.slots;
  const stride = view.slotStride;
  const base = self * stride;
  const deg = view.degree[self]!;
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
      const nd = view.degree[n]!;
      for (let k = 0; k < nd; k++) {
        const m = slots[nb + k]! & slotPeerMask;
        if (m === self) continue;
        const dm = distanceSquaredToPoint(coords, m, target, targetOffset);
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
 * Slot index (0..degree−1) of the link `self` drops when above its soft maximum: the lowest
 * existing-link value, −distance plus the bonus when the link is the only one in its sector at
 * `self`. Long links are exempt. With `spareAboveDegree` > 0, neighbours whose degree exceeds it are
 * preferred as victims (no re-registration cascade). Returns −1 when every link is long. `sectorScratch` holds 9 counts
 * and `slotSector` one sector per slot (both scratch, overwritten).
 */
export function evictionVictim(
  view: PeerView,
  self: number,
  bonus: number,
  sectorScratch: Uint8Array,
  slotSector: Uint8Array,
  spareAboveDegree = 0,
): number {
  const base = self * view.slotStride;
  const deg = view.degree[self]!;
  const coords = view.coords;
  const off = self * dimensions;
  sectorScratch.fill(0, 0, dimensions + 1);
  for (let j = 0; j < deg; j++) {
    const n = view.slots[base + j]! & slotPeerMask;
    const s = sectorTowardsFast(coords, off, coords, n * dimensions);
    slotSector[j] = s;
    sectorScratch[s] = sectorScratch[s]! + 1;
  }
  let worst = -1;
  let worstValue = Number.POSITIVE_INFINITY;
  let worstSpare = false;
  for (let j = 0; j < deg; j++) {
    const slot = view.slots[base + j]!;
    if (slot >= longLinkFlag) continue;
    const n = slot & slotPeerMask;
    let v = -Math.sqrt(peerDistanceSquared(coords, self, n));
    if (sectorScratch[slotSector[j]!] === 1) v += bonus;
    // With `spareAboveDegree`, a neighbour that can lose a link without falling below it (its advertised
    // degree is higher) is dropped before any neighbour that cannot, which would have to register again.
    const spare = spareAboveDegree > 0 && view.degree[n]! > spareAboveDegree;
    if ((spare && !worstSpare) || (spare === worstSpare && v < worstValue)) {
      worstValue = v;
      worst = j;
      worstSpare = spare;
    }
  }
  return worst;
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
