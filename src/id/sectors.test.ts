import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { dimensions, distance, vectorTo } from './geometry.js';
import {
  busySectorCount,
  busySectorMask,
  directionIsCovered,
  emptySectors,
  fillsEmptySector,
  linkValue,
  prospectiveLinkValue,
  sectorBonus,
  sectorCount,
  sectorCounts,
  sectorMaskAll,
  sectorOf,
  sectorTowards,
  simplexDirectionCount,
  simplexDirectionSubset,
  simplexDirections,
  simplexVertices,
  uncoveredDirections,
} from './sectors.js';

function vertex(i: number): Float64Array {
  return simplexVertices.subarray(i * dimensions, (i + 1) * dimensions);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < dimensions; k++) s += a[k]! * b[k]!;
  return s;
}

/** The point `base` moved by `length` (normalised units) along the unit vector `dir`. */
function offsetPoint(base: Uint32Array, dir: ArrayLike<number>, length: number): Uint32Array {
  const out = new Uint32Array(dimensions);
  for (let k = 0; k < dimensions; k++) out[k] = (base[k]! + Math.round(dir[k]! * length * 2 ** 32)) >>> 0;
  return out;
}

const vec = fc
  .array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: dimensions, maxLength: dimensions })
  .map((a) => Float64Array.from(a));

