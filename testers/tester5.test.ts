import { describe, expect, it } from 'vitest';
import type { HostEvent } from '../src/dmp/host.js';
import type { EngineEvent } from '../src/drp/types.js';
import { entryPeerConfig } from './tester2.js';
import {
  makeTester5World,
  makeUserKeys,
  runTester5,
  type TesterUserKeys,
  tester5Defaults,
} from './tester5.js';
import type { SimWorld, TesterNode } from './world.js';

/** A small simulated network: entry peers and `users` bystanders, ready for messenger users to join. */
async function smallNetwork(seed: string, users = 16) {
  const world = makeTester5World('sim', seed, 30) as SimWorld;
  const eps: TesterNode[] = [];
  for (let i = 0; i < 4; i++) {
    eps.push(
      await world.addNode({
        name: `EP${i}`,
        port: 12000 + i,
        entryPeers: eps.map((e) => e.endpoint),
        register: i > 0,
        config: entryPeerConfig,
      }),
    );
    await world.runFor(200);
  }
  await world.runFor(3_000);
  for (let i = 0; i < users; i++) {
    await world.addNode({
      name: `U${i}`,
      nat: 'portRestricted',
      entryPeers: eps.map((e) => e.endpoint),
      register: true,
    });
    await world.runFor(200);
  }
  const hostEvents: { node: string; e: HostEvent; at: number }[] = [];
  const engineEvents: { node: string; e: EngineEvent }[] = [];
  world.onHostEvent((node, e, at) => hostEvents.push({ node: node.name, e, at }));
  world.onEvent((node, e) => engineEvents.push({ node: node.name, e }));
  const join = async (name: string, keys: TesterUserKeys): Promise<TesterNode> => {
    const n = await world.addNode({
      name,
      nat: 'restricted',
      entryPeers: eps.map((e) => e.endpoint),
      register: true,
      regKeySeed: keys.regKeySeed,
      messenger: keys.spec,
    });
    await world.runUntil(() => (n.peer?.usableLinks().length ?? 0) >= 6, 60_000, 500);
    return n;
  };
  const keyRng = world.kernel.rng.fork('test/keys');
  const newKeys = (): TesterUserKeys => makeUserKeys(world.crypto, keyRng, world.now());
  return { world, hostEvents, engineEvents, join, newKeys };
}

const utf8 = new TextDecoder();

