import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit.js';

describe('TokenBucket', () => {
  it('starts full: a burst of `burst` requests passes at once, the next is refused', () => {
    const b = new TokenBucket(3, 10, 0);
    for (let i = 0; i < 10; i++) expect(b.take(0), `take #${i}`).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.exhausted(0)).toBe(true);
  });

  it('refills at ratePerSec: an empty 3/s bucket admits 3 more after one second, not 4', () => {
    const b = new TokenBucket(3, 10, 0);
    while (b.take(0));
    expect(b.take(333)).toBe(false); // 0.999 token
    expect(b.take(334)).toBe(true); // 1.002 tokens
    expect(b.take(668)).toBe(true);
    expect(b.take(1002)).toBe(true);
    expect(b.take(1002)).toBe(false);
  });

  it('never holds more than burst, however long it was idle', () => {
    const b = new TokenBucket(3, 10, 0);
    expect(b.available(1_000_000)).toBe(10);
    let passed = 0;
    while (b.take(1_000_000)) passed++;
    expect(passed).toBe(10);
  });

  it('admits about rate × duration + burst over a sustained 100/s flood', () => {
    const b = new TokenBucket(3, 10, 0);
    let passed = 0;
    for (let t = 0; t < 60_000; t += 10) if (b.take(t)) passed++;
    // 10 burst + 3/s × 60 s (the last partial token may or may not have matured).
    expect(passed).toBeGreaterThanOrEqual(189);
    expect(passed).toBeLessThanOrEqual(190);
  });

  it('ignores a clock that goes backwards (no refill, no negative tokens)', () => {
    const b = new TokenBucket(1, 2, 1_000);
    expect(b.take(1_000)).toBe(true);
    expect(b.take(1_000)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.available(500)).toBeGreaterThanOrEqual(0);
    expect(b.take(2_000)).toBe(true);
  });

  it('exhausted() reports the flood state and clears once a token matured', () => {
    const b = new TokenBucket(2, 1, 0);
    expect(b.exhausted(0)).toBe(false);
    b.take(0);
    expect(b.exhausted(0)).toBe(true);
    expect(b.exhausted(499)).toBe(true);
    expect(b.exhausted(500)).toBe(false);
  });
});
