/**
 * Tester 3 as a replayable scenario: the replay key it writes into its trace (every option that shapes
 * the run), and the builder `drp-sim replay` and `drp-sim shrink` rebuild the run with.
 */
import { copyFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SnapshotConfig } from '../sim/vision/capture.js';
import { ReplayConfigError, type ReplayScenario } from '../sim/vision/replay.js';
import type { DrpConfig } from '../src/drp/config.js';
import { isJsonSafe, type JsonObject } from '../src/vision/trace.js';
import type { Tester3Options } from './tester3.js';
import { makeWorld, setupTester3, splitShareMax, tester3Defaults, tester3UdpWarmupMs } from './tester3.js';
import type { SimWorld } from './world.js';

const optionKeys = [
  'entryPeers',
  'users',
  'tempPeers',
  'minutes',
  'warmupMs',
  'churnPeriodMs',
  'invitesPerSec',
  'lossRate',
  'latencyMs',
  'jitterMeanMs',
  'failuresMax',
  'joinSpacingMs',
  'splitShare',
  'splitMs',
] as const;

const snapshotKeys = [
  'level',
  'peersMax',
  'neighbourhoodHops',
  'recordsPerPeer',
  'snapshotsMax',
  'checkpointLevel',
];

/** The replay key's configuration of a tester-3 run. */
export function tester3ReplayConfig(opts: Tester3Options): JsonObject {
  const options: Record<string, number> = {};
  for (const k of optionKeys) options[k] = opts[k];
  return {
    scenario: 'tester3',
    transport: opts.transport,
    options,
    config: (opts.config ?? {}) as JsonObject,
    snapshot: (opts.snapshot ?? {}) as JsonObject,
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Options from a replay key (without the seed); throws ReplayConfigError naming the bad key. */
export function tester3OptionsOf(config: JsonObject, seed: string): Tester3Options {
  if (config.transport !== 'sim') {
    throw new ReplayConfigError(
      `configuration transport must be 'sim' to replay, got ${String(config.transport)}`,
    );
  }
  const o = config.options;
  if (!isObject(o)) throw new ReplayConfigError('configuration has no options object');
  const out: Record<string, number> = {};
  for (const k of optionKeys) {
    const v = o[k] ?? tester3Defaults[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ReplayConfigError(
        `configuration options.${k} must be a non-negative number, got ${String(v)}`,
      );
    }
    out[k] = v;
  }
  if ((out.splitShare ?? 0) > splitShareMax)
    throw new ReplayConfigError(`configuration options.splitShare must be at most ${splitShareMax}`);
  if ((out.joinSpacingMs ?? 1) < 1)
    throw new ReplayConfigError('configuration options.joinSpacingMs must be at least 1');
  if ((out.lossRate ?? 0) >= 1) throw new ReplayConfigError('configuration options.lossRate must be below 1');
  for (const k of Object.keys(o)) {
    if (!(optionKeys as readonly string[]).includes(k)) {
      throw new ReplayConfigError(`configuration options.${k} is not an option of tester 3 in this build`);
    }
  }
  const drp = config.config ?? {};
  if (!isObject(drp) || !isJsonSafe(drp))
    throw new ReplayConfigError('configuration config must be an object');
  const snap = config.snapshot ?? {};
  if (!isObject(snap)) throw new ReplayConfigError('configuration snapshot must be an object');
  for (const k of Object.keys(snap)) {
    if (!snapshotKeys.includes(k)) throw new ReplayConfigError(`configuration snapshot.${k} is not known`);
  }
  return {
    transport: 'sim',
    seed,
    ...(out as Pick<Tester3Options, (typeof optionKeys)[number]>),
    config: drp as Partial<DrpConfig>,
    snapshot: snap as SnapshotConfig,
  };
}

export const tester3Scenario: ReplayScenario = {
  name: 'tester3',
  normalize(config) {
    const opts = tester3OptionsOf(config, '');
    const out: Record<string, unknown> = { ...tester3ReplayConfig(opts) };
    if (config.recordsDropped !== undefined) out.recordsDropped = config.recordsDropped;
    return out as JsonObject;
  },
  build(seed, config) {
    const opts = tester3OptionsOf(config, seed);
    const world = makeWorld(opts) as SimWorld;
    const run = setupTester3(world, opts);
    return { kernel: world.kernel, capture: world.capture, endMs: run.endAtMs + 60_000 };
  },
  record(seed, config, path) {
    const opts = tester3OptionsOf(config, seed);
    const world = makeWorld(opts) as SimWorld;
    const run = setupTester3(world, opts);
    world.kernel.run(run.endAtMs);
    world.kernel.run(run.endAtMs + 60_000);
    const written = String(run.report(0).trace);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(written, path);
    unlinkSync(written);
  },
  shrinkVariants(config) {
    const o = tester3OptionsOf(config, '');
    const out: { label: string; config: JsonObject }[] = [];
    const with_ = (label: string, over: Partial<Tester3Options>): void => {
      out.push({ label, config: tester3ReplayConfig({ ...o, ...over }) });
    };
    const half = (x: number, min: number): number => Math.max(min, Math.floor(x / 2));
    // Big steps first (as delta debugging does): a large case often still fails at an eighth of its size.
    if (o.users >= 160)
      with_(`users ${o.users} -> ${Math.floor(o.users / 8)}`, { users: Math.floor(o.users / 8) });
    if (o.users > 10) with_(`users ${o.users} -> ${half(o.users, 10)}`, { users: half(o.users, 10) });
    if (o.tempPeers > 0)
      with_(`temporary peers ${o.tempPeers} -> ${half(o.tempPeers, 0)}`, { tempPeers: half(o.tempPeers, 0) });
    if (o.entryPeers > 2)
      with_(`entry peers ${o.entryPeers} -> ${half(o.entryPeers, 2)}`, { entryPeers: half(o.entryPeers, 2) });
    if (o.minutes > 0.5)
      with_(`minutes ${o.minutes} -> ${Math.max(0.5, o.minutes / 2)}`, {
        minutes: Math.max(0.5, o.minutes / 2),
      });
    if (o.warmupMs > 20_000)
      with_(`warm-up ${o.warmupMs / 1000} s -> ${Math.max(20, o.warmupMs / 2000)} s`, {
        warmupMs: Math.max(20_000, o.warmupMs / 2),
      });
    if (o.splitShare > 0 && o.splitMs > 10_000)
      with_(`split ${o.splitMs / 1000} s -> ${Math.max(10, Math.floor(o.splitMs / 2000))} s`, {
        splitMs: Math.max(10_000, Math.floor(o.splitMs / 2000) * 1000),
      });
    if (o.lossRate > 0) with_(`loss ${o.lossRate} -> 0`, { lossRate: 0 });
    if (o.users > 10)
      with_(`users ${o.users} -> ${o.users - Math.max(1, Math.floor(o.users / 10))}`, {
        users: o.users - Math.max(1, Math.floor(o.users / 10)),
      });
    return out;
  },
  size(config) {
    const o = tester3OptionsOf(config, '');
    return o.users + o.entryPeers + o.tempPeers;
  },
  command(seed, config) {
    return tester3Command(tester3OptionsOf(config, seed));
  },
};

/** The drp-tester command line that reruns a tester-3 run (flags for every option it can set). */
export function tester3Command(o: Tester3Options): string {
  const flags = [
    `drp-tester 3 --transport ${o.transport} --seed ${o.seed} --peers ${o.users}`,
    `--entry-peers ${o.entryPeers} --temp-peers ${o.tempPeers} --minutes ${o.minutes}`,
  ];
  const d = tester3Defaults;
  if (o.warmupMs !== (o.transport === 'udp' ? tester3UdpWarmupMs : d.warmupMs))
    flags.push(`--warmup ${o.warmupMs / 1000}`);
  if (o.transport === 'sim' && o.lossRate !== d.lossRate) flags.push(`--loss ${o.lossRate}`);
  if (o.joinSpacingMs !== d.joinSpacingMs) flags.push(`--join-spacing ${o.joinSpacingMs}`);
  if (o.splitShare > 0) flags.push(`--split ${o.splitShare} --split-seconds ${o.splitMs / 1000}`);
  return flags.join(' ');
}
