/**
 * The cut-off INVITE: a small seeded tester failure for the developer's vision (the committed sample
 * trace, the visualizer's tests and docs).
 *
 * Entry peers and users form a network; users INVITE each other in the background. After the warm-up,
 * one user (the victim) is cut off from every other host by a partition, and a few users INVITE it.
 * Greedy routing walks towards the victim's point, where its neighbours still forward to it over links
 * that have not died yet and then wander among each other: the INVITEs fail, each a strong pain whose
 * snapshot shows the route stalling around the target. The partition is in the run's fault log, so the
 * timeline shades it.
 *
 * The run is stepped through `SnapshotCapture.runRecorded`, so its trace has a fingerprint of every
 * event and `drp-sim replay` names the exact first event of any divergence.
 */

import type { SnapshotConfig } from '../sim/vision/capture.js';
import { ReplayConfigError, type ReplayScenario } from '../sim/vision/replay.js';
import { AttentionLevel } from '../src/vision/attention.js';
import type { JsonObject } from '../src/vision/trace.js';
import { InviteCampaign } from './invites.js';
import { inviteSeries, RunTrace } from './report.js';
import { entryPeerConfig } from './tester2.js';
import { SimWorld, type TesterNode } from './world.js';

export interface CutoffInviteOptions {
  readonly seed: string;
  readonly entryPeers: number;
  readonly users: number;
  /** From the first user's start to the cut. */
  readonly warmupMs: number;
  /** INVITEs to the victim, 5 s apart, from the cut + 5 s. */
  readonly invitesToVictim: number;
  /** Background INVITEs between random users, per second. */
  readonly backgroundInvitesPerSec: number;
  /** From the cut to the end of the run. */
  readonly afterCutMs: number;
  readonly latencyMs: number;
  readonly lossRate: number;
  readonly snapshot?: SnapshotConfig;
}

export const cutoffInviteDefaults = {
  seed: '6',
  entryPeers: 3,
  users: 20,
  warmupMs: 60_000,
  invitesToVictim: 3,
  backgroundInvitesPerSec: 0.5,
  afterCutMs: 90_000,
  latencyMs: 30,
  lossRate: 0.01,
  /** A small trace: few ring records per route peer. */
  snapshot: { recordsPerPeer: 8 },
} as const;

const numberKeys = [
  'entryPeers',
  'users',
  'warmupMs',
  'invitesToVictim',
  'backgroundInvitesPerSec',
  'afterCutMs',
  'latencyMs',
  'lossRate',
] as const;

const natMix = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;

export interface CutoffInviteRun {
  readonly world: SimWorld;
  readonly campaign: InviteCampaign;
  readonly endMs: number;
  readonly victim: () => string;
}

