import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { routingPolicyDefault } from '../../src/drp/policy.js';
import { UsageError } from '../cli/args.js';
import { SeededRng } from '../kernel/rng.js';
import { canGridSides } from './baselines.js';
import { checkMemory, registerScaleCommand, tableJobsFitting } from './cli.js';
import { FastRng } from './fast-rng.js';
import { bytesPerPeer, joinParamsFor, radixSortIndices, ScaleNetwork, slotStrideFor } from './model.js';
import { canFormulaHops, mooreBoundHops, renderReport } from './report.js';
import { bfsHops } from './routes.js';
import { runScale, scaleOptionsDefault, stripTimings } from './run.js';

describe('scale run', () => {
  it('same seed gives identical JSON at 1e4 peers; another seed differs', () => {
    // One join at a time (batched joins, the default, are pinned below).
    const opts = scaleOptionsDefault({
      peers: 1e4,
      routes: 5000,
      seed: 'determinism',
      churn: 0.1,
      join: { joinBatchDivisor: 0 },
    });
    const a = JSON.stringify(stripTimings(runScale(opts)));
    const b = JSON.stringify(stripTimings(runScale(opts)));
    expect(a).toBe(b);
    const c = JSON.stringify(stripTimings(runScale({ ...opts, peers: 2000, routes: 500, seed: 'other' })));
    expect(c).not.toBe(a);
    // Pinned: a faster build or router must compute the same network and routes.
    const r = JSON.parse(a) as ReturnType<typeof stripTimings>;
    expect(r.joinCounters).toEqual({
      registers: 166951,
      registerHops: 1312615,
      registerFailures: 466,
      evictions: 83086,
      deficitDropped: 0,
      longLinksMade: 0,
      gapFills: 14732,
    });
    expect([r.neighborsMean, r.hopsMean, r.deadEnds, r.stretchMean]).toEqual([13.3996, 4.7722, 83, 1.0938]);
    expect([r.churn?.beforeRepair.deadEnds, r.churn?.afterRepair.hopsMean]).toEqual([148, 4.7062]);
  });

  it('batched joins (the default) give identical JSON for the same seed, pinned at 2e4 peers', () => {
    const opts = scaleOptionsDefault({ peers: 2e4, routes: 5000, seed: 'determinism-batched', churn: 0.1 });
    const a = JSON.stringify(stripTimings(runScale(opts)));
    expect(JSON.stringify(stripTimings(runScale(opts)))).toBe(a);
    const r = JSON.parse(a) as ReturnType<typeof stripTimings>;
    expect(r.join?.joinBatchDivisor).toBe(1024);
    expect(r.joinCounters).toEqual({
      registers: 333289,
      registerHops: 2704820,
      registerFailures: 468,
      evictions: 166091,
      deficitDropped: 0,
      longLinksMade: 0,
      gapFills: 28249,
    });
    expect([r.neighborsMean, r.hopsMean, r.deadEnds, r.stretchMean]).toEqual([13.3971, 5.2212, 85, 1.2833]);
    expect([r.churn?.beforeRepair.deadEnds, r.churn?.afterRepair.hopsMean]).toEqual([166, 5.2298]);
  }, 60_000);

  it('shortest paths searched from both ends equal a plain BFS', () => {
    const net = new ScaleNetwork(
      3000,
      joinParamsFor(13, routingPolicyDefault),
      new FastRng(new SeededRng('bfs')),
    );
    net.prepare(3000);
    for (let i = 0; i < 3000; i++) net.joinNext();
    const directed = { count: net.count, slots: net.slots, slotStride: net.slotStride, degree: net.degree };
    const plain = { ...directed, isAlive: () => true };
    const dist = new Int32Array(net.count);
    const distPlain = new Int32Array(net.count);
    const queue = new Uint32Array(net.count);
    const pick = new FastRng(new SeededRng('bfs-pairs'));
    for (let i = 0; i < 300; i++) {
      const s = pick.int(net.count);
      const t = pick.int(net.count);
      expect(bfsHops(net, s, t, dist, queue)).toBe(bfsHops(plain, s, t, distPlain, queue));
    }
    expect(dist.every((d) => d === 0)).toBe(true);
  });

  it('delivers every route at 1e4 with the default policy, under 100 B per peer, and survives churn', () => {
    const r = runScale(scaleOptionsDefault({ peers: 1e4, routes: 1e4, seed: 'quality', churn: 0.1 }));
    for (const key of [
      'peers',
      'neighborsMean',
      'routes',
      'deliveredRatio',
      'hopsMean',
      'hopsP99',
      'buildSeconds',
      'routeSeconds',
      'rssBytes',
    ]) {
      expect(r).toHaveProperty(key);
    }
    expect(r.deliveredRatio).toBe(1);
    expect(r.neighborsMean).toBeLessThanOrEqual(14);
    expect(r.neighborsMean).toBeGreaterThanOrEqual(11);
    expect(r.bytesPerPeer).toBeLessThan(100);
    expect(r.hopsMean).toBeLessThan(6);
    expect(r.churn).not.toBeNull();
    expect(r.churn!.beforeRepair.deliveredRatio).toBeGreaterThanOrEqual(0.99);
    expect(r.churn!.afterRepair.deliveredRatio).toBe(1);
  });

  it('plain greedy (no look-ahead, no fallback) dead-ends where the default policy delivers', () => {
    const base = scaleOptionsDefault({ peers: 5000, routes: 3000, seed: 'plain' });
    const plain = runScale({ ...base, policy: { ...base.policy, lookAhead: false, backtrack: false } });
    const best = runScale(base);
    expect(plain.deliveredRatio).toBeLessThan(0.95);
    expect(best.deliveredRatio).toBe(1);
  });

  it('baselines deliver and match their known hop counts', () => {
    for (const topology of ['knn', 'can', 'kademlia', 'chord'] as const) {
      const r = runScale(scaleOptionsDefault({ peers: 4096, routes: 2000, seed: 'baselines', topology }));
      expect(r.peers).toBe(4096);
      if (topology === 'knn') {
        expect(r.knnRecall!).toBeGreaterThan(0.95);
        expect(r.deliveredRatio).toBeLessThan(1);
      } else {
        expect(r.deliveredRatio).toBe(1);
      }
      if (topology === 'can') expect(r.hopsMean).toBeCloseTo(canFormulaHops(4096), 0);
      if (topology === 'chord' || topology === 'kademlia') {
        expect(r.hopsMean).toBeGreaterThan(4);
        expect(r.hopsMean).toBeLessThan(8);
      }
    }
  });
});

