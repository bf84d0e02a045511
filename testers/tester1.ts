/**
 * DRP Tester 1: four peers placed so that a registration must pass two proxies, then one INVITE.
 *
 * Keys are chosen (by rejection sampling from the seed) so that X is nearer to A than the entry peer
 * is, and N nearer to A than X is while X is nearer to N than the entry peer is. With neighbour bounds
 * of 1/2/3 (no extension), X registers through EP, N through EP → X, and A through EP → X → N: the
 * entry peer and X are proxies. Then A INVITEs X (through N). The tester asserts the route from the
 * vision records and that the INVITE was delivered and answered.
 */

import { SeededRng } from '../sim/kernel/rng.js';
import { nodeCrypto } from '../src/crypto/index.js';
import type { DrpConfig } from '../src/drp/config.js';
import { hex } from '../src/drp/engine.js';
import type { EngineEvent } from '../src/drp/types.js';
import { distance, pointOfRegId } from '../src/id/geometry.js';
import { AttentionLevel } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import { painsByLevel, type TesterReport } from './report.js';
import { SimWorld, type TesterNode, UdpWorld, type World } from './world.js';

export interface Tester1Options {
  readonly transport: 'sim' | 'udp';
  readonly seed: string;
}

const margin = 0.07;
const keyTriesMax = 200_000;

const tester1Config: Partial<DrpConfig> = {
  neighborsMin: 1,
  neighborsSoftMax: 2,
  neighborsHardMax: 3,
  recycleWorstIntervalMs: 1e9,
  gapProbeIntervalMs: 1e9,
};

function keySeeds(seed: string): { ep: Uint8Array; x: Uint8Array; n: Uint8Array; a: Uint8Array } {
  const rng = new SeededRng(seed).fork('tester1/keys');
  const draw = (): { seed: Uint8Array; point: Uint32Array } => {
    const s = rng.bytes(32);
    return { seed: s, point: pointOfRegId(nodeCrypto.ed25519FromSeed(s).publicKey) };
  };
  const d = (p: Uint32Array, q: Uint32Array): number => distance(p, 0, q, 0);
  const ep = draw();
  const a = draw();
  for (let i = 0; i < keyTriesMax; i++) {
    const x = draw();
    if (d(x.point, a.point) > d(ep.point, a.point) - margin) continue;
    for (let j = 0; j < 2_000; j++) {
      const n = draw();
      if (
        d(n.point, a.point) <= d(x.point, a.point) - margin &&
        d(x.point, n.point) <= d(ep.point, n.point) - margin
      ) {
        return { ep: ep.seed, x: x.seed, n: n.seed, a: a.seed };
      }
    }
  }
  throw new Error('tester 1: no key placement found (raise keyTriesMax)');
}

