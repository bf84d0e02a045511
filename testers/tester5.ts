/**
 * DRP Tester 5: sender ↔ echo pairs over the direct channel.
 *
 * Entry peers form a backbone; users join (every user is a DRP peer; `pairs` of them are messenger
 * users). The two users of a pair met "in person" before the run: each holds the other's identity and
 * regID as a contact. After the warm-up, each sender sends its share of `messages` to its echo partner,
 * one every `sendIntervalMs`; the echo sends every message it receives straight back. The first message
 * of a pair makes the sender's host INVITE the echo through DRP and open a direct channel (hole-punched
 * UDP); the rest travel over it, and the echo answers over the same channel.
 *
 * Measured: the share of messages that came back (`echoedRatio`), the round trip from `send` to the echo's
 * arrival (`roundTripMsP50`/`P99`), the share that arrived over a relayed path (`relayedRatio`: 0 until a
 * relay exists), messages seen twice by either application (`duplicates`), receipts, TTL failures, and
 * the INVITEs the hosts needed. On the simulator the round-trip p50 must stay within 3× the sum of the
 * one-way latencies of the route (a direct channel's round trip is about 2 × the one-way latency); the
 * bound is computed from the world's latency configuration.
 */
import { SeededRng } from '../sim/kernel/rng.js';
import type { Crypto } from '../src/crypto/crypto.js';
import { HostSendError } from '../src/dmp/host.js';
import {
  createUserIdentity,
  encodeDeviceCertificate,
  generateDeviceKeyPair,
  generateRootKeys,
  issueDeviceCertificate,
} from '../src/id/identity.js';
import type { Rng } from '../src/seams/rng.js';
import { AttentionLevel } from '../src/vision/attention.js';
import { hopsRemainingMax } from '../src/wire/constants.js';
import {
  deliveryFigures,
  neighbourFigures,
  PainTally,
  painsByLevel,
  percentile,
  sortedCopy,
  type TesterReport,
} from './report.js';
import { entryPeerConfig } from './tester2.js';
import { type MessengerSpec, SimWorld, type TesterNode, UdpWorld, type World } from './world.js';

export interface Tester5Options {
  readonly transport: 'sim' | 'udp';
  readonly seed: string;
  readonly entryPeers: number;
  /** Users (DRP peers); the first 2 × `pairs` of them, spread over the join order, are messenger users. */
  readonly users: number;
  readonly pairs: number;
  /** Messages in all (shared out over the pairs). */
  readonly messages: number;
  /** Between two users joining. */
  readonly userIntervalMs: number;
  /** Warm-up ends when every pair member has this many neighbours (or after `warmupMaxMs`). */
  readonly warmupNeighbors: number;
  readonly warmupMaxMs: number;
  /** Between two messages of one pair. */
  readonly sendIntervalMs: number;
  /** How long to wait for the last echoes after the last send. */
  readonly echoWaitMs: number;
  /** Simulator: one-way latency between any two hosts (ms). */
  readonly latencyMs: number;
  /** Bytes of each message (at least the tag "t5 <pair> <seq>"; padded). */
  readonly messageBytes: number;
  /**
   * Simulator: the share of users behind symmetric NATs (default 0: every pair can punch). Pairs that
   * cannot punch (symmetric ↔ symmetric or port-restricted) talk through the relay: `relayedRatio`.
   */
  readonly symmetricShare?: number;
  readonly onProgress?: (text: string) => void;
}

const common = { messages: 1000, messageBytes: 100 };

export const tester5Defaults: Record<'sim' | 'udp', Omit<Tester5Options, 'transport' | 'seed'>> = {
  sim: {
    ...common,
    entryPeers: 8,
    users: 200,
    pairs: 20,
    userIntervalMs: 200,
    warmupNeighbors: 8,
    warmupMaxMs: 120_000,
    sendIntervalMs: 200,
    echoWaitMs: 60_000,
    latencyMs: 30,
  },
  udp: {
    ...common,
    entryPeers: 4,
    users: 20,
    pairs: 5,
    userIntervalMs: 100,
    warmupNeighbors: 6,
    warmupMaxMs: 60_000,
    sendIntervalMs: 10,
    echoWaitMs: 30_000,
    latencyMs: 0,
  },
};

