/**
 * DRP Tester 2: entry peers and users in one network, then a batch of INVITEs.
 *
 * `entryPeers` entry peers start first; entry peer i registers through entry peers 0..i−1 (an
 * interconnected backbone with bounds 13/30/40). Then `users` users join one after another through
 * entry peer 0, each started `userIntervalMs` after the previous. After the warm-up (every user at its
 * minimum of neighbours, or `warmupMaxMs`), `invites` INVITEs go between random pairs of users, spread
 * over `inviteSpreadMs`. Reports delivery, delay, hops, neighbours per user and the share of peers whose
 * nine simplex sectors all hold a neighbour.
 */
import type { DrpConfig } from '../src/drp/config.js';
import { busySectorCount } from '../src/id/sectors.js';
import { AttentionLevel } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import { InviteCampaign } from './invites.js';
import {
  deliveryFigures,
  neighbourFigures,
  PainTally,
  painsByLevel,
  RunTrace,
  renderRoute,
  sortedCopy,
  type TesterReport,
} from './report.js';
import { SimWorld, type TesterNode, UdpWorld, type World } from './world.js';

export interface Tester2Options {
  readonly transport: 'sim' | 'udp';
  readonly seed: string;
  readonly entryPeers: number;
  readonly users: number;
  readonly invites: number;
  readonly userIntervalMs: number;
  readonly warmupMaxMs: number;
  readonly inviteSpreadMs: number;
  /** Where the run's trace is written (default 'reports'). */
  readonly traceDir?: string;
  readonly onProgress?: (text: string) => void;
}

export const tester2Defaults = {
  entryPeers: 25,
  users: 100,
  invites: 1000,
  userIntervalMs: 500,
  warmupMaxMs: 300_000,
  inviteSpreadMs: 100_000,
};

export const entryPeerConfig: Partial<DrpConfig> = {
  neighborsMin: 13,
  neighborsSoftMax: 30,
  neighborsHardMax: 40,
  recycleWorstIntervalMs: 1e9,
};

const natMix = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;

export async function runTester2(opts: Tester2Options): Promise<TesterReport> {
  const started = Date.now();
  const world: World =
    opts.transport === 'sim'
      ? new SimWorld({ seed: opts.seed, latencyMs: 30, visionThreshold: AttentionLevel.higherLevelDetail })
      : new UdpWorld({ seed: opts.seed });
  const runStart = world.now();
  world.vision.setThreshold('drp.route', AttentionLevel.detail);
  const routeRecords: VisionRecord[] = [];
  world.vision.onRecord((r) => {
    const tx = r.attributes?.tx;
    if (typeof tx === 'string' && tx.startsWith('I') && routeRecords.length < 200_000) routeRecords.push(r);
  });
  const campaign = new InviteCampaign(world);
  const pains = new PainTally(world.vision);
  const trace = new RunTrace(world.vision);
  const failures: string[] = [];
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
  await world.runFor(5_000);
  const users: TesterNode[] = [];
  const answer = (): Uint8Array => new TextEncoder().encode('ok');
  for (let i = 0; i < opts.users; i++) {
    users.push(
      await world.addNode({
        name: `U${i}`,
        ...(opts.transport === 'sim' ? { nat: natMix[i % natMix.length]! } : {}),
        entryPeers: [eps[0]!.endpoint],
        register: true,
        onInvite: answer,
      }),
    );
    await world.runFor(opts.userIntervalMs);
    if (i % 20 === 19) opts.onProgress?.(`tester 2: ${i + 1}/${opts.users} users joined`);
  }
  const min = 12;
  const warmStart = world.now();
  const warm = await world.runUntil(
    () => users.every((u) => (u.peer?.usableLinks().length ?? 0) >= min),
    opts.warmupMaxMs,
    1_000,
  );
  opts.onProgress?.(
    `tester 2: warm-up ${warm ? 'done' : 'timed out'} after ${Math.round((world.now() - warmStart) / 1000)} s`,
  );
  const warmupSeconds = Math.round((world.now() - warmStart) / 1000);
  const counts = users.map((u) => u.peer?.usableLinks().length ?? 0);
  if (!warm) failures.push(`warm-up: users below ${min} neighbours: ${counts.filter((c) => c < min).length}`);
  const rng = world instanceof SimWorld ? world.kernel.rng.fork('tester2/invites') : undefined;
  const pick = (n: number): number => (rng !== undefined ? rng.int(n) : Math.floor(Math.random() * n));
  const gapMs = opts.inviteSpreadMs / Math.max(1, opts.invites);
  let sent = 0;
  while (sent < opts.invites) {
    const a = users[pick(users.length)]!;
    let b = users[pick(users.length)]!;
    while (b === a) b = users[pick(users.length)]!;
    campaign.send(a, b);
    sent++;
    await world.runFor(gapMs);
    if (sent % 200 === 0) opts.onProgress?.(`tester 2: ${sent}/${opts.invites} INVITEs sent`);
  }
  await world.runUntil(() => campaign.pending === 0, 120_000, 500);
  const s = campaign.stats();
  for (const f of s.failed.slice(0, 3)) {
    failures.push(
      `INVITE #${f.id} ${f.from} → ${f.to} failed: ${f.failure ?? 'no outcome'}\n${renderRoute(routeRecords, f.attemptTxIds ?? [], runStart)}`,
    );
  }
  const all = [...eps, ...users];
  // Neighbour counts are taken when the warm-up ends ("after warm-up"); the end-of-run counts are extra.
  const neighbourCounts = sortedCopy(counts);
  const neighboursAtEnd = sortedCopy(users.map((u) => u.peer?.usableLinks().length ?? 0));
  const allSectors = all.filter((n) => busySectorCount(n.peer?.busySectors() ?? 0) === 9).length;
  await world.close();
  const tracePath = trace.write(
    `${opts.traceDir ?? 'reports'}/tester2-${opts.transport}-${opts.seed}.trace`,
    opts.seed,
    {
      tester: 2,
      transport: opts.transport,
      users: opts.users,
      entryPeers: opts.entryPeers,
      invites: opts.invites,
    },
    routeRecords,
    s.failed.flatMap((f) => f.attemptTxIds ?? []),
  );
  return {
    trace: tracePath,
    tester: 2,
    transport: opts.transport,
    seed: opts.seed,
    replay: `drp-tester 2 --transport ${opts.transport} --seed ${opts.seed} --peers ${opts.users} --entry-peers ${opts.entryPeers} --invites ${opts.invites}`,
    peers: all.length,
    ...deliveryFigures(s),
    ...neighbourFigures(neighbourCounts),
    painsByLevel: painsByLevel(world.vision),
    wallSeconds: (Date.now() - started) / 1000,
    ...(world instanceof SimWorld
      ? { simulatedSeconds: Math.round(world.kernel.elapsed() / 1000), eventHash: world.kernel.eventHash }
      : {}),
    failures,
    allSectorsOccupiedRatio: allSectors / all.length,
    warmupSeconds,
    neighborsAtEnd: { min: neighboursAtEnd[0] ?? 0, max: neighboursAtEnd.at(-1) ?? 0 },
    pains: pains.toJSON(),
  };
}
