/**
 * The bad-internet scenario suite: messenger users exchanging messages over the simulated DRP network
 * while the network misbehaves. `drp-sim scenario <name>` runs one; `npm run test:slow` runs the full
 * variants and `npm test` a bounded CI-sized variant of each (sim/scenarios/bad-internet.test.ts).
 *
 * | name              | what goes wrong                                                              |
 * |-------------------|------------------------------------------------------------------------------|
 * | loss10-jitter100  | every uplink loses 10% of datagrams and adds exponential jitter, mean 100 ms |
 * | p2p-drop-isp-30   | 30% of users sit behind an ISP that drops UDP between consumer endpoints      |
 * | nat-symmetric-30  | 30% of users behind symmetric NATs (the rest: open, full cone, restricted,    |
 * |                   | port-restricted)                                                             |
 * | sleepers-30       | 30% of users' phones stop the app for 8 h a night (compressed in CI)          |
 * | all-combined      | all of the above at once                                                     |
 *
 * Population: entry peers (open servers), then users joining one by one; `pairs` pairs of them are
 * messenger users who met in person (each holds the other as a contact), spread over the join order.
 * The faults are drawn per user from the seed (ISP, NAT, device), so messenger users and bystanders
 * share them. After the warm-up both users of every pair send each other a message every
 * `sendIntervalMs` (each with its own phase) for `trafficMs`, while their app runs; then the run goes
 * on until every device is awake and for `drainMs` more.
 *
 * Every message is classified when the run ends:
 * - **online**: both users' apps ran from `settleMs` before it was sent until `onlineDeadlineMs` (60 s)
 *   after — it must arrive within 60 s (the must-show: ≥ 99.9%);
 * - **sleeper**: either app stopped in that window (or had just started) — it must arrive at all, after
 *   the sleeper wakes (the must-show: 100%).
 * Any message the receiving application sees twice is a duplicate (must be 0). A message that misses its
 * bound is a strong pain on the vision channel carrying the sender's route to the receiver (the INVITE
 * transaction ids, whose hop records are collected) and both sides' channel history.
 */
import type { HostEvent } from '../../src/dmp/host.js';
import { visionRouteModule } from '../../src/drp/engine.js';
import { AttentionLevel } from '../../src/vision/attention.js';
import type { VisionRecord } from '../../src/vision/record.js';
import type { DeviceProfile } from '../network/device.js';
import type { LinkProfile } from '../network/link.js';
import type { NatPreset } from '../network/nat.js';
import { MessengerWorld, makeUserKeys, type SimUser } from './messenger-world.js';

export const scenarioNames = [
  'loss10-jitter100',
  'p2p-drop-isp-30',
  'nat-symmetric-30',
  'sleepers-30',
  'all-combined',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];
export type ScenarioSize = 'ci' | 'full';

/** What the scenario's network does wrong. */
export interface Faults {
  readonly lossRate: number;
  readonly jitterMeanMs: number;
  /** Share of users behind the ISP that drops peer-to-peer UDP. */
  readonly p2pDropShare: number;
  /** Share of users behind symmetric NATs. */
  readonly symmetricShare: number;
  /** Share of users whose app stops at night. */
  readonly sleeperShare: number;
}

export interface ScenarioOptions {
  readonly name: ScenarioName;
  readonly size: ScenarioSize;
  readonly seed: string;
  readonly faults: Faults;
  readonly entryPeers: number;
  /** Users in all (DRP peers); 2 × `pairs` of them are messenger users. */
  readonly users: number;
  readonly pairs: number;
  readonly latencyMs: number;
  readonly userIntervalMs: number;
  /** Warm-up ends when every messenger user has this many neighbours (or after `warmupMaxMs`). */
  readonly warmupNeighbours: number;
  readonly warmupMaxMs: number;
  /** Each user of a pair sends one message to the other this often. */
  readonly sendIntervalMs: number;
  readonly trafficMs: number;
  /** The night, for sleepers: it starts `nightStartMs` after the traffic does, lasts `nightMs`, and each
   * sleeper's window starts up to `nightSpreadMs` later. */
  readonly nightStartMs: number;
  readonly nightMs: number;
  readonly nightSpreadMs: number;
  /** After the traffic, once every device is awake, the run goes on this long. */
  readonly drainMs: number;
  /** An online message must arrive within this. */
  readonly onlineDeadlineMs: number;
  /** An app counts as online from this long after it started (it must register first). */
  readonly settleMs: number;
  readonly messageBytes: number;
  readonly messageTtlMs: number;
}