describe('regular 8-simplex', () => {
  it('has 9 unit vertices with pairwise dot products −1/8 of the squared norm, centred at the origin', () => {
    expect(sectorCount).toBe(9);
    for (let i = 0; i < sectorCount; i++) {
      expect(dot(vertex(i), vertex(i))).toBeCloseTo(1, 14);
      for (let j = i + 1; j < sectorCount; j++) expect(dot(vertex(i), vertex(j))).toBeCloseTo(-1 / 8, 14);
    }
    for (let k = 0; k < dimensions; k++) {
      let s = 0;
      for (let i = 0; i < sectorCount; i++) s += simplexVertices[i * dimensions + k]!;
      expect(s).toBeCloseTo(0, 14);
    }
  });

  it('puts each vertex direction in its own sector, at any positive scale', () => {
    for (let i = 0; i < sectorCount; i++) {
      expect(sectorOf(vertex(i))).toBe(i);
      expect(sectorOf(vertex(i).map((x) => x * 1e-9))).toBe(i);
      expect(sectorOf(vertex(i).map((x) => x * 1e9))).toBe(i);
    }
  });

  it('sectorOf is the vertex with the largest dot product (fast path = definition)', () => {
    fc.assert(
      fc.property(vec, (v) => {
        const dots = Array.from({ length: sectorCount }, (_, s) => dot(v, vertex(s)));
        const best = dots.indexOf(Math.max(...dots));
        const sorted = [...dots].sort((x, y) => y - x);
        fc.pre(sorted[0]! - sorted[1]! > 1e-12);
        expect(sectorOf(v)).toBe(best);
      }),
      { numRuns: 3000 },
    );
    expect(sectorOf(new Float64Array(dimensions))).toBe(0); // all ties: the lowest index
  });

  it('sectorOf is invariant under positive scaling', () => {
    fc.assert(
      fc.property(vec, fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (v, c) => {
        const dots = Array.from({ length: sectorCount }, (_, s) => dot(v, vertex(s)));
        const sorted = [...dots].sort((x, y) => y - x);
        fc.pre(sorted[0]! - sorted[1]! > 1e-9); // skip near-ties on a sector boundary
        expect(sectorOf(v.map((x) => x * c))).toBe(sectorOf(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('sectorTowards agrees with sectorOf(vectorTo) and the sectors are used about evenly', () => {
    const rng = new SeededRng('sectors/towards');
    const counts = new Array<number>(sectorCount).fill(0);
    const a = new Uint32Array(dimensions);
    const b = new Uint32Array(dimensions);
    const v = new Float64Array(dimensions);
    const trials = 9000;
    for (let t = 0; t < trials; t++) {
      for (let k = 0; k < dimensions; k++) {
        a[k] = rng.uint32();
        b[k] = rng.uint32();
      }
      const s = sectorTowards(a, 0, b, 0);
      expect(s).toBe(sectorOf(vectorTo(a, 0, b, 0, v)));
      counts[s]! += 1;
    }
    // A regular simplex gives congruent sectors: each holds 1/9 of random directions.
    for (const c of counts) expect(Math.abs(c / trials - 1 / 9)).toBeLessThan(0.025);
  });
});

describe('simplex directions', () => {
  it('are 510 distinct unit vectors, the singletons being the vertices', () => {
    expect(simplexDirectionCount).toBe(510);
    expect(simplexDirections.length).toBe(510 * dimensions);
    const dirs = Array.from({ length: 510 }, (_, d) =>
      simplexDirections.subarray(d * dimensions, (d + 1) * dimensions),
    );
    for (const d of dirs) expect(dot(d, d)).toBeCloseTo(1, 12);
    let closest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < dirs.length; i++) {
      for (let j = i + 1; j < dirs.length; j++) closest = Math.min(closest, 1 - dot(dirs[i]!, dirs[j]!));
    }
    expect(closest).toBeGreaterThan(1e-3);
    for (let i = 0; i < sectorCount; i++) {
      const d = (1 << i) - 1; // the direction whose subset is {i}
      expect(simplexDirectionSubset(d)).toBe(1 << i);
      expect(dot(dirs[d]!, vertex(i))).toBeCloseTo(1, 12);
    }
    // A subset and its complement point in opposite directions.
    expect(dot(dirs[0b000000011 - 1]!, dirs[0b111111100 - 1]!)).toBeCloseTo(-1, 12);
  });
});

describe('busy-sector masks', () => {
  const self = new Uint32Array(dimensions).fill(0x4000_0000);
  const flat = new Uint32Array(4 * dimensions);
  flat.set(offsetPoint(self, vertex(2), 0.1), 0);
  flat.set(offsetPoint(self, vertex(2), 0.2), dimensions);
  flat.set(offsetPoint(self, vertex(7), 0.15), 2 * dimensions);
  flat.set(offsetPoint(self, vertex(0), 0.3), 3 * dimensions);
  const offsets = [0, dimensions, 2 * dimensions, 3 * dimensions];

  it('collect the sectors of the neighbours', () => {
    const mask = busySectorMask(self, 0, flat, offsets);
    expect(mask).toBe((1 << 0) | (1 << 2) | (1 << 7));
    expect(busySectorCount(mask)).toBe(3);
    expect(emptySectors(mask)).toEqual([1, 3, 4, 5, 6, 8]);
    expect(emptySectors(sectorMaskAll)).toEqual([]);
    expect(busySectorMask(self, 0, flat, offsets, 1)).toBe(1 << 2);
    expect(fillsEmptySector(mask, 1)).toBe(true);
    expect(fillsEmptySector(mask, 7)).toBe(false);
    const counts = sectorCounts(self, 0, flat, offsets, new Uint16Array(sectorCount).fill(9));
    expect(Array.from(counts)).toEqual([1, 0, 2, 0, 0, 0, 0, 1, 0]);
  });

  it('find the simplex directions no neighbour covers', () => {
    const uncovered = uncoveredDirections(self, 0, flat, offsets);
    expect(uncovered.length).toBeGreaterThan(0);
    for (const d of uncovered) expect(directionIsCovered(self, 0, flat, offsets, d)).toBe(false);
    // The direction "away from every neighbour" (the complement of their vertices) is a hole; the
    // vertex of a neighbour is not.
    const away = ((1 << 0) | (1 << 2) | (1 << 7)) ^ sectorMaskAll;
    expect(uncovered).toContain(away - 1);
    expect(uncovered).not.toContain((1 << 2) - 1);
    expect(uncoveredDirections(self, 0, flat, [])).toHaveLength(simplexDirectionCount);
  });
});

describe('link value', () => {
  it('is −distance plus the bonus per side', () => {
    expect(linkValue(0.2, false, false)).toBe(-0.2);
    expect(linkValue(0.2, true, false)).toBeCloseTo(-0.2 + sectorBonus, 15);
    expect(linkValue(0.2, true, true)).toBeCloseTo(-0.2 + 2 * sectorBonus, 15);
    expect(linkValue(0.2, true, true, 0)).toBe(-0.2);
  });

  it('reorders candidates when a sector is empty, not when the sectors are full', () => {
    // A at some point; B nearer, in A's sector 0; C a bit farther, in A's sector 5; D farther still
    // (beyond one bonus) in sector 5. Candidate ends' own masks are full, so only A's side counts.
    const a = new Uint32Array([1, 0xffff_fff0, 77, 0x8000_0000, 3, 0x1234_5678, 0xdead_beef, 42]);
    const b = offsetPoint(a, vertex(0), 0.1);
    const c = offsetPoint(a, vertex(5), 0.12);
    const d = offsetPoint(a, vertex(5), 0.1 + sectorBonus + 0.01);
    expect(distance(a, 0, b, 0)).toBeLessThan(distance(a, 0, c, 0));
    expect(sectorTowards(a, 0, b, 0)).toBe(0);
    expect(sectorTowards(a, 0, c, 0)).toBe(5);

    const onlySector0Busy = 1 << 0;
    const vB = (maskA: number) => prospectiveLinkValue(a, 0, maskA, b, 0, sectorMaskAll);
    const vC = (maskA: number) => prospectiveLinkValue(a, 0, maskA, c, 0, sectorMaskAll);
    const vD = (maskA: number) => prospectiveLinkValue(a, 0, maskA, d, 0, sectorMaskAll);
    // Sector 5 of A is empty: C fills it and outranks the nearer B.
    expect(vC(onlySector0Busy)).toBeGreaterThan(vB(onlySector0Busy));
    // All of A's sectors are full: plain distance decides, B wins.
    expect(vB(sectorMaskAll)).toBeGreaterThan(vC(sectorMaskAll));
    // A hole is not worth more than one bonus of distance.
    expect(vB(onlySector0Busy)).toBeGreaterThan(vD(onlySector0Busy));
    // The other end's mask counts the same way.
    const vBothB = prospectiveLinkValue(a, 0, 0, b, 0, 0);
    expect(vBothB).toBeCloseTo(-distance(a, 0, b, 0) + 2 * sectorBonus, 12);
  });
});
