/**
 * The regID space: an 8-dimensional torus.
 *
 * A registration's point is SHA-256(regID) read as 8 little-endian u32 coordinates; every axis is a
 * ring of 2^32 positions, so the per-axis difference wraps: 0 and 2^32−1 are 1 apart (exactly — the
 * original computed 2^32−1−d, off by one). Distance is Euclidean over the wrapped differences.
 *
 * Decisions (routing, link values, sector bonuses) are taken in *normalised units*: a coordinate is
 * read as coordinate / 2^32 ∈ [0, 1) and a per-axis difference lies in [−0.5, 0.5), so a distance is
 * at most √8 / 2 ≈ 1.414 and the sector bonus of `sectors.ts` is added in the same unit. The raw
 * wrap-around is computed on integers (`(b − a) | 0` is the exact signed difference mod 2^32), then
 * scaled by 2^−32, which is exact in a double; only the final sum of squares rounds.
 *
 * The functions are the routing policy's primitives. The packet engine and the scale model (1e8 peers
 * as struct-of-typed-arrays) call the same code, so the hot ones take a `Uint32Array` view plus an
 * offset (in coordinates, i.e. peer index × `dimensions`) and allocate nothing.
 */
import { hash } from 'node:crypto';

/** Axes of the regID space. */
export const dimensions = 8;
/** Positions on one axis (the ring size). */
export const axisRingSize = 0x1_0000_0000;
/** Half a ring: the largest possible per-axis distance. */
export const axisHalfRingSize = 0x8000_0000;
/** Bytes of a regID (an Ed25519 public key). */
export const regIdBytes = 32;
/** Largest normalised distance on the torus: every axis half a ring apart. */
export const distanceMaxNormalised = Math.sqrt(dimensions) / 2;

/** Scale from raw ring units to normalised units (exact power of two). */
const normalisation = 1 / axisRingSize;

/**
 * The point of a regID: SHA-256(regID) as 8 little-endian u32 coordinates, written to
 * `out[outOffset .. outOffset+8)` (a fresh array when `out` is not given).
 */
export function pointOfRegId(regId: Uint8Array, out?: Uint32Array, outOffset = 0): Uint32Array {
  const target = out ?? new Uint32Array(dimensions);
  if (outOffset < 0 || outOffset + dimensions > target.length) {
    throw new RangeError(`pointOfRegId: offset ${outOffset} does not leave ${dimensions} coordinates`);
  }
  const digest = hash('sha256', regId, 'buffer');
  for (let i = 0; i < dimensions; i++) {
    const j = 4 * i;
    target[outOffset + i] =
      (digest[j]! | (digest[j + 1]! << 8) | (digest[j + 2]! << 16) | (digest[j + 3]! << 24)) >>> 0;
  }
  return target;
}

/**
 * Signed wrap-around difference b − a on one axis, in [−2^31, 2^31) raw units. The two directions
 * around the ring are equal only at exactly half a ring, where the result is −2^31.
 */
export function axisDelta(a: number, b: number): number {
  return (b - a) | 0;
}

/** Unsigned wrap-around distance on one axis: min(d, 2^32 − d) for d = |b − a|, in [0, 2^31]. */
export function axisDistance(a: number, b: number): number {
  const d = (b - a) >>> 0;
  return d <= axisHalfRingSize ? d : axisRingSize - d;
}

/** Squared Euclidean distance between two points, normalised units (one axis is 1). */
export function distanceSquared(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
): number {
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    const d = ((coordsB[offsetB + i]! - coordsA[offsetA + i]!) | 0) * normalisation;
    sum += d * d;
  }
  return sum;
}

/** Euclidean distance between two points, normalised units, in [0, √8/2]. */
export function distance(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
): number {
  return Math.sqrt(distanceSquared(coordsA, offsetA, coordsB, offsetB));
}

/**
 * The shortest wrap-around vector from point a to point b, normalised units (each component in
 * [−0.5, 0.5)), written to `out[outOffset .. outOffset+8)`. Returns `out`.
 */
export function vectorTo(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
  out: Float64Array,
  outOffset = 0,
): Float64Array {
  for (let i = 0; i < dimensions; i++) {
    out[outOffset + i] = ((coordsB[offsetB + i]! - coordsA[offsetA + i]!) | 0) * normalisation;
  }
  return out;
}

/**
 * Dot product of the wrap-around vector a → b (normalised units) with a direction `dir`. Tests
 * whether a neighbour lies on the side of a probed direction (DESIGN §6 gap filling) without
 * building the vector.
 */
export function dotTowards(
  coordsA: Uint32Array,
  offsetA: number,
  coordsB: Uint32Array,
  offsetB: number,
  dir: Float64Array,
  dirOffset = 0,
): number {
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    sum += ((coordsB[offsetB + i]! - coordsA[offsetA + i]!) | 0) * normalisation * dir[dirOffset + i]!;
  }
  return sum;
}

/** Typical normalised distance to the k-th nearest of `peerCount` uniformly placed peers in 8-D. */
export function typicalNeighbourDistance(peerCount: number, k = 1): number {
  // Volume of the 8-ball of radius r is (π^4 / 24) r^8; k of N peers fall inside when N·V(r) = k.
  // (Accurate while the radius is well under half a ring, i.e. for N above a few hundred.)
  const unitBallVolume = Math.PI ** 4 / 24;
  return (k / (unitBallVolume * peerCount)) ** (1 / dimensions);
}
