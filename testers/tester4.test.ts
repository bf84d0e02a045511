import { describe, expect, it } from 'vitest';
import { formatTester4, runTester4, tester4OptionsDefault } from './tester4.js';

describe('DRP Tester 4 (routing sandbox on the scale model)', () => {
  const opts = tester4OptionsDefault({
    existingPeers: 3000,
    newPeers: 300,
    routes: 2000,
    rejoins: 50,
    seed: 't4',
  });

  it('routes between existing peers and to and from newcomers, and reports neighbour stability', () => {
    const r = runTester4(opts);
    expect(r.existing.deliveredRatio).toBe(1);
    expect(r.newcomers.fromNew.deliveredRatio).toBe(1);
    expect(r.newcomers.toNew.deliveredRatio).toBe(1);
    expect(r.existing.neighborsMean).toBeGreaterThan(11);
    expect(r.existing.emptySectorsMean).toBeLessThan(2);
    expect(r.stability.rejoins).toBe(50);
    // A peer rejoining at the same point finds mostly the same neighbourhood, but not a frozen one.
    expect(r.stability.keptNeighborShareMean).toBeGreaterThan(0.5);
    expect(r.stability.keptNeighborShareMean).toBeLessThanOrEqual(1);
    expect(formatTester4(r)).toContain('neighbour stability');
  });

  it('is deterministic for a seed', () => {
    const small = { ...opts, existingPeers: 1000, newPeers: 100, routes: 500, rejoins: 20 };
    expect(JSON.stringify(runTester4(small))).toBe(JSON.stringify(runTester4(small)));
  });
});
