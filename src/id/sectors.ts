/**
 * Sectors around a peer and the value of a link — the neighbour-selection half of the routing policy.
 *
 * Directions around a point are split into 9 sectors by the vertices of a regular 8-simplex centred
 * at the origin: the sector of a vector is the vertex with the largest dot product. A regular simplex
 * makes the 9 sectors congruent (the original's ninth vertex was a placeholder, so its sectors were
 * not). A peer advertises which sectors hold a neighbour as a 9-bit busy-sector mask; a link that
 * lands in an empty sector of either end closes a hole in the neighbourhood, and the link value
 * rewards that with `sectorBonus` per side.
 *
 * The simplex is a protocol constant — busy masks travel on the wire, so every peer must number the
 * sectors the same way. It is the standard basis e_0..e_8 of R^9 projected onto the hyperplane
 * Σx = 0 through the Helmert basis h_k = (1,…,1, −k, 0,…,0) / √(k(k+1)) (k ones, k = 1..8), scaled
 * to unit norm: vertex i has coordinate k−1 equal to 1/√(k(k+1)) for i < k, −k/√(k(k+1)) for i = k,
 * 0 for i > k, times √(9/8). All norms are 1 and all pairwise dot products are −1/8.
 *
 * The 510 simplex directions (DESIGN §6) are the normalised sums of the vertices of every non-empty
 * proper subset of the 9 vertices; gap filling probes each for a neighbour on its side.
 */
import { dimensions, distance, dotTowards } from './geometry.js';

/** Sectors around a peer: the vertices of an 8-simplex. */
export const sectorCount = dimensions + 1;
/** A busy-sector mask with every sector busy. */
export const sectorMaskAll = (1 << sectorCount) - 1;
/** Non-empty proper subsets of the simplex vertices: 2^9 − 2. */
export const simplexDirectionCount = (1 << sectorCount) - 2;

function buildSimplexVertices(): Float64Array {
  const v = new Float64Array(sectorCount * dimensions);
  const unit = Math.sqrt(sectorCount / dimensions);
  for (let i = 0; i < sectorCount; i++) {
    for (let k = 1; k <= dimensions; k++) {
      const h = 1 / Math.sqrt(k * (k + 1));
      const c = i < k ? h : i === k ? -k * h : 0;
      v[i * dimensions + k - 1] = c * unit;
    }
  }
  return v;
}

/** c_k = 1/√(k(k+1)) for k = 1..8, the Helmert basis scale (index 0 unused). */
const helmert = Float64Array.from({ length: sectorCount }, (_, k) =>
  k === 0 ? 0 : 1 / Math.sqrt(k * (k + 1)),
);

/** The 9 unit vertices of the regular 8-simplex, vertex i at `[i*8 .. i*8+8)`. Do not modify. */
export const simplexVertices: Float64Array = buildSimplexVertices();

function buildSimplexDirections(): Float64Array {
  const out = new Float64Array(simplexDirectionCount * dimensions);
  for (let d = 0; d < simplexDirectionCount; d++) {
    const subset = d + 1;
    let norm2 = 0;
    for (let k = 0; k < dimensions; k++) {
      let c = 0;
      for (let i = 0; i < sectorCount; i++) {
        if ((subset >>> i) & 1) c += simplexVertices[i * dimensions + k]!;
      }
      out[d * dimensions + k] = c;
      norm2 += c * c;
    }
    const scale = 1 / Math.sqrt(norm2);
    for (let k = 0; k < dimensions; k++) out[d * dimensions + k]! *= scale;
  }
  return out;
}

/**
 * The 510 unit simplex directions, direction d at `[d*8 .. d*8+8)`; it is the normalised sum of the
 * vertices in the subset whose bitmask is `simplexDirectionSubset(d)`. Do not modify.
 */
export const simplexDirections: Float64Array = buildSimplexDirections();

