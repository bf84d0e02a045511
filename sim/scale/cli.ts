/**
 * The scale commands of `drp-sim`:
 *
 *   drp-sim --peers 1e6 --topology 8d [--neighbors 13] [--routes 100000] [--churn 0.1] [--seed S]
 *           [--json] [--report out.html] [--checkpoint build.ckpt [--checkpoint-every 30]]
 *   drp-sim scale-table --sizes 1e5,1e6 [--topologies 8d,knn,can,kademlia,chord] [--markdown]
 *           [--json] [--out results.json] [--report out.html] [--jobs N]
 *   drp-sim scale-report --in a.json,b.json --report out.html
 *
 * Research flags (--no-look-ahead, --long-links, --min-neighbors, ...) vary the policy; see
 * docs/routing.md. `registerScaleCommand` turns on commander's positional options so the run options
 * given after `scale-table` belong to it.
 *
 * Arguments are checked before any work: a bad value or a run whose memory estimate exceeds this
 * machine is one line on stderr and a non-zero exit. Progress with an ETA goes to stderr; Ctrl-C stops
 * at the next progress check and says so. With `--checkpoint` the 8d build is saved now and then, at
 * Ctrl-C and at its end (`checkpoint.ts`); the same command resumes it, or skips a finished build.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { routingPolicyDefault, slotStrideMax } from '../../src/drp/policy.js';
import { type PainSnapshot, snapshotItemFields, traceItemKindSnapshot } from '../../src/vision/snapshot.js';
import { type JsonObject, traceHeader } from '../../src/vision/trace.js';
import {
  countOption,
  decimalOption,
  defaultSeed,
  formatTable,
  Interrupt,
  Progress,
  UsageError,
} from '../cli/args.js';
import { FileTraceSink, traceCreatedBy } from '../trace/file-sink.js';
import { projectCommit, projectSourceHash } from '../vision/build-info.js';
import {
  buildKeyOf,
  CheckpointError,
  checkpointCreatedBy,
  checkpointEveryMinutesDefault,
  inspectCheckpoint,
} from './checkpoint.js';
import { joinBatchDivisorDefault, joinParamsFor } from './model.js';
import { buildThreadsDefault, buildThreadsMax } from './parallel-build.js';
import { renderReport } from './report.js';
import {
  type CheckpointOptions,
  describePosition,
  estimateBytes,
  runScale,
  type ScaleOptions,
  type ScaleResult,
  scaleOptionsDefault,
  type Topology,
  topologies,
} from './run.js';
import type { WorkerInput, WorkerMessage } from './worker.js';

/** Peers a run may ask for at most (Uint32 peer numbers with a flag bit). */
export const peersMax = 2 ** 31 - 1;
/** Largest --neighbors: the slot row (neighbors + 3) must fit the policy's scratch. */
export const neighborsMax = slotStrideMax - 3;

interface RunFlags {
  peers: number;
  topology: Topology;
  neighbors: number;
  routes: number;
  churn: number;
  seed?: string;
  json?: boolean;
  report?: string;
  longLinks?: number;
  lookAhead: boolean;
  backtrack: boolean;
  sectorBonus?: number;
  lookAheadHopCost?: number;
  occlusionWeight?: number;
  inviteSearch: 'model' | 'engine';
  refineRounds?: number;
  recycleRounds?: number;
  minNeighbors?: number;
  randomHops?: number;
  spareMargin?: number;
  joinBatch: number;
  buildThreads?: number;
  gapFill: boolean;
  spareEviction: boolean;
  stretchSamples: number;
  trace?: string;
  snapshots: number;
  checkpoint?: string;
  checkpointEvery: number;
}

/** Throws a UsageError when the run would not fit this machine's memory. */
export function checkMemory(
  opts: Pick<ScaleOptions, 'peers' | 'neighbors' | 'topology'>,
  memoryBytes = totalmem(),
): void {
  const need = estimateBytes(opts);
  if (need > memoryBytes * 0.9) {
    throw new UsageError(
      `--peers ${opts.peers} needs about ${(need / 2 ** 30).toFixed(1)} GiB, more than this machine's ` +
        `${(memoryBytes / 2 ** 30).toFixed(1)} GiB allows`,
    );
  }
}