describe('DRP Tester 5: sender ↔ echo over the direct channel', () => {
  it('sim, 200 peers, 20 pairs, no faults: 100% echoed, no duplicates, round-trip p50 ≤ 3× the route latency', async () => {
    const r = await runTester5({ transport: 'sim', seed: 't5-ci', ...tester5Defaults.sim });
    const why = `replay: ${r.replay}\n${r.failures.join('\n')}`;
    expect(r.peers, why).toBe(208);
    expect(r.pairs, why).toBe(20);
    expect(r.messagesSent, why).toBe(1000);
    expect(r.echoedRatio, why).toBe(1);
    expect(r.duplicates, why).toBe(0);
    expect(r.relayedRatio, why).toBe(0);
    // One-way latency 30 ms each way: bound 3 × 60 ms; a direct channel's round trip is 2 × 30 ms.
    expect(r.roundTripBoundMs, why).toBe(180);
    expect(r.roundTripMsP50, why).toBeLessThanOrEqual(180);
    expect(r.roundTripMsP50, why).toBeGreaterThanOrEqual(60);
    expect(r.receipts, why).toBe(1000);
    expect(r.failures, why).toEqual([]);
  }, 120_000);

  it('sim with 40% of users behind symmetric NATs: the pairs that cannot punch relay, 100% echoed', async () => {
    const r = await runTester5({
      transport: 'sim',
      seed: 't5-symmetric',
      ...tester5Defaults.sim,
      users: 60,
      pairs: 10,
      messages: 400,
      symmetricShare: 0.4,
    });
    const why = `replay: ${r.replay}\n${r.failures.join('\n')}`;
    expect(r.echoedRatio, why).toBe(1);
    expect(r.duplicates, why).toBe(0);
    expect(r.relayedRatio, why).toBeGreaterThan(0);
    expect(r.relayedRatio, why).toBeLessThan(1);
    expect(r.failures, why).toEqual([]);
  }, 120_000);

  it('udp loopback: 1,000 messages, 100% echoed, no duplicates', async () => {
    const r = await runTester5({ transport: 'udp', seed: 't5-udp', ...tester5Defaults.udp, messages: 1000 });
    const why = r.failures.join('\n');
    expect(r.messagesSent, why).toBe(1000);
    expect(r.echoedRatio, why).toBe(1);
    expect(r.duplicates, why).toBe(0);
  }, 120_000);

  it('sim: an INVITE from an unknown key without a valid invitation token gets no answer', async () => {
    const { world, hostEvents, engineEvents, join, newKeys } = await smallNetwork('t5-unknown');
    const bKeys = newKeys();
    const cKeys = newKeys();
    const b = await join('B', bKeys);
    const c = await join('C', cKeys);
    // C has B's identity; B never met C. C even offers a token B never issued.
    c.messenger!.host.addContact(bKeys.spec.identity, bKeys.regId, new Uint8Array(16).fill(9));
    c.messenger!.act((h, now) => h.send(now, bKeys.regId, 'let me in', 30_000));
    // An INVITE tries up to 5 first hops, waiting 15 s for each ACK1.
    await world.runFor(90_000);
    const atB = hostEvents.filter((x) => x.node === 'B');
    expect(atB.some((x) => x.e.type === 'inviteIgnored' && x.e.reason === 'unknownInvitation')).toBe(true);
    expect(atB.some((x) => x.e.type === 'message')).toBe(false);
    expect(b.messenger!.host.stats.invitesAnswered).toBe(0);
    // No ACK1 ever came back: C's INVITEs time out, and its message fails at the TTL.
    expect(engineEvents.some((x) => x.node === 'B' && x.e.type === 'inviteReceived')).toBe(false);
    const cFailures = engineEvents.filter((x) => x.node === 'C' && x.e.type === 'inviteFailed');
    expect(cFailures.length).toBeGreaterThan(0);
    expect(cFailures.every((x) => x.e.type === 'inviteFailed' && x.e.reason === 'ack1Timeout')).toBe(true);
    expect(hostEvents.some((x) => x.node === 'C' && x.e.type === 'failed' && x.e.reason === 'ttl')).toBe(
      true,
    );
    expect(c.messenger!.host.outboxSize).toBe(0);

    // With a token B issued (handed over in person), a stranger's first INVITE is answered.
    const dKeys = newKeys();
    const d = await join('D', dKeys);
    const token = b.messenger!.act((h, now) => h.issueInvitation(now, 600_000));
    d.messenger!.host.addContact(bKeys.spec.identity, bKeys.regId, token);
    d.messenger!.act((h, now) => h.send(now, bKeys.regId, 'invited'));
    await world.runFor(10_000);
    const got = hostEvents.filter((x) => x.node === 'B' && x.e.type === 'message');
    expect(got.map((x) => utf8.decode((x.e as { bytes: Uint8Array }).bytes))).toEqual(['invited']);
    expect(hostEvents.some((x) => x.node === 'D' && x.e.type === 'delivered')).toBe(true);
  }, 60_000);

  it('sim: messages to a peer whose app is stopped wait in the outbox and are delivered once it returns', async () => {
    const { world, hostEvents, join, newKeys } = await smallNetwork('t5-offline');
    const sKeys = newKeys();
    const eKeys = newKeys();
    const s = await join('S', sKeys);
    let e = await join('E', eKeys);
    s.messenger!.host.addContact(eKeys.spec.identity, eKeys.regId);
    e.messenger!.host.addContact(sKeys.spec.identity, sKeys.regId);
    const echoNames = new Set(['E', 'E2']);
    world.onHostEvent((node, ev, now) => {
      if (ev.type === 'message' && echoNames.has(node.name))
        node.messenger!.host.send(now, ev.contact, ev.bytes);
    });
    const echoed = (): string[] =>
      hostEvents
        .filter((x) => x.node === 'S' && x.e.type === 'message')
        .map((x) => utf8.decode((x.e as { bytes: Uint8Array }).bytes));
    s.messenger!.act((h, now) => h.send(now, eKeys.regId, 'before'));
    expect(await world.runUntil(() => echoed().length === 1, 20_000)).toBe(true);

    // The echo's app stops: its node leaves the network.
    await e.stop();
    await world.runFor(1_000);
    for (const m of ['while away 1', 'while away 2', 'while away 3']) {
      s.messenger!.act((h, now) => h.send(now, eKeys.regId, m));
    }
    await world.runFor(90_000);
    expect(echoed()).toEqual(['before']);
    expect(s.messenger!.host.outboxSize).toBe(3);
    expect(hostEvents.some((x) => x.node === 'S' && x.e.type === 'failed')).toBe(false);

    // It starts again with the same keys (same regID, same device): a new host, a new address.
    e = await join('E2', eKeys);
    e.messenger!.host.addContact(sKeys.spec.identity, sKeys.regId);
    expect(await world.runUntil(() => echoed().length === 4, 120_000, 500)).toBe(true);
    await world.runFor(10_000);
    expect(echoed()).toEqual(['before', 'while away 1', 'while away 2', 'while away 3']);
    expect(s.messenger!.host.outboxSize).toBe(0);
    const atE2 = hostEvents.filter((x) => x.node === 'E2' && x.e.type === 'message');
    expect(atE2).toHaveLength(3);
  }, 60_000);
});
