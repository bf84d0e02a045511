import { describe, expect, it } from 'vitest';
import { SimWorld, type TesterNode } from './world.js';

type Bounds = { neighborsMin: number; neighborsSoftMax: number; neighborsHardMax: number };

/**
 * An entry peer, then `count` open users joining through it `spacingMs` apart, then `settleMs` more;
 * `watch` is called every `stepMs` of simulated time throughout (it sees the users joined so far).
 */
async function joinUsers(
  world: SimWorld,
  config: Bounds,
  count: number,
  spacingMs: number,
  settleMs: number,
  stepMs: number,
  watch: (ep: TesterNode, users: readonly TesterNode[]) => void,
): Promise<{ ep: TesterNode; users: TesterNode[] }> {
  const ep = world.addNodeNow({ name: 'EP', port: 12000, entryPeers: [], register: false, config });
  const users: TesterNode[] = [];
  const step = (): boolean => {
    watch(ep, users);
    return false;
  };
  for (let i = 0; i < count; i++) {
    users.push(
      world.addNodeNow({ name: `U${i}`, nat: 'open', entryPeers: [ep.endpoint], register: true, config }),
    );
    await world.runUntil(step, spacingMs, stepMs);
  }
  await world.runUntil(step, settleMs, stepMs);
  return { ep, users };
}

describe('the neighbour hard maximum', () => {
  it('holds while REGISTERs arrive together: acceptances awaiting their ACK2 count towards it', async () => {
    // Small bounds, users joining 20 ms apart and 150 ms each way: many REGISTERs reach the same peers
    // within one ACK1–ACK2 round trip, and each would see room if only finished links counted.
    const seed = 'neighbour-bounds';
    const world = new SimWorld({ seed, latencyMs: 150 });
    const config = { neighborsMin: 4, neighborsSoftMax: 5, neighborsHardMax: 6 };
    const start = world.kernel.now();
    let worst = { size: 0, name: '', at: 0 };
    const check = (ep: TesterNode, users: readonly TesterNode[]): void => {
      // The entry peer too: every newcomer asks it first.
      for (const u of [ep, ...users]) {
        const size = u.peer?.neighbors.size ?? 0;
        if (size > worst.size) worst = { size, name: u.name, at: world.kernel.now() - start };
      }
    };
    // Joins, then extensions, evictions and the first recycling (120 s) and gap probes (30 s).
    const { users } = await joinUsers(world, config, 40, 20, 150_000, 5, check);
    const replay = `seed ${seed}: ${worst.name} held ${worst.size} neighbours ${worst.at} ms into the run`;
    expect(worst.size, replay).toBeLessThanOrEqual(config.neighborsHardMax);
    // The network formed: everyone is linked, and on average near the minimum (recycling and evictions
    // leave a few peers below it at any moment).
    const counts = users.map((u) => u.peer?.usableLinks().length ?? 0);
    const figures = `${replay}; usable links ${counts.join(' ')}`;
    expect(Math.min(...counts), figures).toBeGreaterThanOrEqual(1);
    expect(counts.reduce((a, b) => a + b, 0) / counts.length, figures).toBeGreaterThanOrEqual(
      config.neighborsMin - 0.5,
    );
  }, 120_000);
});

describe('hole punching over a long round trip', () => {
  it('brings links up when PONGs come back after the next PING has gone out (300 ms each way), rated as good links', async () => {
    // Punch PINGs start 200 ms apart: every PONG answers an earlier PING than the latest one.
    const seed = 'long-rtt';
    const world = new SimWorld({ seed, latencyMs: 300 });
    const config = { neighborsMin: 3, neighborsSoftMax: 4, neighborsHardMax: 5 };
    // Links just up: their round trip and rating (the punch is one answered exchange, not many lost).
    const fresh: { rtt: number; rating: number }[] = [];
    const watch = (_ep: TesterNode, users: readonly TesterNode[]): void => {
      for (const u of users) {
        for (const l of u.peer?.usableLinks() ?? []) {
          if (world.kernel.now() - l.upSinceMs < 100) fresh.push({ rtt: l.rttMs, rating: l.rating() });
        }
      }
    };
    const { users } = await joinUsers(world, config, 8, 500, 60_000, 100, watch);
    const counts = users.map((u) => u.peer?.usableLinks().length ?? 0);
    const figures = `seed ${seed}: usable links ${counts.join(' ')}`;
    expect(Math.min(...counts), figures).toBeGreaterThanOrEqual(1);
    expect(fresh.length, figures).toBeGreaterThan(8);
    for (const f of fresh) {
      expect(f.rtt, figures).toBeGreaterThanOrEqual(600);
      expect(f.rtt, figures).toBeLessThan(700);
      expect(f.rating, figures).toBeGreaterThanOrEqual(0.5);
    }
  }, 120_000);
});
