/**
 * DRP Tester 3: the soak test. Entry peers form a backbone; users join and stay; temporary peers join
 * and leave (churn); users keep INVITEing random online peers while the network is lossy and jittery.
 *
 * The whole scenario is a script of scheduled actions (`world.schedule`), so on the simulator it is part
 * of the deterministic run: the same seed replays it event for event, and `--check-determinism` can step
 * two copies in lockstep. Delivery is measured after the warm-up over INVITEs whose callee stayed online
 * until the INVITE ended. The run stops early after `failuresMax` failed INVITEs (a broken network, not
 * a flaky one). A failed INVITE is a strong pain whose route is rebuilt from the hop records.
 */

import { checkDeterminism, type DeterminismResult } from '../sim/kernel/determinism.js';
import type { SnapshotConfig } from '../sim/vision/capture.js';
import type { DrpConfig } from '../src/drp/config.js';
import { AttentionLevel } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import { InviteCampaign, type InviteOutcome } from './invites.js';
import {
  deliveryFigures,
  inviteSeries,
  neighbourFigures,
  PainTally,
  painsByLevel,
  RunTrace,
  renderRoute,
  sortedCopy,
  type TesterReport,
} from './report.js';
import { entryPeerConfig } from './tester2.js';
import { tester3Command, tester3ReplayConfig } from './tester3-replay.js';
import { SimWorld, type TesterNode, UdpWorld, type World } from './world.js';

export interface Tester3Options {
  readonly transport: 'sim' | 'udp';
  readonly seed: string;
  readonly entryPeers: number;
  readonly users: number;
  readonly tempPeers: number;
  /** Minutes of the measured phase (after warm-up). */
  readonly minutes: number;
  readonly warmupMs: number;
  /** One churn step (a temporary peer joins or leaves) every this many ms. */
  readonly churnPeriodMs: number;
  /** INVITEs per second over the whole network. */
  readonly invitesPerSec: number;
  readonly lossRate: number;
  /** Simulator: base one-way latency and mean exponential jitter (ms). */
  readonly latencyMs: number;
  readonly jitterMeanMs: number;
  readonly failuresMax: number;
  /** Users join one every this many ms. */
  readonly joinSpacingMs: number;
  /**
   * Simulator: at the start of the measured phase this share of the users (drawn at random) is cut off from
   * every other host for `splitMs` — a network split. INVITEs across it fail; tester 3 then fails, which
   * is what it is for: a seeded failing run to look at, replay and shrink.
   */
  readonly splitShare: number;
  readonly splitMs: number;
  readonly config?: Partial<DrpConfig>;
  /** Simulator: pain snapshots into the run's trace (sim/vision/capture.ts); default configuration. */
  readonly snapshot?: SnapshotConfig;
  /** Where the run's trace is written (default 'reports'). */
  readonly traceDir?: string;
  readonly onProgress?: (text: string) => void;
  /**
   * Called as the simulated clock reaches the start and the end of the measured phase (a benchmark reads
   * its wall clock there). It is scheduled only when given: a run without it keeps its event hash.
   */
  readonly onMeasuredPhase?: (edge: 'start' | 'end') => void;
}

export const tester3Defaults = {
  entryPeers: 8,
  users: 100,
  tempPeers: 20,
  minutes: 5,
  warmupMs: 90_000,
  churnPeriodMs: 10_000,
  invitesPerSec: 2,
  lossRate: 0.02,
  latencyMs: 30,
  jitterMeanMs: 20,
  failuresMax: 100,
  /** Users joining one every this many ms. */
  joinSpacingMs: 200,
  /** Simulator: share of the users cut off from the rest at the start of the measured phase (a network split). */
  splitShare: 0,
  /** How long the split lasts (ms). */
  splitMs: 60_000,
};

/** Tester 3's warm-up on real UDP (sockets on loopback settle faster than the simulator's lossy links). */
export const tester3UdpWarmupMs = 20_000;

/** Bounds of the split fault's options. */
export const splitShareMax = 0.5;
/** Peers named in the split's fault record (the description gives the count). */
export const splitFaultPeersListed = 64;

const natMix = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;

export interface Tester3Run {
  readonly world: World;
  readonly campaign: InviteCampaign;
  readonly endAtMs: number;
  report(wallSeconds: number, determinism?: DeterminismResult): TesterReport;
  stoppedEarly(): boolean;
}

export function makeWorld(opts: Tester3Options): World {
  return opts.transport === 'sim'
    ? new SimWorld({
        seed: opts.seed,
        latencyMs: opts.latencyMs,
        link: { lossRate: opts.lossRate, jitterMeanMs: opts.jitterMeanMs },
        visionThreshold: AttentionLevel.higherLevelDetail,
        snapshot: opts.snapshot ?? {},
      })
    : new UdpWorld({ seed: opts.seed });
}