const noFaults: Faults = {
  lossRate: 0,
  jitterMeanMs: 0,
  p2pDropShare: 0,
  symmetricShare: 0,
  sleeperShare: 0,
};

export const scenarioFaults: Record<ScenarioName, Faults> = {
  'loss10-jitter100': { ...noFaults, lossRate: 0.1, jitterMeanMs: 100 },
  'p2p-drop-isp-30': { ...noFaults, p2pDropShare: 0.3 },
  'nat-symmetric-30': { ...noFaults, symmetricShare: 0.3 },
  'sleepers-30': { ...noFaults, sleeperShare: 0.3 },
  'all-combined': {
    lossRate: 0.1,
    jitterMeanMs: 100,
    p2pDropShare: 0.3,
    symmetricShare: 0.3,
    sleeperShare: 0.3,
  },
};

const minute = 60_000;
const hour = 60 * minute;

const common = {
  latencyMs: 30,
  userIntervalMs: 200,
  onlineDeadlineMs: 60_000,
  settleMs: 2 * minute,
  messageBytes: 100,
  messageTtlMs: 48 * hour,
};

/** The parameters of a scenario at a size. CI: bounded (about 20–40 s of wall time each); full: as issued. */
export function scenarioOptions(name: ScenarioName, size: ScenarioSize, seed: string): ScenarioOptions {
  const faults = scenarioFaults[name];
  const sleepers = faults.sleeperShare > 0;
  if (size === 'ci') {
    return {
      ...common,
      name,
      size,
      seed,
      faults,
      entryPeers: 6,
      users: 60,
      pairs: 15,
      warmupNeighbours: 5,
      warmupMaxMs: 90_000,
      sendIntervalMs: 6_000,
      trafficMs: sleepers ? 10 * minute : 4 * minute,
      // The night compressed to 4 minutes, starting 2 minutes into the traffic.
      nightStartMs: 2 * minute,
      nightMs: 4 * minute,
      nightSpreadMs: minute,
      drainMs: 3 * minute,
    };
  }
  return {
    ...common,
    name,
    size,
    seed,
    faults,
    entryPeers: 8,
    users: 200,
    pairs: 40,
    warmupNeighbours: 6,
    warmupMaxMs: 120_000,
    // A night of 8 h is long: fewer messages per hour keep the run bounded.
    sendIntervalMs: sleepers ? 2 * minute : 10_000,
    trafficMs: sleepers ? 9 * hour : 10 * minute,
    nightStartMs: 20 * minute,
    nightMs: 8 * hour,
    nightSpreadMs: 20 * minute,
    drainMs: 5 * minute,
  };
}

/** One message as the scenario saw it. */
interface MessageRecord {
  readonly id: string;
  readonly from: SimUser;
  readonly to: SimUser;
  readonly sentAtMs: number;
  arrivedAtMs: number | undefined;
  arrivals: number;
  relayed: boolean;
}

export interface FailedDelivery {
  readonly from: string;
  readonly to: string;
  readonly messageClass: 'online' | 'sleeper';
  readonly sentAtS: number;
  readonly arrivedAfterMs: number | null;
  readonly route: string;
  readonly senderHistory: readonly string[];
  readonly receiverHistory: readonly string[];
}