function optionsFromFlags(flags: RunFlags, seed: string): ScaleOptions {
  if (flags.minNeighbors !== undefined && flags.minNeighbors > flags.neighbors + 1) {
    throw new UsageError(
      `--min-neighbors ${flags.minNeighbors} must not exceed --neighbors + 1 (${flags.neighbors + 1})`,
    );
  }
  if (flags.buildThreads !== undefined && flags.buildThreads > 1 && flags.joinBatch === 0) {
    throw new UsageError('--build-threads above 1 plans batched joins: --join-batch must not be 0');
  }
  const join: Record<string, number> = {};
  if (flags.longLinks !== undefined) join.longLinks = flags.longLinks;
  if (flags.refineRounds !== undefined) join.refineRounds = flags.refineRounds;
  if (flags.recycleRounds !== undefined) join.recycleRounds = flags.recycleRounds;
  if (flags.minNeighbors !== undefined) join.minNeighbors = flags.minNeighbors;
  if (flags.randomHops !== undefined) join.randomHopsMax = flags.randomHops;
  if (flags.spareMargin !== undefined) join.spareEvictionMargin = flags.spareMargin;
  join.joinBatchDivisor = flags.joinBatch;
  const joinFlags: Record<string, boolean> = {};
  if (!flags.gapFill) joinFlags.gapFill = false;
  return scaleOptionsDefault({
    peers: flags.peers,
    topology: flags.topology,
    neighbors: flags.neighbors,
    routes: flags.routes,
    churn: flags.churn,
    seed,
    stretchSamples: flags.stretchSamples,
    policy: {
      ...routingPolicyDefault,
      lookAhead: flags.lookAhead,
      backtrack: flags.backtrack,
      spareAwareEviction: flags.spareEviction,
      ...(flags.sectorBonus !== undefined ? { sectorBonus: flags.sectorBonus } : {}),
      ...(flags.lookAheadHopCost !== undefined ? { lookAheadHopCost: flags.lookAheadHopCost } : {}),
      ...(flags.occlusionWeight !== undefined ? { occlusionWeight: flags.occlusionWeight } : {}),
    },
    join: { ...join, ...joinFlags },
    ...(flags.inviteSearch === 'engine' ? { inviteSearch: 'engine' as const } : {}),
    ...(flags.buildThreads !== undefined ? { buildThreads: flags.buildThreads } : {}),
  });
}

/** Runs `scale-table` makes at once by default: one per core, at most 2 (each run is one thread). */
export const tableJobsDefault = Math.max(1, Math.min(2, availableParallelism()));
/** Largest --jobs. */
export const tableJobsMax = 16;

/**
 * How many of `configs` may run at once: `jobs`, fewer while the largest estimates together would not
 * fit in memory (each config alone was already checked).
 */
export function tableJobsFitting(
  configs: readonly Pick<ScaleOptions, 'peers' | 'neighbors' | 'topology'>[],
  jobs: number,
  memoryBytes = totalmem(),
): number {
  const needs = configs.map((c) => estimateBytes(c)).sort((a, b) => b - a);
  let fit = Math.max(1, Math.min(jobs, configs.length));
  while (fit > 1 && needs.slice(0, fit).reduce((a, b) => a + b, 0) > memoryBytes * 0.9) fit--;
  return fit;
}

/** How often the main thread passes a pending Ctrl-C to the running worker. */
export const interruptPollMs = 100;

export interface RunWithProgressOptions {
  /** Pain snapshots wanted at most (`RunHooks.snapshots`), collected into `into`. */
  readonly snapshots?: { readonly max: number; readonly into: PainSnapshot[] };
  /** Shared by runs made at once (one Ctrl-C stops them all); disposed by its owner. */
  readonly interrupt?: Interrupt;
  readonly checkpoint?: CheckpointOptions;
}