/** Sets the scenario up as scheduled actions; nothing runs until the kernel runs. */
export function setupCutoffInvite(opts: CutoffInviteOptions): CutoffInviteRun {
  const world = new SimWorld({
    seed: opts.seed,
    latencyMs: opts.latencyMs,
    link: { lossRate: opts.lossRate, jitterMeanMs: 10 },
    visionThreshold: AttentionLevel.higherLevelDetail,
    snapshot: opts.snapshot ?? {},
  });
  const campaign = new InviteCampaign(world);
  const rng = world.kernel.rng.fork('cutoff-invite/script');
  const eps: TesterNode[] = [];
  const users: TesterNode[] = [];
  const answer = (): Uint8Array => new TextEncoder().encode('ok');
  for (let i = 0; i < opts.entryPeers; i++) {
    world.schedule(i * 300, () => {
      eps.push(
        world.addNodeNow({
          name: `EP${i}`,
          port: 12000 + i,
          entryPeers: eps.map((e) => e.endpoint),
          register: i > 0,
          config: entryPeerConfig,
        }),
      );
    });
  }
  const usersStartMs = opts.entryPeers * 300 + 2_000;
  for (let i = 0; i < opts.users; i++) {
    world.schedule(usersStartMs + i * 200, () => {
      users.push(
        world.addNodeNow({
          name: `U${i}`,
          nat: natMix[i % natMix.length]!,
          entryPeers: eps.map((e) => e.endpoint),
          register: true,
          onInvite: answer,
        }),
      );
    });
  }
  const cutAtMs = usersStartMs + opts.warmupMs;
  const endMs = world.kernel.now() + cutAtMs + opts.afterCutMs;
  let victim: TesterNode | undefined;
  /** The victim and its cut-off neighbours: background INVITEs leave them alone. */
  const cutOff = new Set<string>();

  // Background INVITEs between random users with links (not the victim), for the delivery series.
  const gapMs = opts.backgroundInvitesPerSec > 0 ? Math.round(1000 / opts.backgroundInvitesPerSec) : 0;
  const background = (): void => {
    if (world.now() >= endMs - 30_000) return;
    const ready = users.filter((u) => !cutOff.has(u.name) && (u.peer?.hasUsableLink() ?? false));
    if (ready.length >= 2) {
      const a = ready[rng.int(ready.length)]!;
      let b = ready[rng.int(ready.length)]!;
      if (b === a) b = ready[(ready.indexOf(a) + 1) % ready.length]!;
      campaign.send(a, b);
    }
    world.schedule(gapMs, background);
  };
  if (gapMs > 0) world.schedule(usersStartMs + opts.users * 200 + 20_000, background);

  // The cut: from `cutAtMs` the victim is cut off from every other host (a partition: its operator drops
  // all its UDP, P2P and to the entry peers alike). Its neighbours still list it until their links die, so
  // INVITEs walk into its neighbourhood and stall there.
  world.schedule(cutAtMs, () => {
    const candidates = users.filter((u) => u.peer?.hasUsableLink() ?? false);
    if (candidates.length === 0) return;
    victim = candidates[rng.int(candidates.length)]!;
    const v = victim;
    cutOff.add(v.name);
    const vNode = world.simNodes.find((n) => n.name === v.name)!;
    const others = world.simNodes.filter((n) => n !== vNode);
    world.network.partition(
      [vNode.host],
      others.map((n) => n.host),
      { startMs: world.now() },
    );
    const neighbours = v.peer!.usableLinks().length;
    world.faults.add({
      kind: 'partition',
      startMs: world.now(),
      endMs: -1,
      description: `${v.name} is cut off from every other host (its ${neighbours} neighbours can no longer reach it)`,
      peers: [v.name],
    });
    const callers = users.filter((u) => !cutOff.has(u.name));
    for (let i = 0; i < opts.invitesToVictim && callers.length > 0; i++) {
      const from = callers[rng.int(callers.length)]!;
      world.schedule(5_000 * (i + 1), () => campaign.send(from, v));
    }
  });
  return { world, campaign, endMs, victim: () => victim?.name ?? '' };
}

/** The replay key's configuration. */
export function cutoffInviteConfig(opts: CutoffInviteOptions): JsonObject {
  const options: Record<string, number> = {};
  for (const k of numberKeys) options[k] = opts[k];
  return { scenario: 'cutoff-invite', options, snapshot: (opts.snapshot ?? {}) as JsonObject };
}

export function cutoffInviteOptionsOf(config: JsonObject, seed: string): CutoffInviteOptions {
  const o = config.options;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new ReplayConfigError('configuration has no options object');
  }
  const rec = o as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const k of numberKeys) {
    const v = rec[k] ?? cutoffInviteDefaults[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ReplayConfigError(
        `configuration options.${k} must be a non-negative number, got ${String(v)}`,
      );
    }
    out[k] = v;
  }
  for (const k of Object.keys(rec)) {
    if (!(numberKeys as readonly string[]).includes(k)) {
      throw new ReplayConfigError(
        `configuration options.${k} is not an option of cutoff-invite in this build`,
      );
    }
  }
  const snap = config.snapshot ?? {};
  if (typeof snap !== 'object' || snap === null || Array.isArray(snap)) {
    throw new ReplayConfigError('configuration snapshot must be an object');
  }
  return {
    seed,
    ...(out as Pick<CutoffInviteOptions, (typeof numberKeys)[number]>),
    snapshot: snap as SnapshotConfig,
  };
}

