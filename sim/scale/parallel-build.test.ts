import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeBusyMask, routingPolicyDefault, slotPeerMask } from '../../src/drp/policy.js';
import { SeededRng } from '../kernel/rng.js';
import { FastRng } from './fast-rng.js';
import { joinBatchAt, joinBatchMax, joinParamsFor, joinTickEvery, ScaleNetwork } from './model.js';
import { BatchedJoins } from './parallel-build.js';
import { runScale, scaleOptionsDefault, stripTimings } from './run.js';

describe('the batch schedule', () => {
  it('is a power of two dividing the position, at most position/divisor and joinBatchMax', () => {
    expect(joinBatchMax).toBeLessThanOrEqual(joinTickEvery);
    expect(joinTickEvery % joinBatchMax).toBe(0);
    for (const divisor of [1, 7, 64, 1024]) {
      for (let at = 0; at < 3e5; at += 1 + Math.floor(at / 50)) {
        const b = joinBatchAt(at, divisor);
        expect(Number.isInteger(Math.log2(b))).toBe(true);
        expect(at % b).toBe(0);
        expect(b).toBeLessThanOrEqual(Math.max(1, at / divisor));
        expect(b).toBeLessThanOrEqual(joinBatchMax);
      }
    }
    expect(joinBatchAt(1 << 20, 0)).toBe(1);
    expect(joinBatchAt(1 << 20, 64)).toBe(joinBatchMax);
    // From a position that is a multiple of the batch, batches run back to back up to every progress check.
    let at = 0;
    while (at < 5 * joinTickEvery) {
      const b = joinBatchAt(at, 16);
      expect(Math.floor(at / joinTickEvery)).toBe(Math.floor((at + b - 1) / joinTickEvery));
      at += b;
    }
  });
});

describe('per-join streams', () => {
  it('depend on the key and the position only', () => {
    const key = [1, 2, 3, 4] as const;
    const draw = (r: FastRng, i: number): number[] => {
      r.reseed(key, i);
      return [r.uint32(), r.uint32(), r.uint32()];
    };
    const a = new FastRng({ uint32: () => 9 });
    const b = new FastRng({ uint32: () => 5 });
    const first = draw(a, 17);
    draw(a, 18);
    expect(draw(b, 17)).toEqual(first);
    expect(draw(a, 17)).toEqual(first);
    expect(draw(a, 16)).not.toEqual(first);
    const other = new FastRng({ uint32: () => 1 });
    other.reseed([1, 2, 3, 5], 17);
    expect(other.uint32()).not.toBe(first[0]);
  });
});

/** A batched build of n peers and one batched recycling round, on this thread. */
function batchedBuild(n: number, divisor: number, foresee: boolean): ScaleNetwork {
  const params = joinParamsFor(13, routingPolicyDefault, { joinBatchDivisor: divisor });
  const model = new ScaleNetwork(n, params, new FastRng(new SeededRng('batched').fork('build')));
  model.prepare(n);
  const joins = new BatchedJoins(model, [11, 22, 33, 44], 1, foresee);
  while (model.joined < n) joins.joinBatch();
  joins.recycleRound(undefined, 0, 0);
  joins.close();
  return model;
}

