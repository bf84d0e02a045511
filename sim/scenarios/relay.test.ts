/**
 * The relay on the simulator: two users behind symmetric NATs (no hole punching possible) talk through
 * DRP neighbours. Besides delivery, what a relay — or anyone on the path — can and cannot do:
 * - read: nothing (the payload is the channel's AEAD ciphertext; the text never appears on the wire);
 * - alter the payload under a valid hop MAC: refused by the channel (`badTag`), nothing delivered;
 * - replay a relayed datagram: refused by the channel (`replay`), nothing delivered twice;
 * - forge or corrupt a Relay packet without the link key: dropped at the next hop (`badMac`);
 * - flood a neighbour: dropped beyond its relay budget (`rateLimited`), copies of one payload dropped as
 *   duplicates;
 * - relay anything but a direct-channel datagram: dropped (`notDmp`).
 */
import { describe, expect, it } from 'vitest';
import type { HostEvent } from '../../src/dmp/host.js';
import type { NeighborLink } from '../../src/drp/neighbor.js';
import {
  decodeDatagram,
  decodeDmpData,
  encodeDatagram,
  encodeDmpData,
  macPlaceholder,
  PacketType,
  type Relay,
  sealDatagram,
} from '../../src/wire/index.js';
import type { SimDrpNode } from '../drp/node.js';
import { MessengerWorld, makeUserKeys, type SimUser } from './messenger-world.js';

function build(seed: string) {
  const world = new MessengerWorld({ seed, latencyMs: 30 });
  for (let i = 0; i < 6; i++) {
    world.addEntryPeer();
    world.runFor(200);
  }
  world.runFor(3_000);
  const nats = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;
  for (let i = 0; i < 20; i++) {
    world.addUser({ name: `U${i}`, nat: nats[i % nats.length]! });
    world.runFor(150);
  }
  const keyRng = world.kernel.rng.fork('test/keys');
  const ka = makeUserKeys(world.crypto, keyRng, world.now());
  const kb = makeUserKeys(world.crypto, keyRng, world.now());
  const a = world.addUser({ name: 'A', nat: 'symmetric', keys: ka });
  const b = world.addUser({ name: 'B', nat: 'symmetric', keys: kb });
  a.host!.addContact(kb.identity, kb.regId);
  b.host!.addContact(ka.identity, ka.regId);
  world.runUntil(() => a.neighbours >= 4 && b.neighbours >= 4, 60_000);
  const got: { user: SimUser; e: Extract<HostEvent, { type: 'message' }> }[] = [];
  world.onHostEvent((user, e) => {
    if (e.type === 'message') got.push({ user, e });
  });
  // Every Relay packet on the wire, as the adversary sees it.
  const relayed: Uint8Array[] = [];
  world.network.addAdversary({
    match: (d) => {
      if (d.bytes[1] === PacketType.Relay && relayed.length < 10_000) relayed.push(d.bytes.slice());
      return false;
    },
    action: 'drop',
  });
  return { world, a, b, got, relayed };
}

/** A neighbour of `user` (its node) and the link each side holds for the other. */
function neighbourOf(
  world: MessengerWorld,
  user: SimUser,
): { n: SimDrpNode; toUser: NeighborLink; fromN: NeighborLink } {
  const nodes = [...world.entryPeers, ...world.users.filter((u) => u !== user).map((u) => u.node)];
  for (const fromN of user.peer.neighbors.values()) {
    if (!fromN.usable) continue;
    for (const n of nodes) {
      for (const toUser of n.engine.links.values()) {
        if (
          toUser.usable &&
          toUser.remoteRegIdHex === user.peer.regIdHex &&
          n.engine.localPeers[toUser.localPeerIndex]!.regIdHex === fromN.remoteRegIdHex
        ) {
          return { n, toUser, fromN };
        }
      }
    }
  }
  throw new Error(`no neighbour of ${user.name} found`);
}

const utf8 = new TextEncoder();

