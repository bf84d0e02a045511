/**
 * One scale run: build a topology of `peers` peers, route sampled pairs, optionally churn, and return
 * one JSON-able result. The 8-D DRP topology is grown by the join process (`model.ts`); baselines
 * come from `baselines.ts`. Everything random flows from `seed` through named streams, so the same
 * options give the same result, byte for byte, apart from the wall-clock fields (`buildSeconds`,
 * `routeSeconds`, `rssBytes`), which `stripTimings` removes for comparisons.
 */
import { existsSync } from 'node:fs';
import { type RoutingPolicy, routingPolicyDefault } from '../../src/drp/policy.js';
import type { PainSnapshot, SnapshotFault } from '../../src/vision/snapshot.js';
import { SeededRng } from '../kernel/rng.js';
import { buildBaseline } from './baselines.js';
import {
  type BuildPosition,
  buildKeyOf,
  CheckpointError,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
import { FastRng } from './fast-rng.js';
import {
  bytesPerPeer,
  type JoinParams,
  joinParamsFor,
  joinTickEvery,
  ScaleNetwork,
  slotStrideFor,
} from './model.js';
import { BatchedJoins, buildThreadsDefault } from './parallel-build.js';
import { EngineSearchRouter, type PeerRouter, Router, type RouteStats, sampleRoutes } from './routes.js';
import { type GraphShape, graphShape } from './shape.js';
import { modelSnapshot, modelSnapshotDefaults, traceRoute } from './snapshot.js';

export const topologies = ['8d', 'knn', 'can', 'kademlia', 'chord'] as const;
export type Topology = (typeof topologies)[number];

export interface ScaleOptions {
  readonly peers: number;
  readonly topology: Topology;
  readonly neighbors: number;
  readonly routes: number;
  /** Share of peers removed for the churn phase (0 = no churn phase). */
  readonly churn: number;
  readonly seed: string;
  readonly stretchSamples: number;
  readonly policy: RoutingPolicy;
  /** Overrides of the join process (research variants). */
  readonly join: Partial<JoinParams>;
  /**
   * How 8d INVITEs search: `model` (a global visited set, 2 hops past the best, retries from random
   * first hops) or `engine` (what src/drp/invite.ts does with a relay's local knowledge).
   */
  readonly inviteSearch?: 'model' | 'engine';
  /**
   * Threads planning batched joins (`join.joinBatchDivisor` > 0; `parallel-build.ts`). The result does
   * not depend on it. Default `buildThreadsDefault`.
   */
  readonly buildThreads?: number;
}

/** Pairs routed towards absent targets with `inviteSearch: 'engine'` (a vain search is the costly kind). */
export const absentTargetRoutesMax = 5_000;

export function scaleOptionsDefault(over: Partial<ScaleOptions> = {}): ScaleOptions {
  return {
    peers: 1e4,
    topology: '8d',
    neighbors: 13,
    routes: 1e4,
    churn: 0,
    seed: '1',
    stretchSamples: 16,
    policy: routingPolicyDefault,
    join: {},
    ...over,
  };
}

export interface ChurnResult {
  removedShare: number;
  removed: number;
  beforeRepair: RouteStats;
  afterRepair: RouteStats;
  neighborsMeanAfterRepair: number;
  repairSeconds: number;
}

export interface ScaleResult {
  topology: Topology;
  peers: number;
  seed: string;
  neighbors: number;
  neighborsMean: number;
  /** Routing-state entries per peer (neighbours, contacts or fingers). */
  statePerPeer: number;
  /** knn baseline: share of true k nearest found (sampled). */
  knnRecall: number | null;
  bytesPerPeer: number;
  routes: number;
  deliveredRatio: number;
  hopsMean: number;
  hopsP50: number;
  hopsP90: number;
  hopsP99: number;
  hopsMax: number;
  deadEnds: number;
  stretchMean: number;
  /** The built 8d graph's shape, sampled (`shape.ts`); null for the baselines. */
  graph: GraphShape | null;
  policy: RoutingPolicy;
  join: Record<string, number | boolean> | null;
  joinCounters: Record<string, number> | null;
  routing: RouteStats;
  /**
   * With `inviteSearch: 'engine'`: the same search towards pairs whose target never answers (a user
   * offline): mean forwarding steps a vain search costs, over `absentTargetRoutes` pairs.
   */
  absentTargets?: { routes: number; stepsMean: number };
  churn: ChurnResult | null;
  buildSeconds: number;
  routeSeconds: number;
  rssBytes: number;
  interrupted: boolean;
}

/** Checkpoints of an 8d build (`checkpoint.ts`). */
export interface CheckpointOptions {
  /** The file: resumed from when it exists (it must be of the same build), written otherwise. */
  readonly path: string;
  /** Wall milliseconds between saves during the build (a save also comes at Ctrl-C and at the end). */
  readonly everyMs: number;
  /** The file was there when the run was checked: its absence now is an error, not a fresh start. */
  readonly mustExist?: boolean;
}

export interface RunHooks {
  /** Progress of a phase; return false to stop (interrupted). */
  readonly progress?: (phase: string, done: number, total: number) => boolean;
  /** Saves and resumes the 8d build (ignored for the baselines). */
  readonly checkpoint?: CheckpointOptions;
  /** A line for the user (checkpoint saved or resumed, a save that failed). */
  readonly note?: (text: string) => void;
  /**
   * Pain snapshots (8d only): up to `max` routes that failed (strong pain) or, when fewer failed, that met
   * a local minimum (light pain), routed again with a router that records each step.
   */
  readonly snapshots?: {
    readonly max: number;
    readonly peersMax?: number;
    readonly neighbourhoodHops?: number;
    readonly onSnapshot: (s: PainSnapshot) => void;
  };
}

/** Routes worth a snapshot, failed ones first; bounded by `max` of each kind. */
class TroubledRoutes {
  readonly failed: [number, number][] = [];
  readonly deadEnds: [number, number][] = [];
  constructor(private readonly max: number) {}
  add = (s: number, t: number, hops: number): void => {
    const list = hops < 0 ? this.failed : this.deadEnds;
    if (list.length < this.max) list.push([s, t]);
  };
  pick(room: number): [number, number][] {
    return [...this.failed, ...this.deadEnds].slice(0, Math.max(0, room));
  }
}

/** Estimated peak bytes of a run (for the refusal before any work). */
export function estimateBytes(opts: Pick<ScaleOptions, 'peers' | 'neighbors' | 'topology'>): number {
  // Model + visit marks + BFS scratch + the build's transient join order, sort keys and radix buffers,
  // and the batched build's touched marks (2 B) and helpers' walk bits.
  const perPeer = bytesPerPeer(slotStrideFor(opts.neighbors)) + 4 + 8 + 16 + 3;
  const factor = opts.topology === '8d' ? 1 : 2.5; // baselines keep extra arrays while building
  return 200 * 2 ** 20 + opts.peers * perPeer * factor;
}

export function runScale(opts: ScaleOptions, hooks: RunHooks = {}): ScaleResult {
  const root = new SeededRng(opts.seed);
  const progress = hooks.progress;
  let interrupted = false;
  const tick =
    (phase: string, total: number) =>
    (done: number): boolean => {
      if (progress !== undefined && !progress(phase, done, total)) interrupted = true;
      return !interrupted;
    };
  let net: ScaleNetwork | ReturnType<typeof buildBaseline>;
  let joinParams: JoinParams | null = null;
  let buildSeconds: number;
  if (opts.topology === '8d') {
    joinParams = joinParamsFor(opts.neighbors, opts.policy, opts.join);
    const plans = root.fork('join-plans');
    const planKey = [plans.uint32(), plans.uint32(), plans.uint32(), plans.uint32()] as const;
    const built = buildDrp(
      opts,
      joinParams,
      new FastRng(root.fork('build')),
      planKey,
      hooks,
      tick,
      () => interrupted,
    );
    net = built.model;
    buildSeconds = built.seconds;
  } else {
    const t0 = performance.now();
    net = buildBaseline(
      opts.topology,
      opts.peers,
      opts.neighbors,
      new FastRng(root.fork('build')),
      tick('build', opts.peers),
    );
    buildSeconds = (performance.now() - t0) / 1000;
  }
  const builtDegree = net.meanDegree();
  const shape =
    net instanceof ScaleNetwork && !interrupted
      ? graphShape(net, net.count, new FastRng(root.fork('graph-shape')))
      : null;
  const t1 = performance.now();
  const policy = net instanceof ScaleNetwork ? opts.policy : net.routingPolicy;
  const router =
    net instanceof ScaleNetwork
      ? opts.inviteSearch === 'engine'
        ? new EngineSearchRouter(net, policy)
        : new Router(net, policy, new FastRng(root.fork('retries')))
      : net.router;
  const coords = net instanceof ScaleNetwork || net.geometric ? net.coords : null;
  const snap = net instanceof ScaleNetwork ? hooks.snapshots : undefined;
  let snapshotsTaken = 0;
  const troubled = new TroubledRoutes(snap?.max ?? 0);
  const routing = interrupted
    ? emptyStats()
    : sampleRoutes(net, router, coords, new FastRng(root.fork('routes')), {
        routes: opts.routes,
        stretchSamples: opts.stretchSamples,
        onProgress: tick('routes', opts.routes),
        ...(snap !== undefined ? { onTroubled: troubled.add } : {}),
      });
  const routeSeconds = (performance.now() - t1) / 1000;
  let absentTargets: ScaleResult['absentTargets'];
  if (opts.inviteSearch === 'engine' && net instanceof ScaleNetwork && !interrupted) {
    const vain = new EngineSearchRouter(net, policy, true);
    const n = Math.min(opts.routes, absentTargetRoutesMax);
    let steps = 0;
    // Every route fails; only its cost is wanted.
    const counting: PeerRouter = {
      lastDeadEndPeer: -1,
      lastDeadEndHop: -1,
      route(s, t) {
        vain.route(s, t);
        steps += vain.steps;
        return -1;
      },
    };
    sampleRoutes(net, counting, null, new FastRng(root.fork('absent-targets')), {
      routes: n,
      stretchSamples: 0,
      onProgress: tick('absent targets', n),
    });
    absentTargets = { routes: n, stepsMean: round(steps / Math.max(n, 1), 2) };
  }
  const takeSnapshots = (from: TroubledRoutes, faults: SnapshotFault[], fork: string): void => {
    if (snap === undefined || !(net instanceof ScaleNetwork)) return;
    const rng = new FastRng(root.fork(fork));
    for (const [s, t] of from.pick(snap.max - snapshotsTaken)) {
      const traced = traceRoute(net, policy, rng, s, t);
      snap.onSnapshot(
        modelSnapshot(net, s, t, traced, {
          peersMax: snap.peersMax ?? modelSnapshotDefaults.peersMax,
          neighbourhoodHops: snap.neighbourhoodHops ?? modelSnapshotDefaults.neighbourhoodHops,
          number: ++snapshotsTaken,
          faults,
          entryPeers: 0,
        }),
      );
    }
  };
  takeSnapshots(troubled, [], 'trace-retries');
  let churn: ChurnResult | null = null;
  if (opts.churn > 0 && !interrupted && net instanceof ScaleNetwork) {
    const removed = net.removePeers(opts.churn);
    const churnRoutes = Math.min(opts.routes, 1e5);
    const churnTroubled = new TroubledRoutes(snap?.max ?? 0);
    const beforeRepair = sampleRoutes(net, router, coords, new FastRng(root.fork('churn-routes')), {
      routes: churnRoutes,
      stretchSamples: 0,
      onProgress: tick('churn routes', churnRoutes),
      ...(snap !== undefined ? { onTroubled: churnTroubled.add } : {}),
    });
    takeSnapshots(
      churnTroubled,
      [
        {
          kind: 'offline',
          startMs: 0,
          endMs: -1,
          description: `churn: ${removed} of ${net.count} peers removed at once, no repair yet`,
          peers: [],
        },
      ],
      'trace-churn-retries',
    );
    const t2 = performance.now();
    net.repair();
    const repairSeconds = (performance.now() - t2) / 1000;
    const afterRepair = sampleRoutes(net, router, coords, new FastRng(root.fork('repaired-routes')), {
      routes: churnRoutes,
      stretchSamples: 0,
      onProgress: tick('repaired routes', churnRoutes),
    });
    churn = {
      removedShare: opts.churn,
      removed,
      beforeRepair,
      afterRepair,
      neighborsMeanAfterRepair: round(net.meanDegree(), 4),
      repairSeconds: round(repairSeconds, 2),
    };
  }
  return {
    topology: opts.topology,
    peers: net.count,
    seed: opts.seed,
    neighbors: opts.neighbors,
    neighborsMean: round(builtDegree, 4),
    statePerPeer: round(net instanceof ScaleNetwork ? builtDegree : net.statePerPeer, 4),
    knnRecall: net instanceof ScaleNetwork || net.knnRecall === undefined ? null : round(net.knnRecall, 4),
    bytesPerPeer: net instanceof ScaleNetwork ? bytesPerPeer(net.slotStride) : net.bytesPerPeer,
    routes: routing.routes,
    deliveredRatio: round(routing.deliveredRatio, 6),
    hopsMean: round(routing.hopsMean, 4),
    hopsP50: routing.hopsP50,
    hopsP90: routing.hopsP90,
    hopsP99: routing.hopsP99,
    hopsMax: routing.hopsMax,
    deadEnds: routing.deadEnds,
    stretchMean: round(routing.stretchMean, 4),
    graph:
      shape === null
        ? null
        : {
            samples: shape.samples,
            linkLengthMean: round(shape.linkLengthMean, 4),
            twoHopReachMean: round(shape.twoHopReachMean, 2),
            clustering: round(shape.clustering, 4),
          },
    policy,
    join: joinParams === null ? null : joinSummary(joinParams),
    joinCounters: net instanceof ScaleNetwork ? { ...net.counters } : null,
    routing: roundStats(routing),
    ...(absentTargets !== undefined ? { absentTargets } : {}),
    churn,
    buildSeconds: round(buildSeconds, 2),
    routeSeconds: round(routeSeconds, 2),
    rssBytes: process.memoryUsage().rss,
    interrupted,
  };
}

/**
 * The 8d build: prepare and join every peer, then the recycling and upkeep rounds — or, with a checkpoint
 * file present, the rest of the build it holds. Saves at the progress checks (`CheckpointOptions`).
 * Returns the network and the build's wall seconds over all its sessions.
 */
function buildDrp(
  opts: ScaleOptions,
  params: JoinParams,
  rng: FastRng,
  planKey: readonly [number, number, number, number],
  hooks: RunHooks,
  tick: (phase: string, total: number) => Tick,
  stopped: () => boolean,
): { model: ScaleNetwork; seconds: number } {
  const threads = params.joinBatchDivisor > 0 ? (opts.buildThreads ?? buildThreadsDefault) : 1;
  const model = new ScaleNetwork(opts.peers, params, rng, threads > 1 ? 'shared' : undefined);
  const ck = hooks.checkpoint;
  const key = buildKeyOf(opts.peers, opts.seed, params);
  const note = hooks.note ?? (() => {});
  let from: BuildPosition = { stage: 'joins', round: 0, index: 0 };
  let secondsBefore = 0;
  /** The position the file holds (loaded or saved): saving it again would rewrite the same state. */
  let inFile: BuildPosition | null = null;
  // The build's clock starts before `prepare` (part of a fresh build) or after a load (not part of it).
  let t0 = performance.now();
  // A file seen when the run was checked must still be there: loading it says so if it is not.
  if (ck !== undefined && (ck.mustExist === true || existsSync(ck.path))) {
    note(`checkpoint: loading ${ck.path}`);
    const info = loadCheckpoint(ck.path, model, key);
    from = info.position;
    inFile = from;
    secondsBefore = info.buildSeconds;
    note(
      from.stage === 'built'
        ? `checkpoint: the build is finished there (${secondsBefore.toFixed(0)} s of build); routing on it`
        : `checkpoint: resuming at ${describePosition(from, model.count)} (${secondsBefore.toFixed(0)} s of build so far)`,
    );
    t0 = performance.now();
  } else {
    model.prepare(opts.peers);
  }
  const seconds = (): number => secondsBefore + (performance.now() - t0) / 1000;
  let lastSave = performance.now();
  const save = (at: BuildPosition): void => {
    if (ck === undefined || (inFile !== null && samePosition(inFile, at))) return;
    note(`checkpoint: saving ${describePosition(at, model.count)} to ${ck.path}`);
    const started = performance.now();
    try {
      const bytes = saveCheckpoint(ck.path, model, key, at, seconds());
      inFile = at;
      note(
        `checkpoint: saved ${ck.path} at ${describePosition(at, model.count)} ` +
          `(${(bytes / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
      );
    } catch (err) {
      // A failed save does not stop the build; the previous checkpoint, if any, stays as it was.
      if (!(err instanceof CheckpointError)) throw err;
      note(`checkpoint: ${err.message}`);
    }
    lastSave = performance.now();
  };
  // A stage's progress check is also where the build may stop, so where it saves: the model is
  // between two steps there, and the position names the next one.
  const stageTick = (stage: BuildPosition['stage'], round: number, label: string, total: number) => {
    const inner = tick(label, total);
    return (done: number): boolean => {
      const go = inner(done);
      if (ck !== undefined && (!go || performance.now() - lastSave >= ck.everyMs))
        save({ stage, round, index: done });
      return go;
    };
  };
  // Batched joins (and recycling rounds) plan on helper threads; one join at a time does not, nor does
  // a build resumed past its recycling rounds.
  const batching = params.joinBatchDivisor > 0 && (from.stage === 'joins' || from.stage === 'recycle');
  const batches = batching ? new BatchedJoins(model, planKey, threads) : null;
  try {
    if (from.stage === 'joins') {
      const buildTick = stageTick('joins', 0, 'build', opts.peers);
      // Batches divide `joinTickEvery` (`joinBatchAt`), so every progress check falls between two.
      for (let i = from.index; i < opts.peers; ) {
        if (i % joinTickEvery === 0 && !buildTick(i)) break;
        if (batches === null) {
          model.joinNext();
          i++;
        } else {
          i += batches.joinBatch();
        }
      }
    }
    const upkeep = [
      {
        stage: 'recycle',
        rounds: params.recycleRounds,
        label: 'recycle',
        run: (t: Tick, start: number, round: number) =>
          batches === null ? model.recycle(t, start) : batches.recycleRound(t, start, round),
      },
      {
        stage: 'refine',
        rounds: params.refineRounds,
        label: 'upkeep',
        run: (t: Tick, start: number) => model.refine(t, start),
      },
    ] as const;
    const stages: readonly BuildPosition['stage'][] = ['joins', 'recycle', 'refine', 'built'];
    for (const u of upkeep) {
      if (stages.indexOf(from.stage) > stages.indexOf(u.stage)) continue;
      for (let r = from.stage === u.stage ? from.round : 0; r < u.rounds && !stopped(); r++) {
        const start = from.stage === u.stage && from.round === r ? from.index : 0;
        u.run(stageTick(u.stage, r, `${u.label} ${r + 1}`, model.count), start, r);
      }
    }
    if (batches !== null && batches.batches > 0) {
      const t = batches.threads;
      note(
        `build: batched, planned on ${t} thread${t === 1 ? '' : 's'}; ` +
          `${model.foreseenHits.toLocaleString('en-US')} far-end evictions applied as foreseen`,
      );
    }
  } finally {
    batches?.close();
  }
  if (!stopped()) save({ stage: 'built', round: 0, index: 0 });
  return { model, seconds: seconds() };
}

type Tick = (done: number) => boolean;

function samePosition(a: BuildPosition, b: BuildPosition): boolean {
  return a.stage === b.stage && a.round === b.round && a.index === b.index;
}

/** A build position in words, e.g. "joins 4,096 of 10,000". */
export function describePosition(at: BuildPosition, peers: number): string {
  const of = `${at.index.toLocaleString('en-US')} of ${peers.toLocaleString('en-US')}`;
  if (at.stage === 'built') return 'the end of the build';
  if (at.stage === 'joins') return `joins ${of}`;
  return `${at.stage === 'recycle' ? 'recycling' : 'upkeep'} round ${at.round + 1}, peer ${of}`;
}

function joinSummary(p: JoinParams): Record<string, number | boolean> {
  return {
    minNeighbors: p.minNeighbors,
    softMax: p.softMax,
    randomHopsMax: p.randomHopsMax,
    longLinks: p.longLinks,
    longLinksMax: p.longLinksMax,
    gapFill: p.gapFill,
    refineRounds: p.refineRounds,
    recycleRounds: p.recycleRounds,
    ...(p.spareEvictionMargin === Number.POSITIVE_INFINITY
      ? {}
      : { spareEvictionMargin: p.spareEvictionMargin }),
    joinBatchDivisor: p.joinBatchDivisor,
  };
}

function emptyStats(): RouteStats {
  return {
    routes: 0,
    delivered: 0,
    deliveredRatio: 0,
    hopsMean: 0,
    hopsP50: 0,
    hopsP90: 0,
    hopsP99: 0,
    hopsMax: 0,
    deadEnds: 0,
    deadEndDistanceMean: 0,
    deadEndHopMean: 0,
    hopHistogram: [],
    stretchMean: 0,
    stretchSamples: 0,
  };
}

function roundStats(s: RouteStats): RouteStats {
  return {
    ...s,
    deliveredRatio: round(s.deliveredRatio, 6),
    hopsMean: round(s.hopsMean, 4),
    deadEndDistanceMean: round(s.deadEndDistanceMean, 4),
    deadEndHopMean: round(s.deadEndHopMean, 4),
    stretchMean: round(s.stretchMean, 4),
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The result without wall-clock fields, for determinism comparisons. */
export function stripTimings(r: ScaleResult): Omit<
  ScaleResult,
  'buildSeconds' | 'routeSeconds' | 'rssBytes'
> & {
  churn: ChurnResult | null;
} {
  const { buildSeconds: _b, routeSeconds: _r, rssBytes: _m, ...rest } = r;
  return { ...rest, churn: r.churn === null ? null : { ...r.churn, repairSeconds: 0 } };
}