describe('helpers', () => {
  it('CAN grid sides multiply to N and stay balanced', () => {
    for (const n of [1e4, 1e5, 1e6]) {
      const sides = canGridSides(n);
      expect(sides.reduce((a, b) => a * b, 1)).toBe(n);
      expect(Math.max(...sides)).toBeLessThanOrEqual(10);
    }
  });

  it('Moore bound: every peer within 1 hop of a complete graph; grows with log N', () => {
    expect(mooreBoundHops(14, 13)).toBe(1);
    expect(mooreBoundHops(1e6, 13)).toBeGreaterThan(5);
    expect(mooreBoundHops(1e6, 13)).toBeLessThan(6);
  });

  it('radix sort orders indices by key, stably', () => {
    const keys = Uint32Array.from([5, 0xffff_ffff, 3, 5, 0, 70000]);
    expect(Array.from(radixSortIndices(keys))).toEqual([4, 2, 0, 3, 5, 1]);
  });

  it('the model stays under 100 bytes per peer at 13 neighbours', () => {
    expect(bytesPerPeer(slotStrideFor(13))).toBeLessThan(100);
  });

  it('the report embeds the results and d3', () => {
    const r = runScale(scaleOptionsDefault({ peers: 500, routes: 200, seed: 'report' }));
    const html = renderReport([r]);
    expect(html).toContain('"topology":"8d"');
    expect(html.length).toBeGreaterThan(100_000); // d3's bundle is inlined
  });
});