/** Sets up the scenario as scheduled actions; nothing runs until the world runs. */
export function setupTester3(world: World, opts: Tester3Options): Tester3Run {
  world.vision.setThreshold('drp.route', AttentionLevel.detail);
  const routeRecords: VisionRecord[] = [];
  world.vision.onRecord((r) => {
    const tx = r.attributes?.tx;
    if (typeof tx === 'string' && tx.startsWith('I') && routeRecords.length < 200_000) routeRecords.push(r);
  });
  const campaign = new InviteCampaign(world);
  const pains = new PainTally(world.vision);
  const trace = new RunTrace(world.vision);
  const eps: TesterNode[] = [];
  const users: TesterNode[] = [];
  const temps: (TesterNode | undefined)[] = new Array(opts.tempPeers).fill(undefined);
  /** When each callee went offline (temporary peers that left). */
  const offlineAt = new Map<string, number>();
  const rng = world instanceof SimWorld ? world.kernel.rng.fork('tester3/script') : undefined;
  const pick = (n: number): number => (rng !== undefined ? rng.int(n) : Math.floor(Math.random() * n));
  const answer = (): Uint8Array => new TextEncoder().encode('ok');
  const start = world.now();
  const epSpacingMs = 300;
  const userSpacingMs = opts.joinSpacingMs;
  const usersStartMs = opts.entryPeers * epSpacingMs + 3_000;
  const measureFromMs = usersStartMs + opts.users * userSpacingMs + opts.warmupMs;
  const endAtMs = start + measureFromMs + Math.round(opts.minutes * 60_000);
  let tempSerial = 0;
  let failuresSeen = 0;
  // The count of failed measured INVITEs, kept incrementally: equal to counting
  // `o.failure !== undefined && measured(o)` over every outcome. An outcome gets `failure` or
  // `completedAtMs` at most once and never both (./invites.ts), and `measured(o)` of a failed one changes
  // only when its callee's `offlineAt` is set (churn recounts that callee's failed INVITEs around it).
  let outcomesSeen = 0;
  /** Outcomes neither failed nor completed when last looked at. */
  const open: InviteOutcome[] = [];
  /** Failed outcomes by callee name. */
  const failedByCallee = new Map<string, InviteOutcome[]>();
  let failuresCounted = 0;
  let stopped = false;
  const config = opts.config ?? {};

  // On the simulator nodes are created inside the kernel event (a promise would resolve only after the
  // synchronous run); on UDP the socket bind completes later.
  const add = (spec: Parameters<World['addNode']>[0], into: (n: TesterNode) => void): void => {
    if (world instanceof SimWorld) into(world.addNodeNow(spec));
    else void world.addNode(spec).then(into);
  };
  for (let i = 0; i < opts.entryPeers; i++) {
    world.schedule(i * epSpacingMs, () =>
      add(
        {
          name: `EP${i}`,
          port: world.transport === 'sim' ? 12000 + i : 0,
          entryPeers: eps.map((e) => e.endpoint),
          register: i > 0,
          config: { ...config, ...entryPeerConfig },
        },
        (n) => eps.push(n),
      ),
    );
  }
  for (let i = 0; i < opts.users; i++) {
    world.schedule(usersStartMs + i * userSpacingMs, () =>
      add(
        {
          name: `U${i}`,
          ...(world.transport === 'sim' ? { nat: natMix[i % natMix.length]! } : {}),
          entryPeers: eps.map((e) => e.endpoint),
          register: true,
          onInvite: answer,
          config,
        },
        (n) => users.push(n),
      ),
    );
  }
  // Churn: each step, a free slot gets a new temporary peer, or a random one leaves.
  const churn = (): void => {
    if (stopped || world.now() >= endAtMs) return;
    const free = temps.indexOf(undefined);
    const live = temps.map((t, i) => (t !== undefined ? i : -1)).filter((i) => i >= 0);
    if (free >= 0 && (live.length === 0 || pick(2) === 0)) {
      const name = `T${tempSerial++}`;
      temps[free] = undefined;
      add(
        {
          name,
          ...(world.transport === 'sim' ? { nat: natMix[tempSerial % natMix.length]! } : {}),
          entryPeers: eps.map((e) => e.endpoint),
          register: true,
          onInvite: answer,
          config,
        },
        (n) => {
          temps[free] = n;
        },
      );
    } else if (live.length > 0) {
      const i = live[pick(live.length)]!;
      const t = temps[i]!;
      temps[i] = undefined;
      // `measured` of a failed INVITE to `t` changes with its departure: keep the failure count in step.
      const failedToT = failedByCallee.get(t.name);
      if (failedToT !== undefined) for (const o of failedToT) if (measured(o)) failuresCounted--;
      offlineAt.set(t.name, world.now());
      if (failedToT !== undefined) for (const o of failedToT) if (measured(o)) failuresCounted++;
      void t.stop();
    }
    world.schedule(opts.churnPeriodMs, churn);
  };
  world.schedule(usersStartMs, churn);

  // INVITEs: from a random user to a random other registered peer that is online now.
  const gapMs = 1000 / opts.invitesPerSec;
  // Candidates, without building arrays: index i < users.length is users[i], past it temps[i − users.length]
  // (the order of `[...users, ...live temps]`). Flags per index, reused: may call (a user with a usable
  // link), may be called (online, with a usable link).
  const mayCall = 1;
  const mayBeCalled = 2;
  let eligible = new Uint8Array(opts.users + opts.tempPeers);
  const candidate = (i: number): TesterNode | undefined =>
    i < users.length ? users[i] : temps[i - users.length];
  /** Index of the k-th (from 0) candidate with `flag`, among the first `n`. */
  const nth = (flag: number, k: number, n: number): number => {
    for (let i = 0; i < n; i++) if ((eligible[i]! & flag) !== 0 && k-- === 0) return i;
    throw new Error('tester 3: candidate index out of range');
  };
  const countFailures = (): number => {
    const outcomes = campaign.outcomes;
    while (outcomesSeen < outcomes.length) open.push(outcomes[outcomesSeen++]!);
    let kept = 0;
    for (const o of open) {
      if (o.failure !== undefined) {
        const list = failedByCallee.get(o.to);
        if (list === undefined) failedByCallee.set(o.to, [o]);
        else list.push(o);
        if (measured(o)) failuresCounted++;
      } else if (o.completedAtMs === undefined) open[kept++] = o;
    }
    open.length = kept;
    return failuresCounted;
  };
  const invite = (): void => {
    if (stopped || world.now() >= endAtMs) return;
    const n = users.length + temps.length;
    if (eligible.length < n) eligible = new Uint8Array(n);
    let callers = 0;
    let callees = 0;
    for (let i = 0; i < n; i++) {
      const c = candidate(i);
      let f = 0;
      if (c !== undefined) {
        const linked = c.peer?.hasUsableLink() ?? false;
        if (linked && i < users.length) f |= mayCall;
        if (linked && !c.stopped) f |= mayBeCalled;
      }
      eligible[i] = f;
      if ((f & mayCall) !== 0) callers++;
      if ((f & mayBeCalled) !== 0) callees++;
    }
    if (callers > 0 && callees > 1) {
      const a = candidate(nth(mayCall, pick(callers), n))!;
      const k = pick(callees);
      let b = candidate(nth(mayBeCalled, k, n))!;
      // As `callees[(callees.indexOf(b) + 1) % callees.length]`: candidates are distinct, so indexOf(b) is k.
      if (b === a) b = candidate(nth(mayBeCalled, (k + 1) % callees, n))!;
      campaign.send(a, b);
    }
    failuresSeen = countFailures();
    if (failuresSeen >= opts.failuresMax) {
      stopped = true;
      world.vision.emit({
        timeMs: world.now(),
        peer: 'tester3',
        module: 'tester',
        level: AttentionLevel.strongPain,
        message: `${failuresSeen} INVITEs failed: stopping the test`,
      });
      return;
    }
    world.schedule(gapMs, invite);
  };
  world.schedule(measureFromMs, invite);

  // The split fault: a random share of the users loses every other host for `splitMs`.
  if (opts.splitShare > 0 && world instanceof SimWorld) {
    const splitRng = world.kernel.rng.fork('tester3/split');
    world.schedule(measureFromMs, () => {
      const pool = users.filter((u) => !u.stopped);
      const count = Math.min(pool.length - 1, Math.max(1, Math.round(opts.splitShare * pool.length)));
      if (count <= 0) return;
      const cut: TesterNode[] = [];
      for (let i = 0; i < count; i++) cut.push(pool.splice(splitRng.int(pool.length), 1)[0]!);
      const cutNames = new Set(cut.map((u) => u.name));
      const inside = world.simNodes.filter((n) => cutNames.has(n.name));
      const outside = world.simNodes.filter((n) => !cutNames.has(n.name));
      const now = world.now();
      world.network.partition(
        inside.map((n) => n.host),
        outside.map((n) => n.host),
        { startMs: now, endMs: now + opts.splitMs },
      );
      const names = cut.map((u) => u.name).sort();
      world.faults.add({
        kind: 'partition',
        startMs: now,
        endMs: now + opts.splitMs,
        description:
          `network split: ${count} of ${count + pool.length} users cut off from every other host ` +
          `for ${Math.round(opts.splitMs / 1000)} s`,
        peers: names.slice(0, splitFaultPeersListed),
      });
    });
  }
  const onPhase = opts.onMeasuredPhase;
  if (onPhase !== undefined) {
    world.schedule(measureFromMs, () => onPhase('start'));
    world.schedule(endAtMs - start, () => onPhase('end'));
  }
  let lastProgress = start;
  const progress = (): void => {
    if (world.now() >= endAtMs || stopped) return;
    if (opts.onProgress !== undefined && world.now() - lastProgress >= 30_000) {
      lastProgress = world.now();
      const s = campaign.stats(measured);
      opts.onProgress(
        `tester 3: t=${Math.round((world.now() - start) / 1000)} s of ${Math.round((endAtMs - start) / 1000)} s, ` +
          `${users.length} users, ${temps.filter((t) => t !== undefined).length} temporary, ` +
          `${s.delivered}/${s.sent} INVITEs delivered`,
      );
    }
    world.schedule(5_000, progress);
  };
  world.schedule(0, progress);

  const measuredFrom = start + measureFromMs;
  /** Counted: sent after warm-up, and the callee did not leave before the INVITE ended. */
  function measured(o: InviteOutcome): boolean {
    if (o.sentAtMs < measuredFrom) return false;
    const off = offlineAt.get(o.to);
    if (off === undefined) return true;
    // Counted only if it completed before the callee left (an unfinished INVITE to a leaver is not).
    return o.completedAtMs !== undefined && off > o.completedAtMs;
  }

  return {
    world,
    campaign,
    endAtMs,
    stoppedEarly: () => stopped,
    report: (wallSeconds, determinism) => {
      const s = campaign.stats(measured);
      const counts = sortedCopy(
        [...eps, ...users, ...temps.filter((t): t is TesterNode => t !== undefined)]
          .filter((n) => !n.stopped)
          .map((n) => n.peer?.usableLinks().length ?? 0),
      );
      const userCounts = sortedCopy(users.map((n) => n.peer?.usableLinks().length ?? 0));
      const failures = s.failed
        .slice(0, 3)
        .map(
          (f) =>
            `INVITE #${f.id} ${f.from} → ${f.to} failed: ${f.failure ?? 'no outcome'}\n${renderRoute(routeRecords, f.attemptTxIds ?? [], start)}`,
        );
      if (stopped) failures.unshift(`stopped after ${failuresSeen} failed INVITEs`);
      if (determinism !== undefined && !determinism.ok) failures.unshift('determinism check failed');
      const sim = world instanceof SimWorld ? world : undefined;
      const tracePath = trace.write(
        `${opts.traceDir ?? 'reports'}/tester3-${world.transport}-${world.seed}.trace`,
        world.seed,
        tester3ReplayConfig(opts),
        routeRecords,
        s.failed.flatMap((f) => f.attemptTxIds ?? []),
        { capture: sim?.capture, series: inviteSeries(campaign.outcomes) },
      );
      return {
        trace: tracePath,
        tester: 3,
        transport: world.transport,
        seed: world.seed,
        replay: tester3Command(opts),
        peers: opts.entryPeers + opts.users + opts.tempPeers,
        ...deliveryFigures(s),
        ...neighbourFigures(counts),
        usersNeighborsMin: userCounts[0] ?? 0,
        painsByLevel: painsByLevel(world.vision),
        wallSeconds,
        ...(sim !== undefined
          ? { simulatedSeconds: Math.round(sim.kernel.elapsed() / 1000), eventHash: sim.kernel.eventHash }
          : {}),
        ...(determinism !== undefined
          ? {
              determinism: determinism.ok
                ? `ok: ${determinism.events} events`
                : `diverged at event #${determinism.index}`,
            }
          : {}),
        failures,
        tempPeersJoined: tempSerial,
        pains: pains.toJSON(),
        lossRate: world.transport === 'sim' ? opts.lossRate : 0,
      };
    },
  };
}

export async function runTester3(opts: Tester3Options, checkDeterminismToo = false): Promise<TesterReport> {
  const started = Date.now();
  const world = makeWorld(opts);
  const run = setupTester3(world, opts);
  if (world instanceof SimWorld) {
    world.kernel.run(run.endAtMs);
    // Let INVITEs in flight at the end finish (no new ones are sent).
    world.kernel.run(run.endAtMs + 60_000);
  } else {
    await world.runUntil(
      () => world.now() >= run.endAtMs || run.stoppedEarly(),
      run.endAtMs - world.now() + 1_000,
      250,
    );
    await world.runUntil(() => run.campaign.pending === 0, 30_000, 250);
  }
  let determinism: DeterminismResult | undefined;
  if (checkDeterminismToo && world instanceof SimWorld) {
    determinism = checkDeterminism(
      () => {
        const w = makeWorld(opts) as SimWorld;
        setupTester3(w, { ...opts, onProgress: () => {} });
        return w.kernel;
      },
      { untilMs: run.endAtMs },
    );
  }
  await world.close();
  return run.report((Date.now() - started) / 1000, determinism);
}