export interface CutoffInviteResult {
  readonly trace: string;
  readonly pains: number;
  readonly invitesSent: number;
  readonly invitesDelivered: number;
  readonly victim: string;
  readonly events: number;
  readonly eventHash: string;
  readonly replay: string;
}

/** Runs the scenario to its end and writes its trace to `path`. */
export function runCutoffInvite(opts: CutoffInviteOptions, path: string): CutoffInviteResult {
  const run = setupCutoffInvite(opts);
  const { world, campaign } = run;
  const trace = new RunTrace(world.vision);
  const capture = world.capture!;
  capture.runRecorded(run.endMs);
  const s = campaign.stats();
  trace.write(
    path,
    opts.seed,
    cutoffInviteConfig(opts),
    // The failed routes are in the snapshots (hop by hop); the trace stays small without their raw records.
    [],
    [],
    { capture, series: inviteSeries(campaign.outcomes) },
  );
  return {
    trace: path,
    pains: capture.snapshots.length,
    invitesSent: s.sent,
    invitesDelivered: s.delivered,
    victim: run.victim(),
    events: world.kernel.eventsDispatched,
    eventHash: world.kernel.eventHash,
    replay: `drp-sim replay ${path}`,
  };
}

export const cutoffInviteScenario: ReplayScenario = {
  name: 'cutoff-invite',
  normalize(config) {
    const out: Record<string, unknown> = { ...cutoffInviteConfig(cutoffInviteOptionsOf(config, '')) };
    if (config.recordsDropped !== undefined) out.recordsDropped = config.recordsDropped;
    return out as JsonObject;
  },
  build(seed, config) {
    const run = setupCutoffInvite(cutoffInviteOptionsOf(config, seed));
    return { kernel: run.world.kernel, capture: run.world.capture, endMs: run.endMs };
  },
  command(seed, config) {
    const o = cutoffInviteOptionsOf(config, seed);
    const changed = numberKeys.filter((k) => o[k] !== cutoffInviteDefaults[k]);
    const options = Object.fromEntries(changed.map((k) => [k, o[k]]));
    return `drp-sim sample --seed ${seed}${changed.length > 0 ? ` --options '${JSON.stringify(options)}'` : ''}`;
  },
  record(seed, config, path) {
    runCutoffInvite(cutoffInviteOptionsOf(config, seed), path);
  },
  shrinkVariants(config) {
    const o = cutoffInviteOptionsOf(config, '');
    const out: { label: string; config: JsonObject }[] = [];
    const with_ = (label: string, over: Partial<CutoffInviteOptions>): void => {
      out.push({ label, config: cutoffInviteConfig({ ...o, ...over }) });
    };
    if (o.users > 4)
      with_(`users ${o.users} -> ${Math.max(4, Math.floor(o.users / 2))}`, {
        users: Math.max(4, Math.floor(o.users / 2)),
      });
    if (o.users > 4) with_(`users ${o.users} -> ${o.users - 1}`, { users: o.users - 1 });
    if (o.entryPeers > 1)
      with_(`entry peers ${o.entryPeers} -> ${o.entryPeers - 1}`, { entryPeers: o.entryPeers - 1 });
    if (o.backgroundInvitesPerSec > 0) with_('no background INVITEs', { backgroundInvitesPerSec: 0 });
    if (o.invitesToVictim > 1)
      with_(`INVITEs to the victim ${o.invitesToVictim} -> 1`, { invitesToVictim: 1 });
    if (o.warmupMs > 20_000)
      with_(`warm-up ${o.warmupMs / 1000} s -> ${Math.max(20, o.warmupMs / 2000)} s`, {
        warmupMs: Math.max(20_000, o.warmupMs / 2),
      });
    if (o.afterCutMs > 30_000)
      with_(`after the cut ${o.afterCutMs / 1000} s -> ${Math.max(30, o.afterCutMs / 2000)} s`, {
        afterCutMs: Math.max(30_000, o.afterCutMs / 2),
      });
    if (o.lossRate > 0) with_('no loss', { lossRate: 0 });
    return out;
  },
  size(config) {
    const o = cutoffInviteOptionsOf(config, '');
    return o.users + o.entryPeers;
  },
};