/**
 * Runs one configuration in a worker thread, with progress on stderr and Ctrl-C handling: the first
 * Ctrl-C stops the run at its next progress check (the result says `interrupted`).
 */
export function runWithProgress(opts: ScaleOptions, how: RunWithProgressOptions = {}): Promise<ScaleResult> {
  const { checkpoint, interrupt: sharedInterrupt } = how;
  const snapshotsMax = how.snapshots?.max ?? 0;
  const onSnapshot = (s: PainSnapshot): void => void how.snapshots?.into.push(s);
  const note = (text: string): void => void process.stderr.write(`${text}\n`);
  const bars = new Map<string, Progress>();
  const progress = (phase: string, done: number, total: number): void => {
    let bar = bars.get(phase);
    if (bar === undefined) {
      bar = new Progress(`${opts.topology} ${opts.peers.toLocaleString('en-US')} ${phase}`, total);
      bars.set(phase, bar);
    }
    bar.update(done);
  };
  const workerUrl = new URL('./worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(workerUrl))) {
    // Running from TypeScript sources (tests): no compiled worker, run in this thread.
    return Promise.resolve(
      runScale(opts, {
        progress: (phase, done, total) => {
          progress(phase, done, total);
          return true;
        },
        ...(snapshotsMax > 0 ? { snapshots: { max: snapshotsMax, onSnapshot } } : {}),
        ...(checkpoint !== undefined ? { checkpoint, note } : {}),
      }),
    );
  }
  const interrupt = sharedInterrupt ?? new Interrupt();
  const stopBuffer = new SharedArrayBuffer(4);
  const stop = new Int32Array(stopBuffer);
  const worker = new Worker(workerUrl, {
    workerData: {
      opts,
      stop: stopBuffer,
      snapshotsMax,
      ...(checkpoint !== undefined ? { checkpoint } : {}),
    } satisfies WorkerInput,
  });
  const poll = setInterval(() => {
    if (interrupt.requested) Atomics.store(stop, 0, 1);
  }, interruptPollMs);
  return new Promise<ScaleResult>((resolve, reject) => {
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearInterval(poll);
      if (sharedInterrupt === undefined) interrupt.dispose();
    };
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        progress(m.phase, m.done, m.total);
      } else if (m.type === 'snapshot') {
        onSnapshot(m.snapshot);
      } else if (m.type === 'note') {
        note(m.text);
      } else {
        finish();
        resolve(m.result);
      }
    });
    worker.on('error', (err) => {
      finish();
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) {
        finish();
        reject(new Error(`scale worker exited with code ${code}`));
      }
    });
  });
}

/**
 * The checkpoint of a run, when `--checkpoint` asks for one: checked before any work (8d only; an
 * existing file must be a checkpoint of this build), with what it holds said on stderr.
 */
function checkpointFor(flags: RunFlags, opts: ScaleOptions): CheckpointOptions | undefined {
  if (flags.checkpoint === undefined) return undefined;
  if (opts.topology !== '8d') throw new UsageError('--checkpoint saves the 8d build only');
  const params = joinParamsFor(opts.neighbors, opts.policy, opts.join);
  let info: ReturnType<typeof inspectCheckpoint>;
  try {
    info = inspectCheckpoint(flags.checkpoint, buildKeyOf(opts.peers, opts.seed, params));
  } catch (err) {
    if (err instanceof CheckpointError) throw new UsageError(err.message);
    throw err;
  }
  if (info !== null) {
    const here = checkpointCreatedBy();
    if (info.createdBy.sourceHash !== here.sourceHash) {
      process.stderr.write(
        `checkpoint: written by ${info.createdBy.commit ?? 'another build'} from other sources than these; ` +
          'the resumed build equals an uninterrupted one only if the join process is unchanged between them\n',
      );
    }
    process.stderr.write(
      `checkpoint: ${flags.checkpoint} holds this build at ${describePosition(info.position, opts.peers)} ` +
        `(${info.bytes >= 2 ** 30 ? `${(info.bytes / 2 ** 30).toFixed(1)} GiB` : `${(info.bytes / 2 ** 20).toFixed(1)} MiB`})\n`,
    );
  }
  return {
    path: flags.checkpoint,
    everyMs: flags.checkpointEvery * 60_000,
    ...(info !== null ? { mustExist: true } : {}),
  };
}

