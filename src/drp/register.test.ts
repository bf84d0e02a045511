import { describe, expect, it } from 'vitest';
import { pointOfRegId } from '../id/geometry.js';
import { regIdBytes } from '../wire/constants.js';
import {
  pointCacheEntriesMax,
  pointCacheEntryCount,
  pointCacheSetOf,
  pointOfRegIdCached,
} from './register.js';

/** Deterministic pseudo-random regIDs (xorshift32). */
function regIds(count: number, seed: number): Uint8Array[] {
  let x = seed >>> 0 || 1;
  const out: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const r = new Uint8Array(regIdBytes);
    for (let i = 0; i < regIdBytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      r[i] = x & 0xff;
    }
    out.push(r);
  }
  return out;
}

const same = (a: Uint32Array, b: Uint32Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

describe('pointOfRegIdCached', () => {
  it('returns the SHA-256 point of the regID, the same array on a hit', () => {
    const [r] = regIds(1, 1);
    const p = pointOfRegIdCached(r!);
    expect([...p]).toEqual([...pointOfRegId(r!)]);
    expect(pointOfRegIdCached(r!)).toBe(p);
    // An equal regID in another buffer (and at an offset in a larger one) hits too.
    expect(pointOfRegIdCached(r!.slice())).toBe(p);
    const big = new Uint8Array(regIdBytes + 5);
    big.set(r!, 3);
    expect(pointOfRegIdCached(big.subarray(3, 3 + regIdBytes))).toBe(p);
  });

  it('keeps its own copy of the key: a caller reusing its buffer does not corrupt lookups', () => {
    const [r, s] = regIds(2, 2);
    const buf = r!.slice();
    const p = pointOfRegIdCached(buf);
    buf.set(s!);
    expect([...pointOfRegIdCached(buf)]).toEqual([...pointOfRegId(s!)]);
    expect(pointOfRegIdCached(r!)).toBe(p);
    expect([...p]).toEqual([...pointOfRegId(r!)]);
  });

  it('returns correct points for regIDs colliding in one set, and evicted points stay intact', () => {
    const target = pointCacheSetOf(regIds(1, 3)[0]!);
    const colliding = regIds(400_000, 4)
      .filter((r) => pointCacheSetOf(r) === target)
      .slice(0, 5);
    expect(colliding.length).toBe(5);
    const first = colliding.map((r) => pointOfRegIdCached(r));
    for (let round = 0; round < 3; round++) {
      for (const [i, r] of colliding.entries()) {
        const p = pointOfRegIdCached(r);
        expect(same(p, pointOfRegId(r))).toBe(true);
        expect(same(first[i]!, pointOfRegId(r))).toBe(true);
      }
    }
    // Two ways: the two most recently used colliding regIDs both stay cached.
    const [a, b] = colliding;
    const pa = pointOfRegIdCached(a!);
    const pb = pointOfRegIdCached(b!);
    expect(pointOfRegIdCached(a!)).toBe(pa);
    expect(pointOfRegIdCached(b!)).toBe(pb);
    // A third evicts the least recently used (a), not b.
    pointOfRegIdCached(colliding[2]!);
    expect(pointOfRegIdCached(b!)).toBe(pb);
    const pa2 = pointOfRegIdCached(a!);
    expect(pa2).not.toBe(pa);
    expect(same(pa2, pa)).toBe(true);
  });

  it('stays within its bound, all points correct', () => {
    const many = regIds(pointCacheEntriesMax * 3, 5);
    let wrong = 0;
    for (const r of many) if (!same(pointOfRegIdCached(r), pointOfRegId(r))) wrong++;
    expect(pointCacheEntryCount()).toBeLessThanOrEqual(pointCacheEntriesMax);
    expect(pointCacheEntryCount()).toBeGreaterThan(pointCacheEntriesMax * 0.9);
    for (const r of many.slice(0, 1000)) if (!same(pointOfRegIdCached(r), pointOfRegId(r))) wrong++;
    expect(wrong).toBe(0);
  });

  it('computes regIDs of another length without caching them', () => {
    const r = new Uint8Array([1, 2, 3]);
    const before = pointCacheEntryCount();
    expect([...pointOfRegIdCached(r)]).toEqual([...pointOfRegId(r)]);
    expect(pointCacheEntryCount()).toBe(before);
  });
});
