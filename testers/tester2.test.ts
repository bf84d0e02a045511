import { describe, expect, it } from 'vitest';
import { runTester2, tester2Defaults } from './tester2.js';

describe('DRP Tester 2: 25 entry peers + 100 users, 1,000 INVITEs (simulator, no faults)', () => {
  it('delivers and answers every INVITE; every user holds 12–18 neighbours after warm-up', async () => {
    const r = await runTester2({ transport: 'sim', seed: 't2-ci', ...tester2Defaults });
    const replay = `replay: ${r.replay}\n${r.failures.join('\n')}`;
    expect(r.peers, replay).toBe(125);
    expect(r.invitesSent, replay).toBe(1000);
    expect(r.deliveredRatio, replay).toBe(1);
    expect(r.neighborsMin, replay).toBeGreaterThanOrEqual(12);
    expect(r.neighborsMax, replay).toBeLessThanOrEqual(18);
    expect(r.painsByLevel.strongPain, replay).toBe(0);
    expect(typeof r.allSectorsOccupiedRatio).toBe('number');
  }, 300_000);
});