const natMix = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;
const dayMs = 24 * 60 * 60 * 1000;

/** A messenger user's keys, as the tester hands them out "in person". */
export interface TesterUserKeys {
  readonly spec: MessengerSpec;
  readonly regKeySeed: Uint8Array;
  readonly regId: Uint8Array;
}

/** One root key, a device key certified by it for a year, and a registration key. */
export function makeUserKeys(crypto: Crypto, rng: Rng, nowMs: number): TesterUserKeys {
  const [root] = generateRootKeys(crypto, rng, 1);
  const identity = createUserIdentity([root!.publicKey], 1);
  const deviceKey = generateDeviceKeyPair(crypto, rng);
  const certificate = issueDeviceCertificate(crypto, {
    identity,
    devicePublicKey: deviceKey.publicKey,
    validFromMs: nowMs - dayMs,
    validToMs: nowMs + 365 * dayMs,
    signers: [{ rootIndex: 0, key: root! }],
  });
  const regKeySeed = rng.bytes(32);
  return {
    spec: { identity, deviceKey, deviceCertificate: encodeDeviceCertificate(certificate) },
    regKeySeed,
    regId: crypto.ed25519FromSeed(regKeySeed).publicKey,
  };
}

export function makeTester5World(transport: 'sim' | 'udp', seed: string, latencyMs: number): World {
  return transport === 'sim'
    ? new SimWorld({ seed, latencyMs, visionThreshold: AttentionLevel.higherLevelDetail })
    : new UdpWorld({ seed });
}

/** The round-trip bound on the simulator: 3 × (one-way latency there + back), all hosts in one region. */
export function roundTripBoundMs(world: World): number | undefined {
  if (!(world instanceof SimWorld)) return undefined;
  const t = world.network.latency;
  let worst = 0;
  for (let a = 0; a < t.regions.length; a++) {
    for (let b = 0; b < t.regions.length; b++) worst = Math.max(worst, t.baseMs(a, b) + t.baseMs(b, a));
  }
  return 3 * worst;
}

interface Pair {
  readonly index: number;
  readonly sender: TesterNode;
  readonly echo: TesterNode;
  readonly echoKeys: TesterUserKeys;
  readonly share: number;
  sent: number;
}

function tagOf(pair: number, seq: number, bytes: number): string {
  const tag = `t5 ${pair} ${seq} `;
  return tag.length >= bytes ? tag : tag + '.'.repeat(bytes - tag.length);
}

function parseTag(bytes: Uint8Array): { pair: number; seq: number } | null {
  const m = /^t5 (\d+) (\d+) /.exec(new TextDecoder().decode(bytes.subarray(0, 32)));
  return m === null ? null : { pair: Number(m[1]), seq: Number(m[2]) };
}