/** A word for a POSIX shell: as is when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command line of this process as `drp-sim ...` (the same options resume a checkpointed build). */
function resumeCommand(): string {
  return ['drp-sim', ...process.argv.slice(2)].map(shellWord).join(' ');
}

/** The command line that rebuilds a run (the scale model replays by rerunning: same seed, same network). */
export function rerunCommand(flags: RunFlags, seed: string): string {
  const parts = [
    `drp-sim --peers ${flags.peers} --topology ${flags.topology} --neighbors ${flags.neighbors}`,
  ];
  parts.push(`--routes ${flags.routes}`);
  if (flags.churn > 0) parts.push(`--churn ${flags.churn}`);
  if (flags.longLinks !== undefined) parts.push(`--long-links ${flags.longLinks}`);
  if (flags.sectorBonus !== undefined) parts.push(`--sector-bonus ${flags.sectorBonus}`);
  if (flags.lookAheadHopCost !== undefined) parts.push(`--look-ahead-hop-cost ${flags.lookAheadHopCost}`);
  if (flags.occlusionWeight !== undefined) parts.push(`--occlusion-weight ${flags.occlusionWeight}`);
  if (flags.inviteSearch === 'engine') parts.push('--invite-search engine');
  if (flags.refineRounds !== undefined) parts.push(`--refine-rounds ${flags.refineRounds}`);
  if (flags.recycleRounds !== undefined) parts.push(`--recycle-rounds ${flags.recycleRounds}`);
  if (flags.minNeighbors !== undefined) parts.push(`--min-neighbors ${flags.minNeighbors}`);
  if (flags.randomHops !== undefined) parts.push(`--random-hops ${flags.randomHops}`);
  if (flags.spareMargin !== undefined) parts.push(`--spare-margin ${flags.spareMargin}`);
  // The batch divisor shapes the network; the thread count does not (any count rebuilds it).
  if (flags.joinBatch !== joinBatchDivisorDefault) parts.push(`--join-batch ${flags.joinBatch}`);
  if (!flags.gapFill) parts.push('--no-gap-fill');
  if (!flags.spareEviction) parts.push('--no-spare-eviction');
  if (!flags.lookAhead) parts.push('--no-look-ahead');
  if (!flags.backtrack) parts.push('--no-backtrack');
  if (flags.stretchSamples !== 16) parts.push(`--stretch-samples ${flags.stretchSamples}`);
  parts.push(`--seed ${seed}`);
  if (flags.trace !== undefined) parts.push(`--trace ${flags.trace} --snapshots ${flags.snapshots}`);
  return parts.join(' ');
}

/** Writes a scale run's pain snapshots as a trace; its key names the run and the command that rebuilds it. */
export function writeScaleTrace(
  path: string,
  seed: string,
  opts: ScaleOptions,
  rerun: string,
  snapshots: readonly PainSnapshot[],
): void {
  const sink = new FileTraceSink(path);
  sink.writeHeader(
    traceHeader(
      seed,
      {
        scenario: 'scale',
        rerun,
        options: JSON.parse(JSON.stringify(opts)) as JsonObject,
      },
      traceCreatedBy(projectCommit(), projectSourceHash()),
    ),
  );
  for (const s of snapshots) sink.writeItem(traceItemKindSnapshot, snapshotItemFields(s));
  sink.close();
}