describe('batched joins', () => {
  const n = 20_000;
  const foreseen = batchedBuild(n, 16, true);

  it('apply foreseen evictions exactly as evictions chosen when the link is made (joins, recycling)', () => {
    const chosen = batchedBuild(n, 16, false);
    expect(foreseen.foreseenHits).toBeGreaterThan(n / 4);
    expect(chosen.foreseenHits).toBe(0);
    expect(foreseen.counters).toEqual(chosen.counters);
    expect(Buffer.compare(Buffer.from(foreseen.slots.buffer), Buffer.from(chosen.slots.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(foreseen.degree.buffer), Buffer.from(chosen.degree.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(foreseen.busy.buffer), Buffer.from(chosen.busy.buffer))).toBe(0);
  }, 60_000);

  it('leave a consistent network: links at both ends, degrees in bounds, busy masks right', () => {
    const m = foreseen;
    const stride = m.slotStride;
    let below = 0;
    for (let p = 0; p < n; p++) {
      const deg = m.degree[p]!;
      expect(deg).toBeLessThanOrEqual(m.params.softMax);
      if (deg < m.params.minNeighbors) below++;
      const seen = new Set<number>();
      for (let j = 0; j < deg; j++) {
        const q = m.slots[p * stride + j]! & slotPeerMask;
        expect(q).not.toBe(p);
        expect(seen.has(q)).toBe(false);
        seen.add(q);
        let back = false;
        for (let k = 0; k < m.degree[q]!; k++)
          if ((m.slots[q * stride + k]! & slotPeerMask) === p) back = true;
        expect(back).toBe(true);
      }
      expect(m.busy[p]).toBe(computeBusyMask(m, p));
    }
    // Peers left below the minimum are the few the last joins' evictions left queued.
    expect(below).toBeLessThan(n / 100);
  });

  it('route as well as joins one at a time (1e4 peers, same seed)', () => {
    const base = { peers: 1e4, routes: 4000, stretchSamples: 0, seed: 'batch-quality' };
    const one = runScale(scaleOptionsDefault({ ...base, join: { joinBatchDivisor: 0 } }));
    const batched = runScale(scaleOptionsDefault({ ...base, join: { joinBatchDivisor: 64 } }));
    expect(one.join?.joinBatchDivisor).toBe(0);
    expect(batched.join?.joinBatchDivisor).toBe(64);
    expect(batched.deliveredRatio).toBe(1);
    expect(batched.neighborsMean).toBeGreaterThan(13);
    expect(Math.abs(batched.hopsMean - one.hopsMean)).toBeLessThan(0.1);
  }, 60_000);

  it('resume from a checkpoint to the uninterrupted build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drp-batched-'));
    try {
      const opts = scaleOptionsDefault({
        peers: 12_000,
        routes: 500,
        stretchSamples: 0,
        seed: 'batched-resume',
        join: { joinBatchDivisor: 16 },
      });
      const path = join(dir, 'b.ckpt');
      const hooks = (stopAt: number | null) => ({
        progress: (phase: string, done: number) => !(stopAt !== null && phase === 'build' && done >= stopAt),
        checkpoint: { path, everyMs: 1e9 },
      });
      expect(runScale(opts, hooks(8192)).interrupted).toBe(true);
      const resumed = runScale(opts, hooks(null));
      expect(JSON.stringify(stripTimings(resumed))).toBe(JSON.stringify(stripTimings(runScale(opts))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  // The built CLI (`npm test` builds first): helper threads run compiled code.
  const built = join(import.meta.dirname, '..', '..', 'dist', 'testers', 'drp-sim.js');
  it.skipIf(!existsSync(built))(
    'give the same network on one thread as on two (built CLI, helper threads)',
    () => {
      const run = (threads: number): { result: unknown; stderr: string } => {
        const r = spawnSync(
          process.execPath,
          [built, '--peers', '3e4', '--routes', '2000', '--seed', 'threads', '--join-batch', '64'].concat([
            '--stretch-samples',
            '4',
            '--build-threads',
            String(threads),
            '--json',
          ]),
          { encoding: 'utf8', timeout: 120_000 },
        );
        expect(r.status, r.stderr).toBe(0);
        const parsed = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Parameters<typeof stripTimings>[0];
        return { result: stripTimings(parsed), stderr: r.stderr };
      };
      const refused = spawnSync(process.execPath, [built, '--build-threads', '2', '--join-batch', '0'], {
        encoding: 'utf8',
      });
      expect(refused.status).toBe(2);
      expect(refused.stderr.trim().split('\n')).toEqual([
        'drp-sim: error: --build-threads above 1 plans batched joins: --join-batch must not be 0',
      ]);
      const one = run(1);
      const two = run(2);
      expect(one.stderr).toMatch(/planned on 1 thread;/);
      expect(two.stderr).toMatch(/planned on 2 threads;/);
      expect(two.result).toEqual(one.result);
    },
    180_000,
  );
});