describe('relay (sim): symmetric ↔ symmetric', () => {
  it('carries the conversation through DRP neighbours, end-to-end encrypted', () => {
    const { world, a, b, got, relayed } = build('relay-basic');
    for (let i = 0; i < 20; i++) {
      a.act((h, now) => h.send(now, b.keys!.regId, `secret from A #${i}`));
      b.act((h, now) => h.send(now, a.keys!.regId, `secret from B #${i}`));
      world.runFor(500);
    }
    world.runFor(20_000);
    const atB = got.filter((x) => x.user === b).map((x) => new TextDecoder().decode(x.e.bytes));
    const atA = got.filter((x) => x.user === a).map((x) => new TextDecoder().decode(x.e.bytes));
    expect(atB).toEqual(Array.from({ length: 20 }, (_, i) => `secret from A #${i}`));
    expect(atA).toEqual(Array.from({ length: 20 }, (_, i) => `secret from B #${i}`));
    expect(got.every((x) => x.e.path === 'relayed')).toBe(true);
    expect(a.host!.pathTo(b.keys!.regId)).toBe('relayed');
    // Through relays: packets were forwarded by peers that are neither A nor B.
    let forwarded = 0;
    for (const n of [...world.entryPeers, ...world.users.map((u) => u.node)])
      forwarded += n.engine.relay.stats.forwarded;
    expect(forwarded).toBeGreaterThan(0);
    // Nothing a relay sees contains the text.
    expect(relayed.length).toBeGreaterThan(40);
    const needle = Buffer.from(utf8.encode('secret from'));
    expect(relayed.some((bytes) => Buffer.from(bytes).includes(needle))).toBe(false);
  }, 60_000);

  it('a relay that alters or replays a payload under a valid hop MAC gets nothing past the channel', () => {
    const { world, a, b, got, relayed } = build('relay-tamper');
    a.act((h, now) => h.send(now, b.keys!.regId, 'genuine'));
    world.runFor(10_000);
    expect(got.filter((x) => x.user === b)).toHaveLength(1);
    // A data datagram A sent to B through the relay, as a relay saw it.
    let captured: Uint8Array | undefined;
    for (const bytes of relayed) {
      const r = decodeDatagram(bytes);
      if (r.ok && r.packet.type === PacketType.Relay && r.packet.payload[1] === PacketType.MessageStart) {
        if (Buffer.from(r.packet.targetRegId).equals(Buffer.from(b.keys!.regId))) captured = r.packet.payload;
      }
    }
    expect(captured).toBeDefined();
    const { toUser, fromN } = neighbourOf(world, b);
    // N relays to B: anything N sends carries a MAC B verifies. N is malicious here.
    const relayFromN = (payload: Uint8Array): void => {
      const packet: Relay = {
        type: PacketType.Relay,
        linkToken: toUser.remoteToken,
        targetRegId: b.keys!.regId,
        hopsRemaining: 10,
        payload,
        linkMac: macPlaceholder,
      };
      const bytes = sealDatagram(packet, (covered) => world.crypto.hmacSha256(toUser.txKey, covered));
      world.network.inject(fromN.remoteEndpoint, toUser.remoteEndpoint, bytes);
    };
    const host = b.host!;
    const before = {
      badTag: host.rejects.badTag,
      replay: host.rejects.replay,
      badMac: b.node.engine.drops.badMac,
    };
    // Altered: a counter B has not seen yet (else the replay window refuses it before the AEAD), one bit of
    // the ciphertext flipped.
    const original = decodeDmpData(captured!)!;
    const ciphertext = original.ciphertext.slice();
    ciphertext[ciphertext.length - 20]! ^= 0x01;
    relayFromN(
      encodeDmpData(original.type, original.channelToken, original.packetCounter + 1_000, ciphertext),
    );
    relayFromN(captured!);
    world.runFor(2_000);
    expect(host.rejects.badTag).toBe(before.badTag + 1);
    expect(host.rejects.replay).toBe(before.replay + 1);
    expect(b.node.engine.drops.badMac).toBe(before.badMac);
    expect(got.filter((x) => x.user === b)).toHaveLength(1);

    // Without the link key a forged or corrupted Relay packet dies at the hop.
    const forged = sealDatagram(
      {
        type: PacketType.Relay,
        linkToken: toUser.remoteToken,
        targetRegId: b.keys!.regId,
        hopsRemaining: 10,
        payload: captured!,
        linkMac: macPlaceholder,
      },
      () => new Uint8Array(32).fill(7),
    );
    world.network.inject(fromN.remoteEndpoint, toUser.remoteEndpoint, forged);
    world.runFor(500);
    expect(b.node.engine.drops.badMac).toBe(before.badMac + 1);

    // Only direct-channel datagrams travel: a DRP packet as payload is dropped.
    const notDmp = b.node.engine.relay.stats.notDmp;
    relayFromN(
      encodeDatagram({
        type: PacketType.NatTestResp,
        requestId: 1,
        requesterEndpoint: { ipv4: new Uint8Array(4), port: 1 },
      }),
    );
    world.runFor(500);
    expect(b.node.engine.relay.stats.notDmp).toBe(notDmp + 1);

    // A flood from one neighbour is cut at its relay budget; what passes the budget is a copy of a payload
    // handled moments ago, dropped as such before it costs the channel anything.
    const limited = b.node.engine.relay.stats.rateLimited;
    const copies = b.node.engine.relay.stats.duplicates;
    for (let i = 0; i < 1_000; i++) relayFromN(captured!);
    world.runFor(1_000);
    const cut = b.node.engine.relay.stats.rateLimited - limited;
    expect(cut).toBeGreaterThan(500);
    expect(b.node.engine.relay.stats.duplicates - copies).toBeGreaterThan(300);
    expect(got.filter((x) => x.user === b)).toHaveLength(1);
    // The conversation goes on.
    a.act((h, now) => h.send(now, b.keys!.regId, 'after the attack'));
    world.runFor(10_000);
    expect(got.filter((x) => x.user === b).map((x) => new TextDecoder().decode(x.e.bytes))).toEqual([
      'genuine',
      'after the attack',
    ]);
  }, 60_000);
});