/** Ends an action's promise: a failure is one line on stderr and exit code 1. */
function settle(work: Promise<void>): Promise<void> {
  return work.catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

export function summaryTable(results: readonly ScaleResult[]): string {
  return formatTable(
    [
      'topology',
      'peers',
      'state/peer',
      'delivered %',
      'hops mean',
      'p50',
      'p99',
      'max',
      'dead ends',
      'stretch',
      'build s',
      'route s',
    ],
    results.map((r) => [
      r.topology,
      r.peers,
      r.statePerPeer.toFixed(1),
      (r.deliveredRatio * 100).toFixed(3),
      r.hopsMean.toFixed(2),
      r.hopsP50,
      r.hopsP99,
      r.hopsMax,
      r.deadEnds,
      r.stretchMean.toFixed(2),
      r.buildSeconds.toFixed(1),
      r.routeSeconds.toFixed(1),
    ]),
  );
}

/** The side-by-side table as Markdown (docs/routing.md). */
export function markdownTable(results: readonly ScaleResult[]): string {
  const head =
    '| topology | peers | state/peer | bytes/peer | delivered % | hops mean | hops p99 | dead ends | stretch | build s |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows = results.map(
    (r) =>
      `| ${r.topology} | ${r.peers.toLocaleString('en-US')} | ${r.statePerPeer.toFixed(1)} | ${r.bytesPerPeer} | ` +
      `${(r.deliveredRatio * 100).toFixed(3)} | ${r.hopsMean.toFixed(2)} | ${r.hopsP99} | ${r.deadEnds} | ` +
      `${r.stretchMean.toFixed(2)} | ${r.buildSeconds.toFixed(1)} |`,
  );
  return [head, ...rows].join('\n');
}

function churnLines(r: ScaleResult): string {
  if (r.churn === null) return '';
  const c = r.churn;
  return (
    `churn ${(c.removedShare * 100).toFixed(1)}% (${c.removed.toLocaleString('en-US')} peers removed): ` +
    `delivered ${(c.beforeRepair.deliveredRatio * 100).toFixed(3)}% without repair ` +
    `(hops ${c.beforeRepair.hopsMean.toFixed(2)}), ${(c.afterRepair.deliveredRatio * 100).toFixed(3)}% after repair ` +
    `(hops ${c.afterRepair.hopsMean.toFixed(2)}, repair ${c.repairSeconds} s)\n`
  );
}

/**
 * True (and says so) when a run stopped early or, with `missing`, a run never started. `resume` is the
 * command that continues a checkpointed build.
 */
function interruptedExit(results: readonly ScaleResult[], missing = false, resume?: string): boolean {
  if (missing || results.some((r) => r.interrupted)) {
    process.stderr.write('interrupted: the run stopped before finishing; no results written\n');
    if (resume !== undefined) process.stderr.write(`resume the build with: ${resume}\n`);
    process.exitCode = 130;
    return true;
  }
  return false;
}

function parseList<T>(name: string, text: string, parse: (item: string) => T): T[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s.length === 0)) {
    throw new InvalidArgumentError(`${name} must be a comma-separated list, got '${text}'`);
  }
  return items.map(parse);
}

function parseTopology(text: string): Topology {
  if (!(topologies as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`unknown topology '${text}'; choose one of ${topologies.join(', ')}`);
  }
  return text as Topology;
}

function addRunOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--neighbors <n>', 'target neighbours per peer')
        .argParser(countOption('--neighbors', 2, neighborsMax))
        .default(13),
    )
    .addOption(
      new Option('--routes <n>', 'sampled routes')
        .argParser(countOption('--routes', 1, 1e8))
        .default(100_000),
    )
    .addOption(new Option('--seed <seed>', 'root seed (printed when not given)'))
    .addOption(new Option('--json', 'print one JSON object'))
    .addOption(new Option('--report <file>', 'write a self-contained HTML report with charts'))
    .addOption(
      new Option('--stretch-samples <n>', 'routes compared with BFS shortest paths')
        .argParser(countOption('--stretch-samples', 0, 1e4))
        .default(16),
    )
    .addOption(
      new Option('--long-links <n>', 'long-link REGISTERs per newcomer (research)').argParser(
        countOption('--long-links', 0, 8),
      ),
    )
    .addOption(
      new Option('--sector-bonus <x>', 'link-value bonus per filled sector (research)').argParser(
        decimalOption('--sector-bonus', 0, 1),
      ),
    )
    .addOption(
      new Option(
        '--occlusion-weight <x>',
        "eviction weight of a link's distance to the nearest other neighbour; 0 drops the farthest link (research)",
      ).argParser(decimalOption('--occlusion-weight', 0, 4)),
    )
    .addOption(
      new Option(
        '--look-ahead-hop-cost <x>',
        'charge a look-ahead reach this many local hop lengths (research)',
      ).argParser(decimalOption('--look-ahead-hop-cost', 0, 4)),
    )
    .addOption(
      new Option(
        '--invite-search <how>',
        "how 8d INVITEs search: the model's or the engine's rules (research)",
      )
        .choices(['model', 'engine'])
        .default('model'),
    )
    .addOption(
      new Option('--refine-rounds <n>', 'upkeep rounds after the build (research)').argParser(
        countOption('--refine-rounds', 0, 10),
      ),
    )
    .addOption(
      new Option('--recycle-rounds <n>', 'recycling rounds after the build (research)').argParser(
        countOption('--recycle-rounds', 0, 10),
      ),
    )
    .addOption(
      new Option('--min-neighbors <n>', 'register again below this (default --neighbors)').argParser(
        countOption('--min-neighbors', 1, neighborsMax),
      ),
    )
    .addOption(
      new Option('--random-hops <n>', 'random hops at most at the start of a REGISTER').argParser(
        countOption('--random-hops', 0, 29),
      ),
    )
    .addOption(
      new Option(
        '--build-threads <n>',
        `threads planning the 8d build's batches (the network does not depend on the count; default: ${buildThreadsDefault}, the cores up to 2; in scale-table, the cores shared by --jobs)`,
      ).argParser(countOption('--build-threads', 1, buildThreadsMax)),
    )
    .addOption(
      new Option(
        '--join-batch <divisor>',
        'join (and recycle) in batches of up to joined/divisor peers, each planned against the network as the batch began (0: one at a time, the process of earlier reports)',
      )
        .argParser(countOption('--join-batch', 0, 1e6))
        .default(joinBatchDivisorDefault),
    )
    .addOption(new Option('--no-gap-fill', 'no direction-steered REGISTERs into empty sectors (research)'))
    .addOption(
      new Option('--no-spare-eviction', "evict by link value only, ignoring neighbours' degrees (research)"),
    )
    .addOption(
      new Option(
        '--spare-margin <x>',
        'eviction prefers neighbours above their minimum by this much link value only (research)',
      ).argParser(decimalOption('--spare-margin', 0, 1)),
    )
    .addOption(new Option('--no-look-ahead', "route without neighbours' neighbours (research)"))
    .addOption(
      new Option('--no-backtrack', 'fail at a local minimum instead of the visited-set fallback (research)'),
    );
}