/** The vertex subset (a 9-bit mask) that direction `d` sums. */
export function simplexDirectionSubset(d: number): number {
  return d + 1;
}

/** Sector of a vector (any length; vertex with the largest dot product; ties go to the lower index). */
export function sectorOf(vector: Float64Array, offset = 0): number {
  // The Helmert structure gives all 9 dot products in O(8) instead of 9 × 8 multiplications: with
  // c_k = 1/√(k(k+1)) and S_i = Σ_{k>i} c_k·v[k−1], vertex i's dot product is S_i − i·c_i·v[i−1]
  // (dropping the common factor √(9/8), which does not change the argmax).
  let suffix = 0;
  let best = sectorCount - 1;
  let bestDot = Number.NEGATIVE_INFINITY;
  for (let i = sectorCount - 1; i >= 0; i--) {
    const dot = i === 0 ? suffix : suffix - i * helmert[i]! * vector[offset + i - 1]!;
    if (dot >= bestDot) {
      bestDot = dot;
      best = i;
    }
    if (i > 0) suffix += helmert[i]! * vector[offset + i - 1]!;
  }
  return best;
}

/**
 * Sector, as seen from point a, of the direction towards point b (wrap-around vector, as `vectorTo`).
 * Works on raw signed differences: the sector is invariant under positive scaling.
 */
export function sectorTowards(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
): number {
  for (let k = 0; k < dimensions; k++) deltaScratch[k] = (coordsB[offsetB + k]! - coordsA[offsetA + k]!) | 0;
  return sectorOf(deltaScratch, 0);
}

/** Raw per-axis differences for `sectorTowards` (the core is single-threaded; never escapes). */
const deltaScratch = new Float64Array(dimensions);

/** The mask bit of a sector. */
export function sectorBit(sector: number): number {
  return 1 << sector;
}

/**
 * Busy-sector mask of the peer at `selfCoords[selfOffset]`: the OR of the sectors of its neighbours,
 * whose points are at `neighbourCoords[neighbourOffsets[i]]` for i in [0, count).
 */
export function busySectorMask(
  selfCoords: Uint32Array,
  selfOffset: number,
  neighbourCoords: Uint32Array,
  neighbourOffsets: ArrayLike<number>,
  count: number = neighbourOffsets.length,
): number {
  let mask = 0;
  for (let i = 0; i < count; i++) {
    mask |= 1 << sectorTowards(selfCoords, selfOffset, neighbourCoords, neighbourOffsets[i]!);
  }
  return mask;
}

/**
 * Neighbours per sector of the peer at `selfCoords[selfOffset]` into `out[0..9)` (zeroed first).
 * A link whose sector count is 1 is the only one in its sector. Returns `out`.
 */
export function sectorCounts(
  selfCoords: Uint32Array,
  selfOffset: number,
  neighbourCoords: Uint32Array,
  neighbourOffsets: ArrayLike<number>,
  out: Uint16Array,
  count: number = neighbourOffsets.length,
): Uint16Array {
  out.fill(0, 0, sectorCount);
  for (let i = 0; i < count; i++) {
    out[sectorTowards(selfCoords, selfOffset, neighbourCoords, neighbourOffsets[i]!)]! += 1;
  }
  return out;
}

/** Sectors not busy in `mask`, ascending. */
export function emptySectors(mask: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < sectorCount; s++) if (((mask >>> s) & 1) === 0) out.push(s);
  return out;
}

/** How many sectors are busy in `mask`. */
export function busySectorCount(mask: number): number {
  let n = 0;
  for (let s = 0; s < sectorCount; s++) n += (mask >>> s) & 1;
  return n;
}

/** Whether a link in `sector` would fill an empty sector of a peer advertising `busyMask`. */
export function fillsEmptySector(busyMask: number, sector: number): boolean {
  return ((busyMask >>> sector) & 1) === 0;
}

