/**
 * Tables never grow past their bounds under floods of distinct forged requests. Assertions are on
 * sizes, never on time.
 *
 * - The response cache (`responseCacheEntriesMax`): a genuine neighbour's flood of distinct REGISTERs
 *   (each answered with a cached NPACK), and an entry-mode flood from thousands of spoofed endpoints.
 * - The replay filters (`replaySetEntriesMax`): a neighbour whose budget admits the flood sends
 *   distinct, validly signed REGISTERs; the filter fills to its bound and then fails closed.
 * - The REGISTER transaction tables at an entry peer (`pendingRegistersMax`): a newcomer that solved
 *   PoW once sends many entry-mode REGISTERs (see the engine bug noted there).
 */
import { describe, expect, it } from 'vitest';
import type { DrpEngine } from '../../src/drp/engine.js';
import { solvePow1, solvePow2 } from '../../src/pow/pow.js';
import {
  decodeDatagram,
  encodeDatagram,
  endpointToWire,
  PacketType,
  type RegisterReq,
  registerReqSignedBytes,
} from '../../src/wire/index.js';
import {
  buildNet,
  forgeRegisterReq,
  linkBetween,
  replayHint,
  scenarioSeed,
  sendOnLink,
  type TestNet,
} from './harness.js';

const file = 'test/drp/table-bounds.sim.test.ts';
const cacheMax = 200;
const replayMax = 64;
const pendingRegistersMax = 32;

function responseCacheSize(e: DrpEngine): number {
  return (e as unknown as { responseCache: Map<string, unknown> }).responseCache.size;
}

function acceptingSize(e: DrpEngine): number {
  return (e.register as unknown as { accepting: Map<string, unknown> }).accepting.size;
}

/**
 * A small network whose user U1 has a tiny response cache. U1 sits behind a full-cone NAT (which passes
 * datagrams from anyone) and knows its public endpoint, so it also serves as an entry peer.
 */
function smallNet(seed: string): Promise<TestNet> {
  return buildNet({
    seed,
    entryPeers: 3,
    users: 8,
    warmNeighborsMin: 5,
    userConfig: { neighborsMin: 5, neighborsSoftMax: 7, neighborsHardMax: 9 },
    perUser: (i) => (i === 1 ? { responseCacheEntriesMax: cacheMax } : undefined),
  });
}

/** A newcomer socket that paid PoW1 and PoW2 once at `ep`, and can then send entry-mode REGISTERs. */
async function newcomerAt(net: TestNet, ep: TestNet['eps'][number], port: number) {
  const { world } = net;
  const e = ep.engine;
  const socket = world.network.bind(world.network.addHost({}), port);
  const inbox: Uint8Array[] = [];
  socket.onDatagram((b) => {
    if (inbox.length < 1_000) inbox.push(b);
  });
  const key = e.crypto.ed25519FromSeed(new Uint8Array(32).fill(port & 0xff));
  const rng = world.kernel.rng.fork(`bounds/newcomer/${port}`);
  const bits = e.config.powBits;
  const ts = Math.floor(world.now() / 1000);
  const ip = endpointToWire(socket.local).ipv4;
  const p1 = solvePow1(ts, ip, bits, rng)!;
  socket.send(
    ep.endpoint,
    encodeDatagram({ type: PacketType.Pow1Request, timestampS: ts, nonce: p1.nonce, requestId: 1 }),
  );
  await world.runFor(200);
  let challenge: Uint8Array | null = null;
  for (const b of inbox) {
    const r = decodeDatagram(b);
    if (r.ok && r.packet.type === PacketType.Pow1Response) challenge = r.packet.pow2Challenge;
  }
  if (challenge === null) throw new Error('no PoW2 challenge from the entry peer');
  const p2 = solvePow2(challenge, key.publicKey, bits, rng)!;
  return {
    /** Sends one entry-mode REGISTER (distinct timestamp `i`), reusing the one PoW2 solution. */
    register(i: number): void {
      const signed = {
        requesterRegId: key.publicKey,
        requesterEphemeralKey: e.crypto.x25519PublicKey(rng.bytes(32)),
        timestampMs: world.now() + i,
        busySectors: 0,
        requesterFlags: 0,
        directionVector: null,
        epEndpoint: endpointToWire(ep.endpoint),
      };
      const req: RegisterReq = {
        type: PacketType.RegisterReq,
        linkToken: null,
        ...signed,
        requesterSignature: e.crypto.ed25519Sign(key, registerReqSignedBytes(signed)),
        pow2Nonce: p2.nonce,
        hopsRemaining: 30,
        randomHopsRemaining: 0,
        seq: i,
        linkMac: null,
      };
      socket.send(ep.endpoint, encodeDatagram(req));
    },
  };
}