/** Adds the scale run as the default action of `program`, and the `scale-table` command. */
export function registerScaleCommand(program: Command): void {
  // The run options exist on the program and on `scale-table`; positional options make those after
  // the subcommand's name belong to the subcommand.
  program.enablePositionalOptions();
  addRunOptions(program)
    .addOption(
      new Option('--peers <n>', 'peers in the network (1e6 notation)')
        .argParser(countOption('--peers', 1, peersMax))
        .default(10_000),
    )
    .addOption(
      new Option('--topology <name>', `one of ${topologies.join(', ')}`)
        .argParser(parseTopology)
        .default('8d'),
    )
    .addOption(
      new Option('--churn <share>', 'share of peers removed for the churn phase')
        .argParser(decimalOption('--churn', 0, 0.9))
        .default(0),
    )
    .addOption(
      new Option(
        '--trace <file>',
        'write pain snapshots of failed routes (or, when none failed, of routes that met a local minimum) ' +
          'to this trace, for drp-sim vision (8d only)',
      ),
    )
    .addOption(
      new Option('--snapshots <n>', 'pain snapshots in the trace at most')
        .argParser(countOption('--snapshots', 1, 1000))
        .default(5),
    )
    .addOption(
      new Option(
        '--checkpoint <file>',
        'save the 8d build to this file now and then, at Ctrl-C and at its end; when the file exists, ' +
          'resume from it (it must be of the same build: peers, seed, neighbours, join options)',
      ),
    )
    .addOption(
      new Option('--checkpoint-every <minutes>', 'minutes of wall time between saves during the build')
        .argParser(decimalOption('--checkpoint-every', 0.01, 10_000))
        .default(checkpointEveryMinutesDefault),
    )
    .action((flags: RunFlags) => {
      if (flags.checkpoint !== undefined && flags.seed === undefined)
        throw new UsageError('--checkpoint needs --seed (a resumed build must be the same build)');
      const seed = flags.seed ?? defaultSeed();
      const opts = optionsFromFlags(flags, seed);
      checkMemory(opts);
      if (flags.seed === undefined) process.stderr.write(`seed ${seed} (replay with --seed ${seed})\n`);
      if (flags.trace !== undefined && opts.topology !== '8d')
        throw new UsageError('--trace takes pain snapshots of the 8d topology only');
      const checkpoint = checkpointFor(flags, opts);
      const snapshots: PainSnapshot[] = [];
      return settle(
        runWithProgress(opts, {
          ...(flags.trace !== undefined ? { snapshots: { max: flags.snapshots, into: snapshots } } : {}),
          ...(checkpoint !== undefined ? { checkpoint } : {}),
        }).then((result) => {
          if (
            interruptedExit(
              [result],
              false,
              checkpoint !== undefined && existsSync(checkpoint.path) ? resumeCommand() : undefined,
            )
          )
            return;
          if (flags.trace !== undefined) {
            writeScaleTrace(flags.trace, seed, opts, rerunCommand(flags, seed), snapshots);
            process.stderr.write(
              `trace: ${flags.trace} (${snapshots.length} pain snapshot${snapshots.length === 1 ? '' : 's'}); ` +
                `look at it: npm run drp-sim -- vision --text ${flags.trace}, or drp-sim vision --trace ${flags.trace}\n`,
            );
          }
          if (flags.report !== undefined) writeFileSync(flags.report, renderReport([result]));
          if (flags.json === true) {
            process.stdout.write(`${JSON.stringify(result)}\n`);
            return;
          }
          process.stdout.write(`${summaryTable([result])}\n`);
          process.stdout.write(
            `neighbours mean ${result.neighborsMean}, ${result.bytesPerPeer} B/peer, RSS ${(result.rssBytes / 2 ** 20).toFixed(0)} MiB, seed ${seed}\n`,
          );
          process.stdout.write(churnLines(result));
        }),
      );
    });

  addRunOptions(
    program.command('scale-table').description('all topologies side by side at one or more sizes'),
  )
    .addOption(
      new Option('--sizes <list>', 'comma-separated peer counts, e.g. 1e5,1e6')
        .argParser((t: string) => parseList('--sizes', t, (s) => countOption('--sizes', 2, peersMax)(s)))
        .default([10_000]),
    )
    .addOption(
      new Option('--topologies <list>', 'comma-separated topologies')
        .argParser((t: string) => parseList('--topologies', t, parseTopology))
        .default([...topologies]),
    )
    .addOption(new Option('--markdown', 'print the table as Markdown'))
    .addOption(new Option('--out <file>', 'also write the results as one JSON object to this file'))
    .addOption(
      new Option(
        '--jobs <n>',
        'runs at once, each in its own thread (results are the same; build and route seconds are each ' +
          "run's own wall time, so compare them with --jobs 1)",
      )
        .argParser(countOption('--jobs', 1, tableJobsMax))
        .default(tableJobsDefault),
    )
    .action(
      (
        flags: Omit<RunFlags, 'peers' | 'topology' | 'churn'> & {
          sizes: number[];
          topologies: Topology[];
          markdown?: boolean;
          out?: string;
          jobs: number;
        },
      ) => {
        const seed = flags.seed ?? defaultSeed();
        const configs = flags.sizes.flatMap((peers) =>
          flags.topologies.map((topology) => ({ peers, topology, neighbors: flags.neighbors })),
        );
        for (const c of configs) checkMemory(c);
        const jobs = tableJobsFitting(configs, flags.jobs);
        const slots: (ScaleResult | undefined)[] = configs.map(() => undefined);
        // Every run is seeded alone, so running several at once changes only their wall times; results
        // are listed in the order of --sizes, then --topologies, as one at a time would list them.
        const runAll = async (): Promise<ScaleResult[] | null> => {
          const interrupt = new Interrupt();
          let next = 0;
          const lane = async (): Promise<void> => {
            while (next < configs.length && !interrupt.requested) {
              const i = next++;
              const c = configs[i]!;
              try {
                // Runs at once share the cores: each plans its batches on its share unless told otherwise
                // (one join at a time plans nothing).
                const share = Math.max(1, Math.floor(availableParallelism() / jobs));
                const buildThreads = flags.buildThreads ?? (flags.joinBatch > 0 ? share : undefined);
                slots[i] = await runWithProgress(
                  optionsFromFlags(
                    {
                      ...flags,
                      peers: c.peers,
                      topology: c.topology,
                      churn: 0,
                      ...(buildThreads !== undefined ? { buildThreads } : {}),
                    },
                    seed,
                  ),
                  { interrupt },
                );
              } catch (err) {
                // A failed run fails the table: the other lanes take no new run, and the runs in flight
                // stop at their next progress check (the stop flag Ctrl-C would set).
                interrupt.requested = true;
                throw err;
              }
            }
          };
          const lanes = await Promise.allSettled(Array.from({ length: jobs }, lane));
          interrupt.dispose();
          const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
          const done = slots.filter((r): r is ScaleResult => r !== undefined);
          if (interruptedExit(done, done.length < configs.length)) return null;
          return done;
        };
        return settle(
          runAll().then((results) => {
            if (results === null) return;
            if (flags.report !== undefined) writeFileSync(flags.report, renderReport(results));
            if (flags.out !== undefined) writeFileSync(flags.out, `${JSON.stringify({ seed, results })}\n`);
            if (flags.json === true) process.stdout.write(`${JSON.stringify({ seed, results })}\n`);
            else if (flags.markdown === true) process.stdout.write(`${markdownTable(results)}\n`);
            else process.stdout.write(`${summaryTable(results)}\nseed ${seed}\n`);
          }),
        );
      },
    );

  program
    .command('scale-report')
    .description('one HTML report from the JSON of earlier runs (single runs or scale-table --out files)')
    .requiredOption('--in <files>', 'comma-separated JSON files', (t: string) =>
      parseList('--in', t, (f) => f),
    )
    .requiredOption('--report <file>', 'the HTML file to write')
    .action((flags: { in: string[]; report: string }) => {
      const results: ScaleResult[] = [];
      for (const file of flags.in) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop() ?? '');
        } catch {
          throw new UsageError(`${file} is not the JSON of a scale run`);
        }
        const list = (parsed as { results?: unknown }).results;
        for (const r of Array.isArray(list) ? list : [parsed]) {
          if (typeof r !== 'object' || r === null || !('topology' in r) || !('routing' in r)) {
            throw new UsageError(`${file} is not the JSON of a scale run`);
          }
          results.push(r as ScaleResult);
        }
      }
      writeFileSync(flags.report, renderReport(results));
    });
}
