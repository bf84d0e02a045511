import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttentionLevel } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import { readTrace } from '../src/vision/trace.js';
import { RunTrace, renderRoute } from './report.js';
import { SimWorld, type TesterNode } from './world.js';

describe('a failed INVITE', () => {
  it('is a strong pain whose route (every hop decision) is in the run trace and renders as text', async () => {
    const seed = 'failed-invite-route';
    const world = new SimWorld({ seed, latencyMs: 20 });
    world.vision.setThreshold('drp.route', AttentionLevel.detail);
    const hops: VisionRecord[] = [];
    world.vision.onRecord((r) => {
      if (typeof r.attributes?.tx === 'string' && r.attributes.tx.startsWith('I')) hops.push(r);
    });
    const trace = new RunTrace(world.vision);
    const config = { neighborsMin: 4, neighborsSoftMax: 6, neighborsHardMax: 8 };
    const ep = world.addNodeNow({ name: 'EP', port: 12000, entryPeers: [], register: false, config });
    const users: TesterNode[] = [];
    for (let i = 0; i < 15; i++) {
      users.push(
        world.addNodeNow({ name: `U${i}`, nat: 'open', entryPeers: [ep.endpoint], register: true, config }),
      );
      await world.runFor(300);
    }
    await world.runFor(30_000);
    let failed: { attemptTxIds: readonly string[] } | undefined;
    world.onEvent((_n, e) => {
      if (e.type === 'inviteFailed') failed = e;
    });
    // A regID nobody holds: the INVITE ends at a local minimum of the space.
    const nobody = world.kernel.rng.fork('nobody').bytes(32);
    users[0]!.act((e, now) => e.sendInvite(now, users[0]!.peer!, nobody, new Uint8Array([1])));
    await world.runUntil(() => failed !== undefined, 120_000);
    expect(failed, `seed ${seed}`).toBeDefined();
    const txs = failed!.attemptTxIds;
    expect(txs.length).toBeGreaterThan(0);
    const text = renderRoute(hops, txs);
    expect(text).toMatch(/U0 /);
    expect(text).toMatch(/dist=0\.\d+/);

    const dir = mkdtempSync(join(tmpdir(), 'dcomms-trace-'));
    const path = trace.write(join(dir, 'run.trace'), seed, { test: 'failed-invite-route' }, hops, txs);
    const read = readTrace(new Uint8Array(readFileSync(path)));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.header.seed).toBe(seed);
    const pains = read.records.filter(
      (r) => r.level === AttentionLevel.strongPain && r.message.startsWith('INVITE failed'),
    );
    expect(pains.length).toBe(1);
    const routeInTrace = read.records.filter((r) => txs.includes(String(r.attributes?.tx)));
    expect(routeInTrace.length).toBeGreaterThanOrEqual(txs.length);
    expect(routeInTrace.some((r) => typeof r.attributes?.distance === 'number')).toBe(true);
  }, 120_000);

  it('to a regID nobody holds ends as notFound after two short searches, not after wandering the network', async () => {
    const seed = 'invite-nobody';
    const world = new SimWorld({ seed, latencyMs: 20 });
    const eps = [0, 1, 2, 3].map((i) =>
      world.addNodeNow({ name: `EP${i}`, port: 12000 + i, entryPeers: [], register: false }),
    );
    const users: TesterNode[] = [];
    for (let i = 0; i < 60; i++) {
      users.push(
        world.addNodeNow({
          name: `U${i}`,
          nat: 'open',
          entryPeers: eps.map((e) => e.endpoint),
          register: true,
          onInvite: () => new Uint8Array([2]),
        }),
      );
      await world.runFor(200);
    }
    await world.runFor(60_000);
    const relayed = (): number => world.nodes.reduce((s, n) => s + n.engine.stats.relayed, 0);
    const ended: { type: string; reason?: string }[] = [];
    world.onEvent((_n, e) => {
      if (e.type === 'inviteFailed' || e.type === 'inviteCompleted') ended.push(e);
    });
    const rng = world.kernel.rng.fork('nobody');
    for (let i = 0; i < 5; i++) {
      const before = relayed();
      const startedMs = world.kernel.now();
      const from = users[rng.int(users.length)]!;
      from.act((e, now) => e.sendInvite(now, from.peer!, rng.bytes(32), new Uint8Array([1])));
      await world.runUntil(() => ended.length > i, 60_000);
      expect(ended[i], `seed ${seed}`).toMatchObject({ type: 'inviteFailed', reason: 'notFound' });
      // Before searches were bounded, one such INVITE took ~700 forwards and ~30 s in this network.
      expect(relayed() - before, `seed ${seed}`).toBeLessThan(40);
      expect(world.kernel.now() - startedMs, `seed ${seed}`).toBeLessThan(10_000);
    }
    // The same world still delivers to a user who is there.
    const [a, b] = [users[3]!, users[41]!];
    a.act((e, now) => e.sendInvite(now, a.peer!, b.peer!.regId, new Uint8Array([1])));
    await world.runUntil(() => ended.length > 5, 60_000);
    expect(ended[5]?.type, `seed ${seed}`).toBe('inviteCompleted');
  }, 120_000);
});
