import { describe, expect, it } from 'vitest';
import { runTester1 } from './tester1.js';

describe('DRP Tester 1: registration through two proxies, one INVITE', () => {
  for (const transport of ['sim', 'udp'] as const) {
    it(`${transport}: A registers via EP → X → N and its INVITE to X is delivered and answered`, async () => {
      const seed = 't1-ci';
      const r = await runTester1({ transport, seed });
      const replay = `replay: ${r.replay}`;
      expect(r.failures, replay).toEqual([]);
      expect(r.registrationRoute, replay).toEqual(['A', 'EP', 'X', 'N']);
      expect(r.deliveredRatio, replay).toBe(1);
      expect(r.answeredBy, replay).toEqual(['X']);
      expect(r.hopsMax, replay).toBeGreaterThanOrEqual(2);
      expect(r.painsByLevel.strongPain, replay).toBe(0);
    });
  }

  it('sim: the same seed gives the same event hash', async () => {
    const a = await runTester1({ transport: 'sim', seed: 'det' });
    const b = await runTester1({ transport: 'sim', seed: 'det' });
    expect(a.eventHash).toBe(b.eventHash);
    expect(a.eventHash).not.toBe((await runTester1({ transport: 'sim', seed: 'det2' })).eventHash);
  });
});