export async function runTester5(opts: Tester5Options): Promise<TesterReport> {
  const started = Date.now();
  if (opts.pairs * 2 > opts.users)
    throw new RangeError(`tester 5: ${opts.pairs} pairs need ${opts.pairs * 2} users`);
  const world = makeTester5World(opts.transport, opts.seed, opts.latencyMs);
  const pains = new PainTally(world.vision);
  const failures: string[] = [];
  const keyRng = new SeededRng(opts.seed, 'tester5/keys');
  const natRng = new SeededRng(opts.seed, 'tester5/nats');
  const symmetricShare = opts.symmetricShare ?? 0;
  if (!(symmetricShare >= 0 && symmetricShare <= 1)) {
    throw new RangeError(`tester 5: symmetricShare must be in [0, 1], got ${symmetricShare}`);
  }
  const crypto = world instanceof SimWorld ? world.crypto : undefined;

  // ---- measurements ----
  const sentAt = new Map<string, number>();
  const roundTrips = new Map<string, number>();
  const seenAtEcho = new Set<string>();
  let duplicates = 0;
  let relayed = 0;
  let receipts = 0;
  let failedTtl = 0;
  let sendRefused = 0;
  const inviteDelays: number[] = [];
  const inviteHops: number[] = [];
  let invitesFailed = 0;
  const senders = new Set<string>();
  const echoes = new Set<string>();

  world.onHostEvent((node, e, now) => {
    if (e.type === 'failed') failedTtl++;
    else if (e.type === 'delivered' && senders.has(node.name)) receipts++;
    else if (e.type === 'message') {
      const tag = parseTag(e.bytes);
      if (tag === null) return;
      const key = `${tag.pair}/${tag.seq}`;
      if (echoes.has(node.name)) {
        if (seenAtEcho.has(key)) duplicates++;
        seenAtEcho.add(key);
        try {
          node.messenger!.host.send(now, e.contact, e.bytes);
        } catch (err) {
          if (!(err instanceof HostSendError)) throw err;
          sendRefused++;
        }
      } else if (senders.has(node.name)) {
        const at = sentAt.get(key);
        if (at === undefined) return;
        if (roundTrips.has(key)) {
          duplicates++;
          return;
        }
        roundTrips.set(key, now - at);
        if (e.path === 'relayed') relayed++;
      }
    }
  });
  world.onEvent((node, e) => {
    if (!senders.has(node.name) && !echoes.has(node.name)) return;
    if (e.type === 'inviteCompleted') inviteDelays.push(e.elapsedMs);
    else if (e.type === 'inviteFailed') invitesFailed++;
    else if (e.type === 'inviteReceived') inviteHops.push(hopsRemainingMax - e.hopsRemaining + 1);
  });

  // ---- entry peers ----
  const eps: TesterNode[] = [];
  for (let i = 0; i < opts.entryPeers; i++) {
    eps.push(
      await world.addNode({
        name: `EP${i}`,
        port: opts.transport === 'sim' ? 12000 + i : 0,
        entryPeers: eps.map((e) => e.endpoint),
        register: i > 0,
        config: entryPeerConfig,
      }),
    );
    await world.runFor(200);
  }
  await world.runFor(3_000);

  // ---- users; pair members spread over the join order ----
  const memberCount = opts.pairs * 2;
  const stride = Math.max(1, Math.floor(opts.users / memberCount));
  const memberAt = new Map<number, number>();
  for (let m = 0; m < memberCount; m++) memberAt.set(m * stride, m);
  const users: TesterNode[] = [];
  const members: (TesterNode | undefined)[] = new Array(memberCount).fill(undefined);
  const memberKeys: TesterUserKeys[] = [];
  for (let i = 0; i < opts.users; i++) {
    const m = memberAt.get(i);
    const keys =
      m === undefined
        ? undefined
        : makeUserKeys(crypto ?? world.nodes[0]!.engine.crypto, keyRng, world.now());
    const node = await world.addNode({
      name: m === undefined ? `U${i}` : m % 2 === 0 ? `S${m / 2}` : `E${(m - 1) / 2}`,
      ...(opts.transport === 'sim'
        ? { nat: natRng.float() < symmetricShare ? 'symmetric' : natMix[i % natMix.length]! }
        : {}),
      entryPeers: eps.map((e) => e.endpoint),
      register: true,
      ...(keys !== undefined ? { regKeySeed: keys.regKeySeed, messenger: keys.spec } : {}),
    });
    users.push(node);
    if (m !== undefined) {
      members[m] = node;
      memberKeys[m] = keys!;
      (m % 2 === 0 ? senders : echoes).add(node.name);
    }
    await world.runFor(opts.userIntervalMs);
    if (i % 50 === 49) opts.onProgress?.(`tester 5: ${i + 1}/${opts.users} users joined`);
  }
  // The pairs met in person: each holds the other's identity and regID.
  const pairs: Pair[] = [];
  for (let p = 0; p < opts.pairs; p++) {
    const sender = members[2 * p]!;
    const echo = members[2 * p + 1]!;
    sender.messenger!.host.addContact(memberKeys[2 * p + 1]!.spec.identity, memberKeys[2 * p + 1]!.regId);
    echo.messenger!.host.addContact(memberKeys[2 * p]!.spec.identity, memberKeys[2 * p]!.regId);
    const share = Math.floor(opts.messages / opts.pairs) + (p < opts.messages % opts.pairs ? 1 : 0);
    pairs.push({ index: p, sender, echo, echoKeys: memberKeys[2 * p + 1]!, share, sent: 0 });
  }
  const memberNodes = members.filter((n): n is TesterNode => n !== undefined);
  const warmStart = world.now();
  const warm = await world.runUntil(
    () => memberNodes.every((n) => (n.peer?.usableLinks().length ?? 0) >= opts.warmupNeighbors),
    opts.warmupMaxMs,
    500,
  );
  const warmupSeconds = Math.round((world.now() - warmStart) / 1000);
  opts.onProgress?.(`tester 5: warm-up ${warm ? 'done' : 'timed out'} after ${warmupSeconds} s`);

  // ---- messages ----
  const total = pairs.reduce((a, p) => a + p.share, 0);
  let sentTotal = 0;
  const rounds = Math.max(0, ...pairs.map((p) => p.share));
  for (let r = 0; r < rounds; r++) {
    for (const p of pairs) {
      if (p.sent >= p.share) continue;
      const seq = p.sent++;
      const key = `${p.index}/${seq}`;
      try {
        p.sender.messenger!.act((h, now) => {
          sentAt.set(key, now);
          return h.send(now, p.echoKeys.regId, tagOf(p.index, seq, opts.messageBytes));
        });
        sentTotal++;
      } catch (err) {
        if (!(err instanceof HostSendError)) throw err;
        sendRefused++;
        sentAt.delete(key);
      }
    }
    await world.runFor(opts.sendIntervalMs);
    if (r % 50 === 49) {
      opts.onProgress?.(`tester 5: ${sentTotal}/${total} messages sent, ${roundTrips.size} echoed`);
    }
  }
  const allBack = await world.runUntil(() => roundTrips.size >= sentTotal, opts.echoWaitMs, 100);
  // A little longer: a late duplicate would show now.
  await world.runFor(opts.transport === 'sim' ? 5_000 : 500);
  opts.onProgress?.(
    `tester 5: ${roundTrips.size}/${total} messages echoed${allBack ? '' : ' (gave up waiting)'}`,
  );

  // ---- report ----
  const rtts = sortedCopy([...roundTrips.values()]);
  const bound = roundTripBoundMs(world);
  const echoedRatio = total === 0 ? 0 : roundTrips.size / total;
  const roundTripMsP50 = percentile(rtts, 50);
  if (roundTrips.size < total) {
    failures.push(`${total - roundTrips.size} of ${total} messages did not come back`);
    for (const p of pairs) {
      let missing = 0;
      for (let s = 0; s < p.share; s++) if (!roundTrips.has(`${p.index}/${s}`)) missing++;
      if (missing === 0) continue;
      const sh = p.sender.messenger!.host;
      const eh = p.echo.messenger!.host;
      failures.push(
        `  pair ${p.index} (${p.sender.name} → ${p.echo.name}): ${missing} missing; sender outbox ${sh.outboxSize}, ` +
          `channels ${sh.channelCount}, path ${sh.pathTo(p.echoKeys.regId) ?? 'none'}, INVITEs ${sh.stats.invitesStarted} ` +
          `(${sh.stats.invitesFailed} failed); echo received ${eh.stats.messagesReceived}, outbox ${eh.outboxSize}`,
      );
      if (failures.length > 8) break;
    }
  }
  if (duplicates > 0) failures.push(`${duplicates} messages seen twice by an application`);
  if (bound !== undefined && rtts.length > 0 && roundTripMsP50 > bound) {
    failures.push(
      `round-trip p50 ${roundTripMsP50} ms exceeds ${bound} ms (3 × the route's one-way latencies)`,
    );
  }
  const hostStats = memberNodes.map((n) => n.messenger!.host.stats);
  const sum = (f: (s: (typeof hostStats)[number]) => number): number =>
    hostStats.reduce((a, s) => a + f(s), 0);
  const channelRejects: Record<string, number> = {};
  for (const n of memberNodes) {
    for (const [k, v] of Object.entries(n.messenger!.host.rejects)) {
      if (v > 0) channelRejects[k] = (channelRejects[k] ?? 0) + v;
    }
  }
  const neighbourCounts = sortedCopy(users.map((u) => u.peer?.usableLinks().length ?? 0));
  const sim = world instanceof SimWorld ? world : undefined;
  await world.close();
  return {
    tester: 5,
    transport: opts.transport,
    seed: opts.seed,
    replay:
      `drp-tester 5 --transport ${opts.transport} --seed ${opts.seed} --peers ${opts.users} ` +
      `--entry-peers ${opts.entryPeers} --pairs ${opts.pairs} --messages ${opts.messages}` +
      (symmetricShare > 0 ? ` --symmetric ${symmetricShare}` : ''),
    peers: opts.entryPeers + opts.users,
    pairs: opts.pairs,
    messagesSent: sentTotal,
    messagesEchoed: roundTrips.size,
    echoedRatio,
    roundTripMsP50,
    roundTripMsP99: percentile(rtts, 99),
    roundTripMsMax: rtts.at(-1) ?? 0,
    ...(bound !== undefined ? { roundTripBoundMs: bound } : {}),
    relayedRatio: roundTrips.size === 0 ? 0 : relayed / roundTrips.size,
    duplicates,
    duplicatesDroppedByHosts: sum((s) => s.duplicatesDropped),
    receipts,
    failedTtl,
    sendRefused,
    channelsOpened: sum((s) => s.channelsOpened),
    channelRejects,
    ...deliveryFigures({
      sent: sum((s) => s.invitesStarted),
      delivered: inviteDelays.length,
      delays: sortedCopy(inviteDelays),
      hops: sortedCopy(inviteHops),
    }),
    invitesFailed,
    ...neighbourFigures(neighbourCounts),
    warmupSeconds,
    painsByLevel: painsByLevel(world.vision),
    wallSeconds: (Date.now() - started) / 1000,
    ...(sim !== undefined
      ? { simulatedSeconds: Math.round(sim.kernel.elapsed() / 1000), eventHash: sim.kernel.eventHash }
      : {}),
    failures,
    pains: pains.toJSON(),
  };
}