/**
 * The bonus, in normalised distance units, for each end on which a link fills an empty sector (or,
 * for an existing link, is the only link in its sector).
 *
 * Why 0.03: among N uniform peers in 8-D the k-th nearest lies at about (k / (V₈·N))^(1/8) with
 * V₈ = π⁴/24 (`typicalNeighbourDistance`), so the shell a peer's ~13 neighbours occupy runs from
 * the 1st to the 13th nearest: 0.20–0.27 at 1e5 peers, 0.15–0.21 at 1e6, 0.084–0.116 at 1e8. Its
 * width (0.075, 0.056, 0.032) is the scale on which neighbour choices are made: a bonus far below it
 * reorders nothing, one far above it ignores distance. With 0.03 per side, a candidate that fills a
 * hole outranks every busy-sector candidate less than 0.03 nearer than itself: at 1e8 peers that is
 * nearly the whole shell (a hole-filler among the ~13 nearest beats the nearest busy one), at 1e6 about
 * half of it, at 1e5 about 40%. Yet on one bonus it never pulls in a candidate more than 0.03 —
 * about one shell width at 1e8 — beyond the nearest, so diversity costs little distance. The
 * original added +10 to raw u32 distances (~1e9), where it changed nothing. Routing experiments
 * (the scale model) may pass another bonus to `linkValue`.
 */
export const sectorBonus = 0.03;

/**
 * Value of a link of normalised length `distance`: higher is better. `fillsA`/`fillsB`: the link
 * fills an empty sector (prospective link) or is the only link in its sector (existing link) of that
 * end.
 */
export function linkValue(
  distance: number,
  fillsA: boolean,
  fillsB: boolean,
  bonus: number = sectorBonus,
): number {
  return -distance + (fillsA ? bonus : 0) + (fillsB ? bonus : 0);
}

/**
 * Value of a prospective link between a (advertising `busyMaskA`) and b (advertising `busyMaskB`):
 * −distance, plus the bonus for each end whose sector towards the other is not busy yet.
 */
export function prospectiveLinkValue(
  coordsA: Uint32Array,
  offsetA: number,
  busyMaskA: number,
  coordsB: Uint32Array,
  offsetB: number,
  busyMaskB: number,
  bonus: number = sectorBonus,
): number {
  const d = distance(coordsA, offsetA, coordsB, offsetB);
  const fillsA = fillsEmptySector(busyMaskA, sectorTowards(coordsA, offsetA, coordsB, offsetB));
  const fillsB = fillsEmptySector(busyMaskB, sectorTowards(coordsB, offsetB, coordsA, offsetA));
  return linkValue(d, fillsA, fillsB, bonus);
}

/**
 * Whether some neighbour lies on the side of simplex direction `d` (positive dot product of the
 * vector self → neighbour with the direction). A direction without one is a hole to fill.
 */
export function directionIsCovered(
  selfCoords: Uint32Array,
  selfOffset: number,
  neighbourCoords: Uint32Array,
  neighbourOffsets: ArrayLike<number>,
  d: number,
  count: number = neighbourOffsets.length,
): boolean {
  const base = d * dimensions;
  for (let i = 0; i < count; i++) {
    if (
      dotTowards(selfCoords, selfOffset, neighbourCoords, neighbourOffsets[i]!, simplexDirections, base) > 0
    ) {
      return true;
    }
  }
  return false;
}

/** The simplex directions (indices into `simplexDirections`) that no neighbour covers, ascending. */
export function uncoveredDirections(
  selfCoords: Uint32Array,
  selfOffset: number,
  neighbourCoords: Uint32Array,
  neighbourOffsets: ArrayLike<number>,
  count: number = neighbourOffsets.length,
): number[] {
  const out: number[] = [];
  for (let d = 0; d < simplexDirectionCount; d++) {
    if (!directionIsCovered(selfCoords, selfOffset, neighbourCoords, neighbourOffsets, d, count)) out.push(d);
  }
  return out;
}
