import { describe, expect, it } from 'vitest';
import { runTester3, tester3Defaults } from './tester3.js';

describe('DRP Tester 3: soak with churn', () => {
  it('sim: 2% loss, 30 ms + jitter, churn — ≥ 99.5% of INVITEs to online peers delivered after warm-up', async () => {
    const r = await runTester3({ transport: 'sim', seed: 't3-ci', ...tester3Defaults, minutes: 2 });
    const replay = `replay: ${r.replay}\n${r.failures.join('\n')}`;
    expect(r.invitesSent, replay).toBeGreaterThan(200);
    expect(r.deliveredRatio, replay).toBeGreaterThanOrEqual(0.995);
    expect(r.tempPeersJoined, replay).toBeGreaterThan(3);
    expect(r.usersNeighborsMin, replay).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('sim: the determinism check passes on a tester-3 run', async () => {
    const r = await runTester3(
      {
        transport: 'sim',
        seed: 't3-det',
        ...tester3Defaults,
        users: 30,
        tempPeers: 6,
        minutes: 0.5,
        warmupMs: 30_000,
      },
      true,
    );
    expect(r.determinism, r.replay).toMatch(/^ok: \d+ events$/);
  }, 300_000);

  it('udp: loopback, bounded to about 2 minutes — ≥ 99% delivered', async () => {
    const r = await runTester3({
      transport: 'udp',
      seed: 'udp',
      ...tester3Defaults,
      entryPeers: 4,
      users: 30,
      tempPeers: 6,
      minutes: 1,
      warmupMs: 20_000,
      churnPeriodMs: 5_000,
    });
    const why = r.failures.join('\n');
    expect(r.invitesSent, why).toBeGreaterThan(60);
    expect(r.deliveredRatio, why).toBeGreaterThanOrEqual(0.99);
  }, 300_000);
});