describe('table bounds under floods of distinct forged requests', () => {
  it('the response cache stays within responseCacheEntriesMax under a neighbour flood of distinct REGISTERs', async () => {
    const seed = scenarioSeed('bounds-cache-1');
    const hint = replayHint(seed, file);
    const net = await smallNet(seed);
    expect(net.warmedUp, hint).toBe(true);
    const { world } = net;
    const victim = net.users[1]!;
    const flooder = net.all.find((n) => n !== victim && linkBetween(n, victim) !== undefined)!;
    const link = linkBetween(flooder, victim)!;
    let maxSeen = 0;
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 100; i++) {
        const ts = world.now() + batch * 100 + i;
        sendOnLink(flooder, link, (s) => forgeRegisterReq(flooder, link, s, { timestampMs: ts }));
      }
      await world.runFor(200);
      maxSeen = Math.max(maxSeen, responseCacheSize(victim.engine));
    }
    const s = `max response cache ${maxSeen} (bound ${cacheMax}), rateLimited ${victim.engine.drops.rateLimited}; ${hint}`;
    expect(maxSeen, s).toBeLessThanOrEqual(cacheMax);
    expect(maxSeen, s).toBe(cacheMax); // the flood did reach the bound
    expect(victim.engine.drops.rateLimited, s).toBeGreaterThan(1_500);
  }, 60_000);

  it('the response cache stays within its bound under an entry-mode flood from 5,000 spoofed endpoints', async () => {
    const seed = scenarioSeed('bounds-entry-cache-1');
    const hint = replayHint(seed, file);
    const net = await smallNet(seed);
    const { world } = net;
    // The victim: U1 has a public address and a registration, so it acts as an entry peer.
    const victim = net.users[1]!;
    expect(victim.engine.publicEndpoint, hint).toBeDefined();
    const rng = world.kernel.rng.fork('bounds/spoof');
    const attacker = net.users[2]!;
    const e = attacker.engine;
    let maxSeen = 0;
    const badPowBefore = victim.engine.drops.badPow;
    for (let batch = 0; batch < 50; batch++) {
      for (let i = 0; i < 100; i++) {
        const signed = {
          requesterRegId: attacker.peer!.regId,
          requesterEphemeralKey: rng.bytes(32),
          timestampMs: world.now() + batch * 100 + i,
          busySectors: 0,
          requesterFlags: 0,
          directionVector: null,
          epEndpoint: endpointToWire(victim.engine.publicEndpoint!),
        };
        const req: RegisterReq = {
          type: PacketType.RegisterReq,
          linkToken: null,
          ...signed,
          requesterSignature: e.crypto.ed25519Sign(attacker.peer!.regKey, registerReqSignedBytes(signed)),
          pow2Nonce: rng.bytes(16),
          hopsRemaining: 30,
          randomHopsRemaining: 0,
          seq: rng.uint32(),
          linkMac: null,
        };
        const from = {
          address: `100.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`,
          port: 1 + rng.int(65_535),
        };
        world.network.inject(from, victim.engine.publicEndpoint!, encodeDatagram(req));
      }
      await world.runFor(200);
      maxSeen = Math.max(maxSeen, responseCacheSize(victim.engine));
    }
    const s = `max response cache ${maxSeen} (bound ${cacheMax}), badPow +${victim.engine.drops.badPow - badPowBefore}; ${hint}`;
    expect(victim.engine.drops.badPow - badPowBefore, s).toBe(5_000);
    expect(maxSeen, s).toBeLessThanOrEqual(cacheMax);
    expect(maxSeen, s).toBe(cacheMax);
  }, 60_000);

  it('the replay filters stay within 2 × replaySetEntriesMax and fail closed when a flood fills them', async () => {
    const seed = scenarioSeed('bounds-replay-1');
    const hint = replayHint(seed, file);
    const net = await buildNet({
      seed,
      entryPeers: 3,
      users: 8,
      warmNeighborsMin: 5,
      userConfig: { neighborsMin: 5, neighborsSoftMax: 7, neighborsHardMax: 9 },
      // U1 lets any neighbour send 1,000 REGISTERs/s: only its replay filter's bound stands.
      perUser: (i) =>
        i === 1
          ? { replaySetEntriesMax: replayMax, registerRatePerSec: 1_000, registerBurst: 1_000 }
          : undefined,
    });
    expect(net.warmedUp, hint).toBe(true);
    const { world } = net;
    const victim = net.users[1]!;
    const flooder = net.all.find((n) => n !== victim && linkBetween(n, victim) !== undefined)!;
    const link = linkBetween(flooder, victim)!;
    let maxRequests = 0;
    let maxKeys = 0;
    const dupBefore = victim.engine.drops.replay;
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 50; i++) {
        const ts = world.now() + batch * 50 + i;
        sendOnLink(flooder, link, (s) => forgeRegisterReq(flooder, link, s, { timestampMs: ts }));
      }
      await world.runFor(300);
      maxRequests = Math.max(maxRequests, victim.engine.seenRequests.size);
      maxKeys = Math.max(maxKeys, victim.engine.seenEphemeralKeys.size);
    }
    const s = `seenRequests max ${maxRequests}, seenEphemeralKeys max ${maxKeys}, floodRejects ${victim.engine.seenRequests.floodRejects}, replay drops +${victim.engine.drops.replay - dupBefore}; ${hint}`;
    expect(maxRequests, s).toBeLessThanOrEqual(2 * replayMax);
    expect(maxKeys, s).toBeLessThanOrEqual(2 * replayMax);
    expect(victim.engine.seenRequests.floodRejects, s).toBeGreaterThan(0);
    // Failing closed: requests beyond the bound are refused as duplicates, never processed.
    expect(victim.engine.drops.replay - dupBefore, s).toBeGreaterThanOrEqual(500 - replayMax - 1);
  }, 60_000);

  // One newcomer that paid PoW once must not make an entry peer hold hundreds of REGISTER transactions:
  // a solved PoW2 challenge admits one REGISTER (then it is forgotten), and relays + acceptances are
  // bounded by `pendingRegistersMax` (beyond it: NPACK overloaded, counted as tableFull).
  it('an entry peer holds at most pendingRegistersMax REGISTER transactions when one newcomer floods it', async () => {
    const seed = scenarioSeed('bounds-entry-relays-1');
    const hint = replayHint(seed, file);
    const net = await buildNet({
      seed,
      entryPeers: 3,
      users: 8,
      warmNeighborsMin: 5,
      userConfig: { neighborsMin: 5, neighborsSoftMax: 7, neighborsHardMax: 9 },
      entryConfig: { pendingRegistersMax },
    });
    const { world } = net;
    const ep = net.eps[1]!;
    const e = ep.engine;
    const newcomer = await newcomerAt(net, ep, 40_000);
    let maxTx = 0;
    for (let i = 0; i < 300; i++) {
      newcomer.register(i);
      if (i % 20 === 19) {
        await world.runFor(10);
        maxTx = Math.max(maxTx, e.register.relayCount + acceptingSize(e));
      }
    }
    await world.runFor(100);
    maxTx = Math.max(maxTx, e.register.relayCount + acceptingSize(e));
    const s = `max relays+accepting ${maxTx} (pendingRegistersMax ${pendingRegistersMax}), badPow ${e.drops.badPow}; ${hint}`;
    expect(maxTx, s).toBeLessThanOrEqual(pendingRegistersMax);
  }, 60_000);

  // The same flood at default bounds must leave room in the entry peer's request table for honest
  // traffic: requests in entry mode (FAILUREs to a newcomer that never acknowledges) are capped per
  // endpoint (`entryRequestsPerEndpointMax`), so they cannot fill `transactionsMax`.
  it('an entry peer flooded by one PoW-paying newcomer keeps room in its request table for honest traffic', async () => {
    const seed = scenarioSeed('bounds-entry-pending-1');
    const hint = replayHint(seed, file);
    const net = await buildNet({
      seed,
      entryPeers: 3,
      users: 4,
      warmNeighborsMin: 3,
      userConfig: { neighborsMin: 3, neighborsSoftMax: 5, neighborsHardMax: 6 },
    });
    const { world } = net;
    const ep = net.eps[1]!;
    const pending = (): number => (ep.engine as unknown as { pending: Map<string, unknown> }).pending.size;
    const newcomer = await newcomerAt(net, ep, 40_001);
    let maxPending = 0;
    for (let sent = 0; sent < 6_000; sent++) {
      newcomer.register(sent);
      if (sent % 500 === 499) {
        await world.runFor(100);
        maxPending = Math.max(maxPending, pending());
      }
    }
    const s = `max pending ${maxPending} of transactionsMax ${ep.engine.config.transactionsMax}, relayed ${ep.engine.stats.relayed}; ${hint}`;
    expect(maxPending, s).toBeLessThan(ep.engine.config.transactionsMax / 2);
  }, 60_000);
});
