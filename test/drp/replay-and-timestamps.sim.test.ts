/**
 * Replays and timestamps, on a live simulated network.
 *
 * - REGISTER family: a newcomer Z (room for exactly one neighbour, so its registration is one clean
 *   transaction) registers through entry peer EP0; every ACK1/ACK2/CFM of that transaction is captured
 *   on the wire and sent again verbatim from the same endpoints, first right after the transaction
 *   ended (inside the 15 s response cache), then after the cache expired. No second link, no
 *   `neighborUp`, no second `registered`.
 * - INVITE family: one INVITE A → B, captured (REQ, ACK1, ACK2, CFM at every hop) and replayed the same
 *   two ways: no second `inviteReceived`, no second `inviteCompleted`, and after the cache expired the
 *   REQ is refused as a duplicate by the replay filter.
 * - Timestamps: REGISTER and INVITE requests from a genuine neighbour, correctly signed, stamped 21 min
 *   in the past or future, and an entry-mode REGISTER likewise, are refused with NPACK badTimestamp and
 *   counted in `drops.badTimestamp`; 19 min off is not refused for its timestamp.
 * - Bad signature from a neighbour: NPACK badSignature, `drops.badSignature`, a strong pain, and the
 *   neighbour stays.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { hex } from '../../src/drp/engine.js';
import type { NeighborLink } from '../../src/drp/neighbor.js';
import { AttentionLevel } from '../../src/vision/attention.js';
import type { VisionRecord } from '../../src/vision/record.js';
import {
  decodeDatagram,
  encodeDatagram,
  endpointToWire,
  PacketType,
  type RegisterReq,
  ResultCode,
} from '../../src/wire/index.js';
import {
  buildNet,
  dropTotal,
  forgeInviteReq,
  forgeRegisterReq,
  linkBetween,
  NpackTap,
  replayHint,
  scenarioSeed,
  sendOnLink,
  type TestNet,
  usable,
  WireTap,
} from './harness.js';

const file = 'test/drp/replay-and-timestamps.sim.test.ts';
const minuteMs = 60_000;
const quiet = { recycleWorstIntervalMs: 1e9, gapProbeIntervalMs: 1e9 };
const registerFamily = new Set<number>([
  PacketType.RegisterAck1,
  PacketType.RegisterAck2,
  PacketType.RegisterCfm,
]);
const inviteFamily = new Set<number>([
  PacketType.InviteReq,
  PacketType.InviteAck1,
  PacketType.InviteAck2,
  PacketType.InviteCfm,
]);

function requesterHexOf(bytes: Uint8Array): string | undefined {
  const r = decodeDatagram(bytes);
  if (!r.ok) return undefined;
  const p = r.packet as { requesterRegId?: Uint8Array };
  return p.requesterRegId === undefined ? undefined : hex(p.requesterRegId);
}

describe('replays and timestamps', () => {
  const seed = scenarioSeed('replay-1');
  const hint = replayHint(seed, file);
  let net: TestNet;
  const pains: VisionRecord[] = [];

  beforeAll(async () => {
    net = await buildNet({
      seed,
      entryPeers: 3,
      users: 10,
      warmNeighborsMin: 6,
      userConfig: { neighborsMin: 6, neighborsSoftMax: 8, neighborsHardMax: 10, ...quiet },
      entryConfig: quiet,
    });
    net.world.vision.onRecord((r) => {
      if (r.level >= AttentionLevel.strongPain) pains.push(r);
    });
  }, 60_000);

  it('warms up', () => {
    expect(net.warmedUp, `${net.users.map(usable).join(',')}; ${hint}`).toBe(true);
  });

  it('replayed REGISTER ACK1/ACK2/CFM, inside and after the response cache, open no second link', async () => {
    const { world } = net;
    let zHex = '';
    const tap = new WireTap(
      world,
      (d) => registerFamily.has(d.bytes[1]!) && zHex !== '' && requesterHexOf(d.bytes) === zHex,
      1_000,
    );
    const z = world.addNodeNow({
      name: 'Z',
      entryPeers: [net.eps[0]!.endpoint],
      register: true,
      config: { neighborsMin: 1, neighborsSoftMax: 1, neighborsHardMax: 1, ...quiet },
    });
    zHex = z.peer!.regIdHex;
    const up = await world.runUntil(() => usable(z) === 1, 30_000, 100);
    await world.runFor(2_000); // CFM delivered and acknowledged: the transaction is over
    tap.remove();
    const captured = tap.captured;
    const types = new Set(captured.map((d) => d.bytes[1]));
    const summary0 = `Z up=${up}, captured ${captured.length} of types ${[...types]}; ${hint}`;
    expect(up, summary0).toBe(true);
    expect(
      [...registerFamily].every((t) => types.has(t)),
      summary0,
    ).toBe(true);
    const acceptor = net.all.find((n) => n.peer!.neighbors.has(zHex))!;
    expect(acceptor, summary0).toBeDefined();

    const zEvents = (): number =>
      net.events.filter(
        (x) =>
          (x.e.type === 'neighborUp' || x.e.type === 'registered') &&
          (x.node === 'Z' || (x.e.type === 'neighborUp' && hex(x.e.remoteRegId) === zHex)),
      ).length;
    /** Every link object, anywhere, between Z and another peer. */
    const linksWithZ = (): unknown[] => [
      ...z.engine.links.values(),
      ...net.all.flatMap((n) => [...n.engine.links.values()].filter((l) => l.remoteRegIdHex === zHex)),
    ];
    const before = { zEvents: zEvents(), links: linksWithZ() };
    expect(before.links.length, summary0).toBe(2); // Z's end and the acceptor's end
    const replayAll = async (): Promise<number> => {
      const dropsBefore = net.all.reduce((s, n) => s + dropTotal(n.engine), 0) + dropTotal(z.engine);
      for (const d of captured) world.network.inject(d.from, d.to, d.bytes);
      await world.runFor(3_000);
      return net.all.reduce((s, n) => s + dropTotal(n.engine), 0) + dropTotal(z.engine) - dropsBefore;
    };
    const check = (phase: string): void => {
      const s = `${phase}: ${summary0}`;
      expect(zEvents(), s).toBe(before.zEvents);
      const now = linksWithZ();
      expect(now.length, s).toBe(before.links.length);
      expect(
        now.every((l) => before.links.includes(l)),
        s,
      ).toBe(true);
      expect(usable(z), s).toBe(1);
      expect(before.links.includes(acceptor.peer!.neighbors.get(zHex)), s).toBe(true);
    };
    await replayAll();
    check('inside the response cache');
    await world.runFor(z.engine.config.responseCacheMs + 1_000);
    const dropped = await replayAll();
    check('after the response cache expired');
    // With the transaction state and the cache gone, each replay is dropped (unexpected / unknown).
    expect(dropped, `dropped ${dropped} of ${captured.length}; ${summary0}`).toBeGreaterThanOrEqual(
      captured.length,
    );
  }, 60_000);

  it('replayed INVITE REQ/ACK1/ACK2/CFM, inside and after the response cache, deliver nothing twice', async () => {
    const { world, campaign } = net;
    const [a, b] = [net.users[1]!, net.users[6]!];
    const aHex = a.peer!.regIdHex;
    const tap = new WireTap(
      world,
      (d) => inviteFamily.has(d.bytes[1]!) && requesterHexOf(d.bytes) === aHex,
      1_000,
    );
    const o = campaign.send(a, b);
    const done = await world.runUntil(() => o.completedAtMs !== undefined || o.failure !== undefined, 30_000);
    await world.runFor(2_000);
    tap.remove();
    const captured = tap.captured;
    const summary0 = `invite ${o.from}→${o.to} done=${done} failure=${o.failure}; captured ${captured.length}; ${hint}`;
    expect(o.completedAtMs, summary0).toBeDefined();
    expect(new Set(captured.map((d) => d.bytes[1])).size, summary0).toBe(4);
    const count = (type: string): number => net.events.filter((x) => x.e.type === type).length;
    const received = count('inviteReceived');
    const completed = count('inviteCompleted');
    const relays = (): number => net.all.reduce((s, n) => s + n.engine.invite.relayCount, 0);
    const replayDrops = (): number => net.all.reduce((s, n) => s + n.engine.drops.replay, 0);

    for (const d of captured) world.network.inject(d.from, d.to, d.bytes);
    await world.runFor(3_000);
    expect(count('inviteReceived'), `inside cache: ${summary0}`).toBe(received);
    expect(count('inviteCompleted'), `inside cache: ${summary0}`).toBe(completed);
    expect(relays(), `inside cache: ${summary0}`).toBe(0);

    await world.runFor(b.engine.config.responseCacheMs + 1_000);
    const replaysBefore = replayDrops();
    const reqs = captured.filter((d) => d.bytes[1] === PacketType.InviteReq);
    // The NPACKs each hop sends back to the replayed REQ's (spoofed) source, by seq.
    const answers = new Map<string, number>();
    const seqOf = (b: Uint8Array): number => {
      const r = decodeDatagram(b);
      return r.ok ? (r.packet as { seq: number }).seq : -1;
    };
    const watch = world.network.addAdversary({
      action: 'drop',
      match: (d) => {
        if (d.bytes[1] !== PacketType.Npack) return false;
        const r = decodeDatagram(d.bytes);
        if (r.ok && r.packet.type === PacketType.Npack)
          answers.set(
            `${d.from.address}:${d.from.port}>${d.to.address}:${d.to.port}#${r.packet.seq}`,
            r.packet.code,
          );
        return false;
      },
    });
    for (const d of captured) world.network.inject(d.from, d.to, d.bytes);
    await world.runFor(3_000);
    watch.remove();
    const reqCodes = reqs.map((d) =>
      answers.get(`${d.to.address}:${d.to.port}>${d.from.address}:${d.from.port}#${seqOf(d.bytes)}`),
    );
    const s = `after cache: REQ answers ${reqCodes}, replay drops +${replayDrops() - replaysBefore}; ${summary0}`;
    expect(count('inviteReceived'), s).toBe(received);
    expect(count('inviteCompleted'), s).toBe(completed);
    expect(relays(), s).toBe(0);
    // Every hop's copy of the REQ hits the replay filter (NPACK duplicate), none is routed again.
    expect(reqs.length, s).toBeGreaterThanOrEqual(1);
    expect(reqCodes, s).toEqual(reqs.map(() => ResultCode.duplicate));
    expect(replayDrops() - replaysBefore, s).toBeGreaterThanOrEqual(reqs.length);
  }, 60_000);

  // A PING whose MAC verifies proves nothing fresh (its pingId is the sender's), so a captured PING
  // replayed from another port of the neighbour's address must not redirect the link: the engine probes
  // the new port and moves only when a PONG to its own fresh pingId comes back from there.
  it("a replayed old PING from another port of the neighbour's address does not redirect the link", async () => {
    const { world } = net;
    const tap = new WireTap(world, (d) => d.bytes[1] === PacketType.Ping, 400);
    await world.runFor(8_000);
    tap.remove();
    // A PING to a peer without NAT (its socket is its public endpoint), on a link that is up.
    let found: { ping: (typeof tap.captured)[number]; link: NeighborLink } | undefined;
    for (const d of tap.captured) {
      const receiver = net.all.find(
        (n) => n.endpoint.address === d.to.address && n.endpoint.port === d.to.port,
      );
      const r = decodeDatagram(d.bytes);
      if (receiver === undefined || !r.ok || r.packet.type !== PacketType.Ping) continue;
      const link = receiver.engine.links.get(r.packet.linkToken);
      if (link?.usable === true && link.remoteEndpoint.port === d.from.port) {
        found = { ping: d, link };
        break;
      }
    }
    const s0 = `captured ${tap.captured.length} PINGs; ${hint}`;
    expect(found, s0).toBeDefined();
    await world.runFor(5_000);
    const { ping, link } = found!;
    const port = link.remoteEndpoint.port;
    world.network.inject({ address: ping.from.address, port: port + 1 }, ping.to, ping.bytes);
    await world.runFor(100);
    expect(
      link.remoteEndpoint.port,
      `link port after an old PING replayed from port ${port + 1}; ${s0}`,
    ).toBe(port);
  });

  describe('timestamps outside ±20 min and bad signatures from a neighbour', () => {
    const offsets = [
      { name: '21 min old', ms: -21 * minuteMs, refused: true },
      { name: '21 min ahead', ms: 21 * minuteMs, refused: true },
      { name: '19 min old', ms: -19 * minuteMs, refused: false },
      { name: '19 min ahead', ms: 19 * minuteMs, refused: false },
    ];
    for (const kind of ['REGISTER', 'INVITE'] as const) {
      for (const off of offsets) {
        it(`${kind} stamped ${off.name} from a genuine neighbour is ${off.refused ? '' : 'not '}refused as badTimestamp`, async () => {
          const { world } = net;
          const f = net.users[2]!;
          const v = net.users.find((u) => u !== f && linkBetween(f, u) !== undefined)!;
          const link = linkBetween(f, v)!;
          const tap = new NpackTap(world, f, link);
          const before = v.engine.drops.badTimestamp;
          const target = net.users[8]!.peer!.regId;
          const ts = world.now() + off.ms;
          const seq = sendOnLink(f, link, (s) =>
            kind === 'REGISTER'
              ? forgeRegisterReq(f, link, s, { timestampMs: ts })
              : forgeInviteReq(f, link, s, target, { timestampMs: ts }),
          );
          await world.runFor(1_000);
          const code = tap.bySeq.get(seq);
          const s = `${f.name}→${v.name} code=${code}; ${hint}`;
          expect(code, s).toBeDefined();
          if (off.refused) {
            expect(code, s).toBe(ResultCode.badTimestamp);
            expect(v.engine.drops.badTimestamp - before, s).toBe(1);
          } else {
            expect(code, s).not.toBe(ResultCode.badTimestamp);
            expect(v.engine.drops.badTimestamp - before, s).toBe(0);
          }
        });
      }
    }

    it('an entry-mode REGISTER stamped 21 min old is refused with NPACK badTimestamp before any PoW check', async () => {
      const { world } = net;
      const ep = net.eps[1]!;
      const forger = { port: 40000 };
      const f = net.users[3]!;
      const e = f.engine;
      const signed = {
        requesterRegId: f.peer!.regId,
        requesterEphemeralKey: e.crypto.x25519PublicKey(e.rng.bytes(32)),
        timestampMs: world.now() - 21 * minuteMs,
        busySectors: 0,
        requesterFlags: 0,
        directionVector: null,
        epEndpoint: endpointToWire(ep.endpoint),
      };
      const { registerReqSignedBytes } = await import('../../src/wire/index.js');
      const req: RegisterReq = {
        type: PacketType.RegisterReq,
        linkToken: null,
        ...signed,
        requesterSignature: e.crypto.ed25519Sign(f.peer!.regKey, registerReqSignedBytes(signed)),
        pow2Nonce: new Uint8Array(16),
        hopsRemaining: 30,
        randomHopsRemaining: 0,
        seq: 77,
        linkMac: null,
      };
      const codes: number[] = [];
      const socket = world.network.bind(world.network.addHost({}), forger.port);
      socket.onDatagram((bytes) => {
        const r = decodeDatagram(bytes);
        if (r.ok && r.packet.type === PacketType.Npack) codes.push(r.packet.code);
      });
      const before = { ts: ep.engine.drops.badTimestamp, pow: ep.engine.drops.badPow };
      socket.send(ep.endpoint, encodeDatagram(req));
      await world.runFor(1_000);
      const s = `codes ${codes}; ${hint}`;
      expect(codes, s).toEqual([ResultCode.badTimestamp]);
      expect(ep.engine.drops.badTimestamp - before.ts, s).toBe(1);
      expect(ep.engine.drops.badPow - before.pow, s).toBe(0);
    });

    for (const kind of ['REGISTER', 'INVITE'] as const) {
      it(`${kind} with a bad signature from a neighbour: NPACK badSignature, a strong pain, the neighbour stays`, async () => {
        const { world } = net;
        const f = net.users[4]!;
        const v = net.users.find((u) => u !== f && linkBetween(f, u) !== undefined)!;
        const link = linkBetween(f, v)!;
        const vLink = linkBetween(v, f)!;
        const tap = new NpackTap(world, f, link);
        const before = { sig: v.engine.drops.badSignature, pains: pains.length, events: net.events.length };
        const target = net.users[9]!.peer!.regId;
        const seqs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const ts = world.now() + i;
          seqs.push(
            sendOnLink(f, link, (s) =>
              kind === 'REGISTER'
                ? forgeRegisterReq(f, link, s, { timestampMs: ts, badSignature: true })
                : forgeInviteReq(f, link, s, target, { timestampMs: ts, badSignature: true }),
            ),
          );
        }
        await world.runFor(15_000);
        const newPains = pains.slice(before.pains).filter((p) => p.peer === v.name);
        const downs = net.events
          .slice(before.events)
          .filter((x) => x.e.type === 'neighborDown' && (x.node === v.name || x.node === f.name));
        const s = `${f.name}→${v.name} codes ${seqs.map((q) => tap.bySeq.get(q))}; pains ${newPains.map((p) => p.message)}; downs ${downs.length}; ${hint}`;
        expect(
          seqs.map((q) => tap.bySeq.get(q)),
          s,
        ).toEqual([ResultCode.badSignature, ResultCode.badSignature, ResultCode.badSignature]);
        expect(v.engine.drops.badSignature - before.sig, s).toBe(3);
        expect(newPains.filter((p) => p.message.includes('badSignature')).length, s).toBe(3);
        expect(
          newPains.every((p) => p.level === AttentionLevel.strongPain),
          s,
        ).toBe(true);
        // Not evicted: the same link object is still up on both sides, nothing went down between them.
        expect(linkBetween(v, f), s).toBe(vLink);
        expect(linkBetween(f, v), s).toBe(link);
        expect(
          downs.filter(
            (x) =>
              x.e.type === 'neighborDown' &&
              (hex(x.e.remoteRegId) === f.peer!.regIdHex || hex(x.e.remoteRegId) === v.peer!.regIdHex),
          ),
          s,
        ).toEqual([]);
      }, 30_000);
    }
  });
});