describe('bad input', () => {
  const parse = (args: string[]): { out: string; err: string; code: number | undefined } => {
    const program = new Command('drp-sim').exitOverride();
    let err = '';
    program.configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
    registerScaleCommand(program);
    try {
      program.parse(['node', 'drp-sim', ...args]);
      return { out: '', err, code: undefined };
    } catch (e) {
      if (e instanceof UsageError) return { out: '', err: e.message, code: 2 };
      return { out: '', err, code: (e as { exitCode?: number }).exitCode ?? 1 };
    }
  };

  it.each([
    [['--peers', '0']],
    [['--peers', '-5']],
    [['--peers', 'many']],
    [['--neighbors', '1']],
    [['--topology', 'hypercube']],
    [['--churn', '-0.1']],
    [['scale-table', '--jobs', '0']],
    [['--build-threads', '0']],
    [['--build-threads', '99']],
    [['--join-batch', 'some']],
  ])('%j is a one-line error before any work', (args) => {
    const r = parse(args);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeUndefined();
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  /** Runs `drp-sim <args> --out F` in this process with its output silenced; returns F's path. */
  const runTable = async (args: string[]): Promise<string> => {
    const out = join(mkdtempSync(join(tmpdir(), 'scale-')), 'table.json');
    const program = new Command('drp-sim').exitOverride();
    registerScaleCommand(program);
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const writeErr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await program.parseAsync(['node', 'drp-sim', ...args, '--out', out]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    return out;
  };

  it('scale-table takes its own --routes and --seed (options after the subcommand belong to it)', async () => {
    const sizes = ['scale-table', '--sizes', '500,800', '--topologies', '8d,chord'];
    const out = await runTable([...sizes, '--routes', '300', '--seed', 's']);
    const table = JSON.parse(readFileSync(out, 'utf8')) as {
      seed: string;
      results: { peers: number; routes: number; topology: string }[];
    };
    expect(table.seed).toBe('s');
    expect(table.results.map((r) => `${r.topology}:${r.peers}:${r.routes}`)).toEqual([
      '8d:500:300',
      'chord:500:300',
      '8d:800:300',
      'chord:800:300',
    ]);
  });

  it('scale-table --join-batch 0 builds one join at a time (no threads are asked for)', async () => {
    const sizes = ['scale-table', '--sizes', '3000', '--topologies', '8d'];
    const out = await runTable([...sizes, '--routes', '200', '--jobs', '1', '--join-batch', '0']);
    const table = JSON.parse(readFileSync(out, 'utf8')) as {
      results: { join: { joinBatchDivisor: number } }[];
    };
    expect(table.results.map((r) => r.join.joinBatchDivisor)).toEqual([0]);
  });

  it('scale-table runs at once only what fits in memory together', () => {
    const small = { peers: 1e5, neighbors: 13, topology: '8d' as const };
    const big = { peers: 1e8, neighbors: 13, topology: '8d' as const };
    expect(tableJobsFitting([small, small, small], 2, 24 * 2 ** 30)).toBe(2);
    expect(tableJobsFitting([small], 2, 24 * 2 ** 30)).toBe(1);
    // 1e8 alone fits 24 GiB; with another 1e8 beside it, it does not.
    expect(tableJobsFitting([big, small], 2, 24 * 2 ** 30)).toBe(2);
    expect(tableJobsFitting([big, big], 2, 24 * 2 ** 30)).toBe(1);
  });

  // The built CLI (`npm test` builds first): the worker threads run compiled code, so after editing
  // sources run `npm run build` before this test alone.
  const built = join(import.meta.dirname, '..', '..', 'dist', 'testers', 'drp-sim.js');
  it.skipIf(!existsSync(built))(
    'scale-table gives the same results with runs made at once as one at a time (built CLI, worker threads)',
    () => {
      const table = (jobs: number): unknown => {
        const r = spawnSync(
          process.execPath,
          [
            built,
            'scale-table',
            '--sizes',
            '1500,2500',
            '--topologies',
            '8d,knn,chord',
            '--routes',
            '400',
          ].concat(['--seed', 'jobs', '--json', '--jobs', String(jobs)]),
          { encoding: 'utf8', timeout: 120_000 },
        );
        expect(r.status, r.stderr).toBe(0);
        const parsed = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
          results: Parameters<typeof stripTimings>[0][];
        };
        return parsed.results.map((x) => stripTimings(x));
      };
      const one = table(1);
      expect(table(2)).toEqual(one);
      expect((one as { topology: string; peers: number }[]).map((r) => `${r.topology}:${r.peers}`)).toEqual([
        '8d:1500',
        'knn:1500',
        'chord:1500',
        '8d:2500',
        'knn:2500',
        'chord:2500',
      ]);
    },
  );

  it('refuses a run whose memory estimate exceeds the machine', () => {
    expect(() => checkMemory({ peers: 1e9, neighbors: 13, topology: '8d' }, 24 * 2 ** 30)).toThrow(
      UsageError,
    );
    expect(() => checkMemory({ peers: 1e6, neighbors: 13, topology: '8d' }, 24 * 2 ** 30)).not.toThrow();
  });
});