/** The summary table of a Tester 5 report. */
export function tester5Table(r: TesterReport): string {
  const n = (k: string): number => Number(r[k] ?? 0);
  const rows: [string, string][] = [
    ['transport / seed', `${r.transport} / ${r.seed}`],
    ['peers / pairs', `${r.peers} / ${n('pairs')}`],
    [
      'messages echoed',
      `${n('messagesEchoed')} / ${n('messagesSent')} (${(100 * n('echoedRatio')).toFixed(2)}%)`,
    ],
    [
      'round trip p50 / p99 / max',
      `${n('roundTripMsP50')} / ${n('roundTripMsP99')} / ${n('roundTripMsMax')} ms` +
        (r.roundTripBoundMs !== undefined ? ` (p50 bound ${n('roundTripBoundMs')} ms)` : ''),
    ],
    ['relayed / duplicates', `${(100 * n('relayedRatio')).toFixed(1)}% / ${n('duplicates')}`],
    ['receipts / TTL failures', `${n('receipts')} / ${n('failedTtl')}`],
    [
      'INVITEs (hosts)',
      `${r.invitesDelivered} / ${r.invitesSent} completed, delay p50 ${r.delayMsP50} ms, hops p50 ${r.hopsP50}; channels ${n('channelsOpened')}`,
    ],
    ['neighbours min / mean / max', `${r.neighborsMin} / ${r.neighborsMean.toFixed(1)} / ${r.neighborsMax}`],
    [
      'pains by level',
      Object.entries(r.painsByLevel)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
  ];
  if (r.simulatedSeconds !== undefined)
    rows.push(['simulated / wall', `${r.simulatedSeconds} s / ${r.wallSeconds.toFixed(1)} s`]);
  else rows.push(['wall', `${r.wallSeconds.toFixed(1)} s`]);
  if (r.eventHash !== undefined) rows.push(['event hash', r.eventHash]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}