export async function runTester1(opts: Tester1Options): Promise<TesterReport> {
  const started = Date.now();
  const world: World =
    opts.transport === 'sim'
      ? new SimWorld({ seed: opts.seed, latencyMs: 20, visionThreshold: AttentionLevel.detail })
      : new UdpWorld({ seed: opts.seed, visionThreshold: AttentionLevel.detail });
  const records: VisionRecord[] = [];
  world.vision.onRecord((r) => {
    if (typeof r.attributes?.tx === 'string' && records.length < 10_000) records.push(r);
  });
  const events: { node: string; e: EngineEvent }[] = [];
  world.onEvent((node, e) => {
    if (e.type !== 'powJob') events.push({ node: node.name, e });
  });
  const failures: string[] = [];
  const keys = keySeeds(opts.seed);
  const ep = await world.addNode({
    name: 'EP',
    port: opts.transport === 'sim' ? 12000 : 0,
    entryPeers: [],
    register: false,
    regKeySeed: keys.ep,
    config: tester1Config,
  });
  const answered: string[] = [];
  const user = (
    name: string,
    seed: Uint8Array,
    nat: 'fullCone' | 'portRestricted' | 'restricted',
  ): Promise<TesterNode> =>
    world.addNode({
      name,
      nat,
      entryPeers: [ep.endpoint],
      register: true,
      regKeySeed: seed,
      config: tester1Config,
      onInvite: (info) => {
        answered.push(name);
        return new TextEncoder().encode(`${name} answers ${hex(info.requesterRegId).slice(0, 8)}`);
      },
    });
  const registered = (n: TesterNode): boolean => (n.peer?.usableLinks().length ?? 0) > 0;
  const timeoutMs = 30_000;
  const regTimes: Record<string, number> = {};
  const x = await user('X', keys.x, 'fullCone');
  let t0 = world.now();
  if (!(await world.runUntil(() => registered(x), timeoutMs))) failures.push('X did not register');
  regTimes.X = world.now() - t0;
  const n = await user('N', keys.n, 'portRestricted');
  t0 = world.now();
  if (!(await world.runUntil(() => registered(n), timeoutMs))) failures.push('N did not register');
  regTimes.N = world.now() - t0;
  const a = await user('A', keys.a, 'restricted');
  t0 = world.now();
  if (!(await world.runUntil(() => registered(a), timeoutMs))) failures.push('A did not register');
  regTimes.A = world.now() - t0;
  // Let CFMs settle.
  await world.runFor(500);

  // The REGISTER route of A: the hops that forwarded A's first registration transaction.
  const aTx = records.find((r) => r.peer === 'A' && r.message === 'registering through entry peer')
    ?.attributes?.tx;
  const proxies = records
    .filter((r) => r.attributes?.tx === aTx && r.message === 'REGISTER forwarded')
    .map((r) => r.peer);
  const acceptor = records.find(
    (r) => r.attributes?.tx === aTx && r.message.startsWith('REGISTER accepted'),
  )?.peer;
  if (proxies.length < 2)
    failures.push(`A's registration passed ${proxies.length} proxies (want ≥ 2): ${proxies.join(' → ')}`);

  // One INVITE, A → X.
  const sd = new TextEncoder().encode('A calls X');
  a.act((e, now) => e.sendInvite(now, a.peer!, x.peer!.regId, sd));
  const done = (): boolean =>
    events.some((v) => v.e.type === 'inviteCompleted' || v.e.type === 'inviteFailed');
  await world.runUntil(done, timeoutMs);
  const completed = events.find((v) => v.e.type === 'inviteCompleted');
  const received = events.find((v) => v.e.type === 'inviteReceived' && v.node === 'X');
  if (completed === undefined) failures.push('the INVITE was not answered');
  if (received === undefined) failures.push('X did not receive the INVITE');
  const hopsRemaining = received?.e.type === 'inviteReceived' ? received.e.hopsRemaining : -1;
  const hops = hopsRemaining < 0 ? 0 : 30 - hopsRemaining + 1;
  const delay = completed?.e.type === 'inviteCompleted' ? completed.e.elapsedMs : 0;
  const neighbourCounts = [ep, x, n, a].map((t) => t.peer?.usableLinks().length ?? 0);
  await world.close();
  const simulated =
    world instanceof SimWorld ? Math.round((world.kernel.elapsed() / 1000) * 10) / 10 : undefined;
  return {
    tester: 1,
    transport: opts.transport,
    seed: opts.seed,
    replay: `drp-tester 1 --transport ${opts.transport} --seed ${opts.seed}`,
    peers: 4,
    invitesSent: 1,
    invitesDelivered: completed !== undefined && received !== undefined ? 1 : 0,
    deliveredRatio: completed !== undefined && received !== undefined ? 1 : 0,
    delayMsP50: delay,
    delayMsP99: delay,
    hopsP50: hops,
    hopsP99: hops,
    hopsMax: hops,
    neighborsMin: Math.min(...neighbourCounts),
    neighborsMean: neighbourCounts.reduce((s, v) => s + v, 0) / neighbourCounts.length,
    neighborsMax: Math.max(...neighbourCounts),
    painsByLevel: painsByLevel(world.vision),
    wallSeconds: (Date.now() - started) / 1000,
    ...(simulated !== undefined ? { simulatedSeconds: simulated } : {}),
    ...(world instanceof SimWorld ? { eventHash: world.kernel.eventHash } : {}),
    failures,
    registrationRoute: ['A', ...proxies, acceptor ?? '?'],
    registrationMs: regTimes,
    answeredBy: answered,
  };
}
