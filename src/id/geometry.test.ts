import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import {
  axisDelta,
  axisDistance,
  dimensions,
  distance,
  distanceMaxNormalised,
  distanceSquared,
  dotTowards,
  pointOfRegId,
  typicalNeighbourDistance,
  vectorTo,
} from './geometry.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const point = fc.array(u32, { minLength: dimensions, maxLength: dimensions }).map((a) => Uint32Array.from(a));

/** Reference per-axis distance with BigInt: min(d, 2^32 − d) for d = |b − a|. */
function axisDistanceRef(a: number, b: number): number {
  const d = BigInt(a) > BigInt(b) ? BigInt(a) - BigInt(b) : BigInt(b) - BigInt(a);
  const other = 2n ** 32n - d;
  return Number(d < other ? d : other);
}

describe('pointOfRegId', () => {
  it('reads SHA-256(regID) as 8 little-endian u32 (known answer: 32 zero bytes)', () => {
    // SHA-256(32 × 0x00) = 66687aad f862bd77 6c8fc18b 8e9f8e20 08971485 6ee233b3 902a591d 0d5f2925
    const p = pointOfRegId(new Uint8Array(32));
    expect(Array.from(p)).toEqual([
      0xad7a6866, 0x77bd62f8, 0x8bc18f6c, 0x208e9f8e, 0x85149708, 0xb333e26e, 0x1d592a90, 0x25295f0d,
    ]);
  });

  it('matches an independent decoding for random regIDs and writes only its slot', () => {
    const rng = new SeededRng('geometry/point');
    for (let i = 0; i < 50; i++) {
      const regId = rng.bytes(32);
      const digest = createHash('sha256').update(regId).digest();
      const out = new Uint32Array(3 * dimensions).fill(7);
      pointOfRegId(regId, out, dimensions);
      for (let k = 0; k < dimensions; k++) expect(out[dimensions + k]).toBe(digest.readUInt32LE(4 * k));
      expect(out.subarray(0, dimensions).every((x) => x === 7)).toBe(true);
      expect(out.subarray(2 * dimensions).every((x) => x === 7)).toBe(true);
    }
  });

  it('refuses an output slot that does not fit', () => {
    expect(() => pointOfRegId(new Uint8Array(32), new Uint32Array(8), 1)).toThrow(RangeError);
  });
});

describe('axis wrap-around', () => {
  it('is exact at the seam', () => {
    expect(axisDistance(0, 0xffff_ffff)).toBe(1);
    expect(axisDistance(0xffff_ffff, 0)).toBe(1);
    expect(axisDelta(0, 0xffff_ffff)).toBe(-1);
    expect(axisDelta(0xffff_ffff, 0)).toBe(1);
    expect(axisDistance(0, 0x8000_0000)).toBe(0x8000_0000);
    expect(axisDelta(0, 0x8000_0000)).toBe(-0x8000_0000);
    expect(axisDistance(5, 0x8000_0006)).toBe(0x7fff_ffff);
    expect(axisDelta(5, 0x8000_0006)).toBe(-0x7fff_ffff);
    expect(axisDelta(0x8000_0006, 5)).toBe(0x7fff_ffff);
  });

  it('matches the BigInt reference; delta in [−2^31, 2^31) and consistent with distance', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        const d = axisDelta(a, b);
        expect(d).toBeGreaterThanOrEqual(-0x8000_0000);
        expect(d).toBeLessThan(0x8000_0000);
        expect((a + d) >>> 0 === b).toBe(true);
        expect(axisDistance(a, b)).toBe(axisDistanceRef(a, b));
        expect(Math.abs(d)).toBe(axisDistance(a, b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('distance (normalised units)', () => {
  it('is symmetric, zero iff equal, bounded by √8/2', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        const ab = distance(a, 0, b, 0);
        expect(ab).toBe(distance(b, 0, a, 0));
        expect(ab === 0).toBe(a.every((x, i) => x === b[i]));
        expect(ab).toBeLessThanOrEqual(distanceMaxNormalised);
        expect(distance(a, 0, a, 0)).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('obeys the triangle inequality', () => {
    fc.assert(
      fc.property(point, point, point, (a, b, c) => {
        expect(distance(a, 0, c, 0)).toBeLessThanOrEqual(distance(a, 0, b, 0) + distance(b, 0, c, 0) + 1e-12);
      }),
      { numRuns: 1000 },
    );
  });

  it('wraps exactly at the seam and reads offsets in a flat array', () => {
    const flat = new Uint32Array(2 * dimensions);
    flat[dimensions + 3] = 0xffff_ffff; // the second point is one step below 0 on axis 3
    expect(distance(flat, 0, flat, dimensions)).toBe(2 ** -32);
    expect(distanceSquared(flat, 0, flat, dimensions)).toBe(2 ** -64);
    const half = new Uint32Array(dimensions).fill(0x8000_0000);
    expect(distance(new Uint32Array(dimensions), 0, half, 0)).toBe(distanceMaxNormalised);
  });

  it('vectorTo is the shortest wrapped vector; its length is the distance', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        const v = vectorTo(a, 0, b, 0, new Float64Array(dimensions));
        let s = 0;
        for (let k = 0; k < dimensions; k++) {
          expect(v[k]).toBeGreaterThanOrEqual(-0.5);
          expect(v[k]).toBeLessThan(0.5);
          expect(v[k]).toBe(axisDelta(a[k]!, b[k]!) / 2 ** 32);
          s += v[k]! * v[k]!;
        }
        expect(s).toBeCloseTo(distanceSquared(a, 0, b, 0), 14);
        const dir = new Float64Array(dimensions).fill(1);
        expect(dotTowards(a, 0, b, 0, dir)).toBeCloseTo(
          v.reduce((x, y) => x + y, 0),
          12,
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('typicalNeighbourDistance', () => {
  it('predicts the measured nearest-neighbour distance among uniform peers (the bonus scale)', () => {
    const rng = new SeededRng('geometry/nn');
    const n = 1500;
    const coords = new Uint32Array(n * dimensions);
    for (let i = 0; i < coords.length; i++) coords[i] = rng.uint32();
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let best = Number.POSITIVE_INFINITY;
      for (let j = 0; j < n; j++) {
        if (j !== i) best = Math.min(best, distanceSquared(coords, i * dimensions, coords, j * dimensions));
      }
      sum += Math.sqrt(best);
    }
    const measured = sum / n;
    // Mean of the nearest-neighbour distance is Γ(1 + 1/8) ≈ 0.9417 times the scale.
    const predicted = 0.9417 * typicalNeighbourDistance(n, 1);
    expect(Math.abs(measured / predicted - 1)).toBeLessThan(0.1);
  });
});