export interface ScenarioReport {
  readonly scenario: ScenarioName;
  readonly size: ScenarioSize;
  readonly seed: string;
  readonly replay: string;
  readonly faults: Faults;
  readonly peers: number;
  readonly pairs: number;
  readonly sleepers: number;
  readonly messagesSent: number;
  readonly onlineMessages: number;
  readonly onlineDeliveredWithinDeadline: number;
  readonly onlineDeliveredRatio: number;
  readonly onlineLatencyMsP50: number;
  readonly onlineLatencyMsP99: number;
  readonly onlineLatencyMsMax: number;
  readonly sleeperMessages: number;
  readonly sleeperDelivered: number;
  readonly sleeperDeliveredRatio: number;
  readonly sleeperLatencyMsP50: number;
  readonly sleeperLatencyMsMax: number;
  readonly duplicates: number;
  readonly relayedRatio: number;
  readonly channelsOpened: number;
  readonly relayFallbacks: number;
  readonly directReturns: number;
  readonly invitesStarted: number;
  readonly invitesFailed: number;
  readonly ttlFailures: number;
  readonly relay: Record<string, number>;
  readonly neighboursMin: number;
  readonly neighboursMean: number;
  readonly painsByLevel: Record<string, number>;
  readonly warmupSeconds: number;
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  readonly eventHash: string;
  readonly failedDeliveries: readonly FailedDelivery[];
  /** Why the run fails its must-shows; empty when it passes. */
  readonly failures: readonly string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const baseNats: readonly NatPreset[] = ['open', 'fullCone', 'restricted', 'portRestricted'];
/** Failed deliveries listed in a report at most (all are counted and raised as pains). */
export const failedDeliveriesListedMax = 20;

/**
 * The route of a message as text: the hop records of the INVITEs between the two users (module
 * drp.route, collected at detail level), one line per hop decision.
 */
export function renderRoute(records: readonly VisionRecord[], txIds: readonly string[]): string {
  const lines: string[] = [];
  for (const tx of txIds) {
    lines.push(`INVITE ${tx}:`);
    const hops = records.filter((r) => r.attributes?.tx === tx);
    if (hops.length === 0) lines.push('  (no hop records)');
    for (const h of hops) {
      const a = h.attributes ?? {};
      lines.push(
        `  t=${h.timeMs} ${h.peer} dist=${String(a.distance ?? '?')} → ${String(a.chosen || '(none)').slice(0, 8)} ` +
          `hops left ${String(a.hopsRemaining ?? '?')}: ${h.message}`,
      );
    }
  }
  return lines.join('\n');
}

export function runScenario(
  opts: ScenarioOptions,
  onProgress?: (text: string) => void,
): ScenarioReport & { readonly routeText: readonly string[] } {
  const started = Date.now();
  const f = opts.faults;
  const link: LinkProfile | undefined =
    f.lossRate > 0 || f.jitterMeanMs > 0 ? { lossRate: f.lossRate, jitterMeanMs: f.jitterMeanMs } : undefined;
  const world = new MessengerWorld({
    seed: opts.seed,
    latencyMs: opts.latencyMs,
    ...(link !== undefined ? { link } : {}),
    hostConfig: { messageTtlMs: opts.messageTtlMs },
  });
  const vision = world.vision;
  // INVITE hop records: a failed delivery's route.
  vision.setThreshold(visionRouteModule, AttentionLevel.detail);
  const routeRecords: VisionRecord[] = [];
  vision.onRecord((r) => {
    if (r.module === visionRouteModule && routeRecords.length < 200_000) routeRecords.push(r);
  });
  const pains = { count: 0 };
  vision.onRecord((r) => {
    if (r.level >= AttentionLevel.strongPain) pains.count++;
  });

  // ---- population ----
  const popRng = world.kernel.rng.fork('scenario/population');
  const keyRng = world.kernel.rng.fork('scenario/keys');
  for (let i = 0; i < opts.entryPeers; i++) {
    world.addEntryPeer();
    world.runFor(200);
  }
  world.runFor(3_000);
  const trafficStartMs = world.elapsed() + opts.users * opts.userIntervalMs + 30_000;
  const nightStartOfDay = trafficStartMs + opts.nightStartMs;
  const night: DeviceProfile = {
    nightly: { startMsOfDay: nightStartOfDay, durationMs: opts.nightMs, spreadMs: opts.nightSpreadMs },
  };
  const memberCount = opts.pairs * 2;
  const stride = Math.max(1, Math.floor(opts.users / memberCount));
  const members: SimUser[] = [];
  let sleepers = 0;
  for (let i = 0; i < opts.users; i++) {
    const isMember = i % stride === 0 && members.length < memberCount;
    const nat: NatPreset =
      popRng.float() < f.symmetricShare ? 'symmetric' : baseNats[popRng.int(baseNats.length)]!;
    const p2pDrop = popRng.float() < f.p2pDropShare;
    const sleeps = popRng.float() < f.sleeperShare;
    if (sleeps) sleepers++;
    const keys = isMember ? makeUserKeys(world.crypto, keyRng, world.now()) : undefined;
    const name = isMember ? `${members.length % 2 === 0 ? 'S' : 'R'}${members.length >> 1}` : `U${i}`;
    const user = world.addUser({
      name,
      nat,
      ...(p2pDrop ? { isp: 'p2pUdpDrop' as const } : {}),
      ...(sleeps ? { device: night } : {}),
      ...(keys !== undefined ? { keys } : {}),
    });
    if (isMember) members.push(user);
    world.runFor(opts.userIntervalMs);
    if (i % 50 === 49) onProgress?.(`${opts.name}: ${i + 1}/${opts.users} users joined`);
  }
  for (let p = 0; p < opts.pairs; p++) {
    const a = members[2 * p]!;
    const b = members[2 * p + 1]!;
    a.host!.addContact(b.keys!.identity, b.keys!.regId);
    b.host!.addContact(a.keys!.identity, a.keys!.regId);
  }
  const warmStart = world.now();
  const need = Math.min(opts.warmupNeighbours, opts.entryPeers);
  world.runUntil(() => members.every((u) => u.neighbours >= need), opts.warmupMaxMs);
  const warmupSeconds = Math.round((world.now() - warmStart) / 1000);
  onProgress?.(`${opts.name}: warm-up ${warmupSeconds} s`);

  // ---- traffic ----
  const records = new Map<string, MessageRecord>();
  const byUser = new Map<SimUser, number>();
  let duplicates = 0;
  let relayFallbacks = 0;
  let directReturns = 0;
  let ttlFailures = 0;
  const lastPath = new Map<string, string>();
  world.onHostEvent((user, e: HostEvent, now) => {
    if (e.type === 'message') {
      const r = records.get(e.messageId);
      if (r === undefined || r.to !== user) return;
      r.arrivals++;
      if (r.arrivals > 1) {
        duplicates++;
        return;
      }
      r.arrivedAtMs = now;
      r.relayed = e.path === 'relayed';
    } else if (e.type === 'path') {
      const key = `${user.name}>${Buffer.from(e.contact).toString('hex', 0, 8)}`;
      if (e.reason === 'punch' || e.reason === 'silence' || e.reason === 'timeouts') relayFallbacks++;
      else if (e.path === 'direct' && lastPath.get(key) === 'relayed') directReturns++;
      lastPath.set(key, e.path);
    } else if (e.type === 'failed') ttlFailures++;
  });
  const sendRng = world.kernel.rng.fork('scenario/send');
  const trafficEnd = world.now() + opts.trafficMs;
  const body = 'm'.repeat(opts.messageBytes);
  for (const u of members) {
    const peerIndex = members.indexOf(u) ^ 1;
    const to = members[peerIndex]!;
    const tick = (): void => {
      if (world.now() >= trafficEnd) return;
      if (u.online) {
        const sentAtMs = world.now();
        const id = u.act((h, now) => h.send(now, to.keys!.regId, body));
        records.set(id, { id, from: u, to, sentAtMs, arrivedAtMs: undefined, arrivals: 0, relayed: false });
        byUser.set(u, (byUser.get(u) ?? 0) + 1);
      }
      world.schedule(opts.sendIntervalMs, tick);
    };
    world.schedule(sendRng.int(opts.sendIntervalMs), tick);
  }
  const progressEvery = Math.max(minute, Math.floor(opts.trafficMs / 10));
  while (world.now() < trafficEnd) {
    world.runFor(Math.min(progressEvery, trafficEnd - world.now()));
    let arrived = 0;
    for (const r of records.values()) if (r.arrivedAtMs !== undefined) arrived++;
    onProgress?.(
      `${opts.name}: ${Math.round(world.elapsed() / 1000)} s simulated, ${records.size} sent, ${arrived} arrived, ` +
        `${world.users.filter((u) => !u.online).length} asleep, ${((Date.now() - started) / 1000).toFixed(0)} s wall`,
    );
  }
  world.runUntil(() => world.users.every((u) => u.online), 24 * hour, 10_000);
  world.runFor(opts.drainMs);

  // ---- classification ----
  const online: MessageRecord[] = [];
  const sleeper: MessageRecord[] = [];
  for (const r of records.values()) {
    const from = r.sentAtMs - opts.settleMs;
    const to = r.sentAtMs + opts.onlineDeadlineMs;
    const isOnline = r.from.awakeThroughout(from, to) && r.to.awakeThroughout(from, to);
    (isOnline ? online : sleeper).push(r);
  }
  const onlineOk = online.filter(
    (r) => r.arrivedAtMs !== undefined && r.arrivedAtMs - r.sentAtMs <= opts.onlineDeadlineMs,
  );
  const sleeperOk = sleeper.filter((r) => r.arrivedAtMs !== undefined);
  const onlineLatencies = online
    .filter((r) => r.arrivedAtMs !== undefined)
    .map((r) => r.arrivedAtMs! - r.sentAtMs)
    .sort((a, b) => a - b);
  const sleeperLatencies = sleeperOk.map((r) => r.arrivedAtMs! - r.sentAtMs).sort((a, b) => a - b);

  // ---- failed deliveries: strong pains with route and history ----
  const failedDeliveries: FailedDelivery[] = [];
  const routeText: string[] = [];
  const failed = [
    ...online.filter((r) => !onlineOk.includes(r)).map((r) => ({ r, c: 'online' as const })),
    ...sleeper.filter((r) => r.arrivedAtMs === undefined).map((r) => ({ r, c: 'sleeper' as const })),
  ];
  for (const { r, c } of failed) {
    const route = r.from.host!.routeOf(r.to.keys!.regId);
    const senderHistory = r.from.host!.historyOf(r.to.keys!.regId);
    const receiverHistory = r.to.host!.historyOf(r.from.keys!.regId);
    const arrivedAfterMs = r.arrivedAtMs === undefined ? null : r.arrivedAtMs - r.sentAtMs;
    vision.emit({
      timeMs: world.now(),
      peer: r.from.name,
      module: 'scenario',
      level: AttentionLevel.strongPain,
      message:
        c === 'online'
          ? `message not delivered within ${opts.onlineDeadlineMs / 1000} s`
          : 'message to or from a sleeper never delivered',
      attributes: {
        to: r.to.name,
        sentAtMs: r.sentAtMs,
        arrivedAfterMs: arrivedAfterMs ?? -1,
        route: route.join(' '),
        history: senderHistory.join(' | '),
        receiverHistory: receiverHistory.join(' | '),
      },
    });
    if (failedDeliveries.length < failedDeliveriesListedMax) {
      failedDeliveries.push({
        from: r.from.name,
        to: r.to.name,
        messageClass: c,
        sentAtS: Math.round((r.sentAtMs - world.kernel.epochMs) / 1000),
        arrivedAfterMs,
        route: route.join(' '),
        senderHistory: [...senderHistory],
        receiverHistory: [...receiverHistory],
      });
      routeText.push(renderRoute(routeRecords, route.slice(-2)));
    }
  }

  // ---- figures ----
  const hosts = members.map((u) => u.host!);
  const sum = (fn: (h: (typeof hosts)[number]) => number): number => hosts.reduce((a, h) => a + fn(h), 0);
  const relay: Record<string, number> = {};
  const allNodes = [...world.entryPeers, ...world.users.map((u) => u.node)];
  for (const n of allNodes) {
    for (const [k, v] of Object.entries(n.engine.relay.stats)) relay[k] = (relay[k] ?? 0) + v;
  }
  const neighbours = world.users.map((u) => u.neighbours).sort((a, b) => a - b);
  const painsByLevel: Record<string, number> = {};
  for (const [name, level] of [
    ['lightPain', AttentionLevel.lightPain],
    ['mediumPain', AttentionLevel.mediumPain],
    ['strongPain', AttentionLevel.strongPain],
  ] as const) {
    painsByLevel[name] = vision.painCount(undefined, level);
  }
  const onlineDeliveredRatio = online.length === 0 ? 1 : onlineOk.length / online.length;
  const sleeperDeliveredRatio = sleeper.length === 0 ? 1 : sleeperOk.length / sleeper.length;
  const arrivedTotal = [...records.values()].filter((r) => r.arrivedAtMs !== undefined);
  const failures: string[] = [];
  if (onlineDeliveredRatio < 0.999) {
    failures.push(
      `${online.length - onlineOk.length} of ${online.length} online messages not delivered within ` +
        `${opts.onlineDeadlineMs / 1000} s (${(100 * onlineDeliveredRatio).toFixed(2)}% < 99.9%)`,
    );
  }
  if (sleeperOk.length < sleeper.length) {
    failures.push(
      `${sleeper.length - sleeperOk.length} of ${sleeper.length} sleeper messages never delivered`,
    );
  }
  if (duplicates > 0) failures.push(`${duplicates} messages delivered twice to an application`);
  if (records.size === 0) failures.push('no message was sent');
  return {
    scenario: opts.name,
    size: opts.size,
    seed: opts.seed,
    replay: `drp-sim scenario ${opts.name}${opts.size === 'full' ? ' --full' : ''} --seed ${opts.seed}`,
    faults: f,
    peers: opts.entryPeers + opts.users,
    pairs: opts.pairs,
    sleepers,
    messagesSent: records.size,
    onlineMessages: online.length,
    onlineDeliveredWithinDeadline: onlineOk.length,
    onlineDeliveredRatio,
    onlineLatencyMsP50: percentile(onlineLatencies, 50),
    onlineLatencyMsP99: percentile(onlineLatencies, 99),
    onlineLatencyMsMax: onlineLatencies.at(-1) ?? 0,
    sleeperMessages: sleeper.length,
    sleeperDelivered: sleeperOk.length,
    sleeperDeliveredRatio,
    sleeperLatencyMsP50: percentile(sleeperLatencies, 50),
    sleeperLatencyMsMax: sleeperLatencies.at(-1) ?? 0,
    duplicates,
    relayedRatio:
      arrivedTotal.length === 0 ? 0 : arrivedTotal.filter((r) => r.relayed).length / arrivedTotal.length,
    channelsOpened: sum((h) => h.stats.channelsOpened),
    relayFallbacks,
    directReturns,
    invitesStarted: sum((h) => h.stats.invitesStarted),
    invitesFailed: sum((h) => h.stats.invitesFailed),
    ttlFailures,
    relay,
    neighboursMin: neighbours[0] ?? 0,
    neighboursMean: neighbours.reduce((a, b) => a + b, 0) / Math.max(1, neighbours.length),
    painsByLevel,
    warmupSeconds,
    simulatedSeconds: Math.round(world.elapsed() / 1000),
    wallSeconds: (Date.now() - started) / 1000,
    eventHash: world.kernel.eventHash,
    failedDeliveries,
    failures,
    routeText,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x === 1 ? 0 : 2)}%`;
}

/** The summary table of one run. */
export function scenarioTable(r: ScenarioReport): string {
  const rows: [string, string][] = [
    ['scenario / size / seed', `${r.scenario} / ${r.size} / ${r.seed}`],
    ['peers / pairs / sleepers', `${r.peers} / ${r.pairs} / ${r.sleepers}`],
    ['messages sent', String(r.messagesSent)],
    [
      'online: within 60 s',
      `${r.onlineDeliveredWithinDeadline} / ${r.onlineMessages} (${pct(r.onlineDeliveredRatio)}; must ≥ 99.9%)`,
    ],
    [
      'online: latency p50 / p99 / max',
      `${r.onlineLatencyMsP50} / ${r.onlineLatencyMsP99} / ${r.onlineLatencyMsMax} ms`,
    ],
    [
      'sleepers: delivered after wake',
      `${r.sleeperDelivered} / ${r.sleeperMessages} (${pct(r.sleeperDeliveredRatio)}; must 100%), p50 ${Math.round(r.sleeperLatencyMsP50 / 1000)} s, max ${Math.round(r.sleeperLatencyMsMax / 1000)} s`,
    ],
    ['duplicates', `${r.duplicates} (must 0)`],
    ['relayed / fallbacks / returns', `${pct(r.relayedRatio)} / ${r.relayFallbacks} / ${r.directReturns}`],
    [
      'channels / INVITEs (failed)',
      `${r.channelsOpened} / ${r.invitesStarted} (${r.invitesFailed}); TTL failures ${r.ttlFailures}`,
    ],
    [
      'relay packets',
      `originated ${r.relay.originated ?? 0}, forwarded ${r.relay.forwarded ?? 0}, delivered ${r.relay.delivered ?? 0}, ` +
        `dropped ${(r.relay.noRoute ?? 0) + (r.relay.hopsExhausted ?? 0) + (r.relay.rateLimited ?? 0) + (r.relay.notDmp ?? 0)}`,
    ],
    ['neighbours min / mean', `${r.neighboursMin} / ${r.neighboursMean.toFixed(1)}`],
    [
      'pains',
      Object.entries(r.painsByLevel)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['simulated / wall', `${r.simulatedSeconds} s / ${r.wallSeconds.toFixed(1)} s`],
    ['event hash', r.eventHash],
    ['verdict', r.failures.length === 0 ? 'pass' : `FAIL: ${r.failures.join('; ')}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

/** The results of several runs as one Markdown table (docs/scenarios.md). */
export function scenarioMarkdown(reports: readonly ScenarioReport[]): string {
  const head =
    '| scenario | size | seed | peers | messages | online ≤ 60 s | online p50 / p99 | sleepers delivered | duplicates | relayed | fallbacks | sim / wall | verdict |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const rows = reports.map(
    (r) =>
      `| ${r.scenario} | ${r.size} | ${r.seed} | ${r.peers} | ${r.messagesSent} | ` +
      `${r.onlineDeliveredWithinDeadline} / ${r.onlineMessages} (${pct(r.onlineDeliveredRatio)}) | ` +
      `${r.onlineLatencyMsP50} / ${r.onlineLatencyMsP99} ms | ` +
      `${r.sleeperMessages === 0 ? '—' : `${r.sleeperDelivered} / ${r.sleeperMessages} (${pct(r.sleeperDeliveredRatio)})`} | ` +
      `${r.duplicates} | ${pct(r.relayedRatio)} | ${r.relayFallbacks} | ${r.simulatedSeconds} s / ${r.wallSeconds.toFixed(0)} s | ` +
      `${r.failures.length === 0 ? 'pass' : 'FAIL'} |`,
  );
  return [head, sep, ...rows].join('\n');
}
