import { describe, expect, it } from 'vitest';
import { SimWorld, type TesterNode } from './world.js';

describe('the neighbour hard maximum', () => {
  it('holds while REGISTERs arrive together: acceptances awaiting their ACK2 count towards it', async () => {
    // Small bounds, users joining 20 ms apart and 150 ms each way: many REGISTERs reach the same peers
    // within one ACK1–ACK2 round trip, and each would see room if only finished links counted.
    const seed = 'neighbour-bounds';
    const world = new SimWorld({ seed, latencyMs: 150 });
    const config = { neighborsMin: 4, neighborsSoftMax: 5, neighborsHardMax: 6 };
    const ep = world.addNodeNow({ name: 'EP', port: 12000, entryPeers: [], register: false, config });
    const users: TesterNode[] = [];
    const start = world.kernel.now();
    let worst = { size: 0, name: '', at: 0 };
    const check = (): boolean => {
      // The entry peer too: every newcomer asks it first.
      for (const u of [ep, ...users]) {
        const size = u.peer?.neighbors.size ?? 0;
        if (size > worst.size) worst = { size, name: u.name, at: world.kernel.now() - start };
      }
      return false;
    };
    for (let i = 0; i < 40; i++) {
      users.push(
        world.addNodeNow({ name: `U${i}`, nat: 'open', entryPeers: [ep.endpoint], register: true, config }),
      );
      await world.runUntil(check, 20, 5);
    }
    // Joins, extensions, evictions and the first recycling (120 s) and gap probes (30 s).
    await world.runUntil(check, 150_000, 10);
    const replay = `seed ${seed}: ${worst.name} held ${worst.size} neighbours ${worst.at} ms into the run`;
    expect(worst.size, replay).toBeLessThanOrEqual(config.neighborsHardMax);
    // The network formed: everyone is at or near the minimum.
    const counts = users.map((u) => u.peer?.usableLinks().length ?? 0);
    console.error(
      'DBG',
      users.map((u) => `${u.name}:${u.peer?.usableLinks().length}/${u.peer?.neighbors.size}`).join(' '),
    );
    expect(Math.min(...counts), replay).toBeGreaterThanOrEqual(config.neighborsMin - 1);
  }, 120_000);
});

describe('hole punching over a long round trip', () => {
  it('brings links up when PONGs come back after the next PING has gone out (300 ms each way)', async () => {
    // Punch PINGs start 200 ms apart: every PONG answers an earlier PING than the latest one.
    const seed = 'long-rtt';
    const world = new SimWorld({ seed, latencyMs: 300 });
    const config = { neighborsMin: 3, neighborsSoftMax: 4, neighborsHardMax: 5 };
    const ep = world.addNodeNow({ name: 'EP', port: 12000, entryPeers: [], register: false, config });
    const users: TesterNode[] = [];
    for (let i = 0; i < 8; i++) {
      users.push(
        world.addNodeNow({ name: `U${i}`, nat: 'open', entryPeers: [ep.endpoint], register: true, config }),
      );
      await world.runFor(500);
    }
    await world.runFor(60_000);
    const counts = users.map((u) => u.peer?.usableLinks().length ?? 0);
    expect(Math.min(...counts), `seed ${seed}: usable links ${counts.join(' ')}`).toBeGreaterThanOrEqual(
      config.neighborsMin,
    );
  }, 120_000);
});
