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
});
