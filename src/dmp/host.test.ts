/**
 * The messenger host without DRP: a few hosts, an in-memory network in virtual milliseconds, and a
 * stand-in for the INVITE (the host's `invite` command is answered by the callee host's `onInvite`, then
 * both sides get the same INVITE secret and transcript, or the caller gets `inviteFailed`). Every random
 * choice comes from a `SeededRng`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { defaultCrypto as crypto } from '../crypto/index.js';
import {
  createUserIdentity,
  encodeDeviceCertificate,
  generateDeviceKeyPair,
  generateRootKeys,
  issueDeviceCertificate,
  type UserIdentity,
} from '../id/identity.js';
import type { Endpoint } from '../seams/transport.js';
import { decodeDatagram, encodeDatagram, macPlaceholder, PacketType } from '../wire/index.js';
import {
  decodeHostPayload,
  encodeHostPayload,
  type HostEvent,
  HostSendError,
  hostMessageSizeMaxBytes,
  isDmpDatagram,
  MessengerHost,
  type MessengerHostConfig,
  peekChannelToken,
} from './host.js';

const t0 = 1_577_836_800_000;
const dayMs = 24 * 60 * 60 * 1000;

interface User {
  readonly name: string;
  readonly identity: UserIdentity;
  readonly regId: Uint8Array;
  readonly endpoint: Endpoint;
  host: MessengerHost;
  readonly events: HostEvent[];
  readonly make: () => MessengerHost;
}

interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Hosts, a network with a fixed one-way latency, and INVITEs that take `inviteMs`. */
class Net {
  now = t0;
  readonly users: User[] = [];
  readonly offline = new Set<string>();
  /** Return true to lose a datagram. */
  drop: (from: User, to: User, bytes: Uint8Array) => boolean = () => false;
  invitesSeen = 0;
  private queue: Scheduled[] = [];
  private seq = 0;
  private inviteSeq = 1;
  private readonly rng: SeededRng;

  constructor(
    seed: string,
    private readonly latencyMs = 10,
    private readonly inviteMs = 200,
  ) {
    this.rng = new SeededRng(seed);
  }

  addUser(name: string, config: Partial<MessengerHostConfig> = {}): User {
    const rng = this.rng.fork(`user/${name}`);
    const [root] = generateRootKeys(crypto, rng, 1);
    const identity = createUserIdentity([root!.publicKey], 1);
    const deviceKey = generateDeviceKeyPair(crypto, rng);
    const cert = issueDeviceCertificate(crypto, {
      identity,
      devicePublicKey: deviceKey.publicKey,
      validFromMs: t0 - dayMs,
      validToMs: t0 + 30 * dayMs,
      signers: [{ rootIndex: 0, key: root! }],
    });
    const regId = crypto.ed25519FromSeed(rng.bytes(32)).publicKey;
    const endpoint = { address: `198.51.100.${this.users.length + 1}`, port: 40_000 + this.users.length };
    let incarnation = 0;
    const make = (): MessengerHost => {
      const host = new MessengerHost({
        crypto,
        rng: rng.fork(`host/${incarnation++}`),
        now: this.now,
        regId,
        identity,
        deviceKey,
        deviceCertificate: encodeDeviceCertificate(cert),
        config,
      });
      host.publicEndpoint = endpoint;
      return host;
    };
    const u: User = { name, identity, regId, endpoint, host: make(), events: [], make };
    this.users.push(u);
    return u;
  }

  /** `a` and `b` met in person. */
  meet(a: User, b: User): void {
    a.host.addContact(b.identity, b.regId);
    b.host.addContact(a.identity, a.regId);
  }

  at(at: number, fn: () => void): void {
    this.queue.push({ at, seq: this.seq++, fn });
  }

  run(forMs: number): void {
    const end = this.now + forMs;
    for (;;) {
      this.pump();
      let next = end + 1;
      for (const s of this.queue) if (s.at < next) next = s.at;
      for (const u of this.users) if (!this.offline.has(u.name)) next = Math.min(next, u.host.nextDeadline());
      if (next > end) {
        this.now = end;
        return;
      }
      this.now = Math.max(this.now, next);
      const due = this.queue.filter((s) => s.at <= this.now).sort((x, y) => x.at - y.at || x.seq - y.seq);
      this.queue = this.queue.filter((s) => s.at > this.now);
      for (const s of due) s.fn();
      for (const u of this.users) {
        if (!this.offline.has(u.name) && u.host.nextDeadline() <= this.now) u.host.tick(this.now);
      }
    }
  }

  private pump(): void {
    for (const u of this.users) {
      if (this.offline.has(u.name)) {
        u.host.drainOutgoing();
        u.host.drainCommands();
        u.host.drainEvents();
        continue;
      }
      for (const c of u.host.drainCommands()) this.invite(u, c);
      for (const e of u.host.drainEvents()) u.events.push(e);
      for (const o of u.host.drainOutgoing()) {
        if (o.to === 'relay') continue;
        const to = o.to;
        const dst = this.users.find((x) => x.endpoint.address === to.address && x.endpoint.port === to.port);
        if (dst === undefined || this.offline.has(dst.name) || this.drop(u, dst, o.bytes)) continue;
        const host = dst.host;
        this.at(this.now + this.latencyMs, () => {
          if (!this.offline.has(dst.name) && dst.host === host) host.receive(this.now, u.endpoint, o.bytes);
        });
      }
    }
  }

  private invite(
    from: User,
    c: {
      responderRegId: Uint8Array;
      sessionDescription: Uint8Array;
      contactInvitationToken: Uint8Array | null;
    },
  ): void {
    this.invitesSeen++;
    const inviteId = this.inviteSeq++;
    from.host.inviteStarted(c.responderRegId, inviteId);
    const to = this.users.find((u) => crypto.constantTimeEqual(u.regId, c.responderRegId));
    const timestampMs = this.now;
    const fail = (): void => {
      const h = from.host;
      this.at(this.now + 5_000, () =>
        h.onInviteFailed(this.now, { inviteId, responderRegId: c.responderRegId, reason: 'ack1Timeout' }),
      );
    };
    if (to === undefined || this.offline.has(to.name)) {
      fail();
      return;
    }
    const sd = to.host.onInvite(this.now, {
      localRegId: to.regId,
      requesterRegId: from.regId,
      contactInvitationToken: c.contactInvitationToken,
      timestampMs,
    });
    if (sd === null) {
      fail();
      return;
    }
    const secret = this.rng.bytes(32);
    const transcript = this.rng.bytes(120);
    const callee = to.host;
    const caller = from.host;
    this.at(this.now + this.inviteMs / 2, () =>
      callee.onInviteReceived(this.now, {
        requesterRegId: from.regId,
        timestampMs,
        sessionDescription: c.sessionDescription,
        keys: { inviteSecret: secret.slice(), transcript },
      }),
    );
    this.at(this.now + this.inviteMs, () =>
      caller.onInviteCompleted(this.now, {
        inviteId,
        responderRegId: to.regId,
        sessionDescription: sd,
        keys: { inviteSecret: secret.slice(), transcript },
      }),
    );
  }
}

const text = (e: HostEvent): string => (e.type === 'message' ? new TextDecoder().decode(e.bytes) : '');
const of = <T extends HostEvent['type']>(u: User, type: T): Extract<HostEvent, { type: T }>[] =>
  u.events.filter((e): e is Extract<HostEvent, { type: T }> => e.type === type);

describe('datagram demultiplexing and the payload', () => {
  it('peekChannelToken reads the token of every DMP packet type and nothing else', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.constantFrom(50, 51, 52, 53, 54),
        (token, type) => {
          const bytes =
            type === PacketType.DmpPing || type === PacketType.DmpPong
              ? encodeDatagram({
                  type,
                  channelToken: token,
                  pingId: 7,
                  channelKey: null,
                  mac: macPlaceholder,
                })
              : type === PacketType.MessageAck
                ? encodeDatagram({
                    type,
                    channelToken: token,
                    packetCounter: 3,
                    cumulativeAck: null,
                    selectiveAck: new Uint8Array(0),
                    tag: new Uint8Array(16),
                  })
                : encodeDatagram({
                    type,
                    channelToken: token,
                    packetCounter: 9,
                    ciphertext: new Uint8Array(40),
                  });
          const d = decodeDatagram(bytes);
          expect(d.ok).toBe(true);
          expect(isDmpDatagram(bytes)).toBe(true);
          expect(peekChannelToken(bytes)).toBe(token);
        },
      ),
    );
    const npack = encodeDatagram({ type: PacketType.Npack, linkToken: null, seq: 1, code: 0, linkMac: null });
    expect(isDmpDatagram(npack)).toBe(false);
    expect(peekChannelToken(npack)).toBeNull();
    expect(peekChannelToken(new Uint8Array([1, 50, 0x91]))).toBeNull();
    expect(peekChannelToken(new Uint8Array([1, 52, 0x93, 0xce, 1]))).toBeNull();
  });

  it('payloads round-trip; anything else is refused without throwing', () => {
    const id = new Uint8Array(16).fill(3);
    const p = decodeHostPayload(encodeHostPayload(id, new TextEncoder().encode('hi')));
    expect(p?.messageId).toEqual(id);
    expect(new TextDecoder().decode(p!.body)).toBe('hi');
    const big = encodeHostPayload(id, new Uint8Array(hostMessageSizeMaxBytes));
    expect(big.length).toBeLessThanOrEqual(64 * 1024);
    expect(() => encodeHostPayload(id, new Uint8Array(hostMessageSizeMaxBytes + 1))).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        const r = decodeHostPayload(junk);
        if (r !== null) expect(r.messageId.length).toBe(16);
      }),
    );
    expect(decodeHostPayload(new Uint8Array([0x93, 2, 0xc4, 0]))).toBeNull();
  });
});

describe('MessengerHost', () => {
  it('one INVITE opens a channel both ways: messages in order, receipts, replies without a second INVITE', () => {
    const net = new Net('host/basic');
    const a = net.addUser('A');
    const b = net.addUser('B');
    net.meet(a, b);
    for (let i = 0; i < 5; i++) a.host.send(net.now, b.regId, `m${i}`);
    expect(a.host.outboxSize).toBe(5);
    net.run(2_000);
    expect(of(b, 'message').map(text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(of(b, 'message').every((e) => e.path === 'direct')).toBe(true);
    expect(of(a, 'delivered')).toHaveLength(5);
    expect(a.host.outboxSize).toBe(0);
    expect(of(a, 'path')[0]?.path).toBe('direct');
    b.host.send(net.now, a.regId, 'reply');
    net.run(500);
    expect(of(a, 'message').map(text)).toEqual(['reply']);
    expect(a.host.stats.invitesStarted).toBe(1);
    expect(b.host.stats.invitesStarted).toBe(0);
    expect(net.invitesSeen).toBe(1);
  });

  it('send refuses unknown contacts, oversized messages and a full outbox', () => {
    const net = new Net('host/bounds');
    const a = net.addUser('A', { outboxMessagesMax: 3 });
    const b = net.addUser('B');
    const stranger = net.addUser('C');
    net.meet(a, b);
    const code = (f: () => unknown): string => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return e instanceof HostSendError ? e.code : String(e);
      }
    };
    expect(code(() => a.host.send(net.now, stranger.regId, 'x'))).toBe('unknownContact');
    expect(code(() => a.host.send(net.now, b.regId, new Uint8Array(hostMessageSizeMaxBytes + 1)))).toBe(
      'messageTooLarge',
    );
    for (let i = 0; i < 3; i++) a.host.send(net.now, b.regId, 'x');
    expect(code(() => a.host.send(net.now, b.regId, 'x'))).toBe('outboxFull');
  });

  it('an INVITE from an unknown key without a token gets no answer; the message fails at its TTL', () => {
    const net = new Net('host/unknown');
    const b = net.addUser('B');
    const c = net.addUser('C');
    c.host.addContact(b.identity, b.regId); // C knows B; B never met C
    c.host.send(net.now, b.regId, 'hello?', 40_000);
    net.run(60_000);
    expect(of(b, 'inviteIgnored').map((e) => e.reason)).toContain('unknownRequester');
    expect(of(b, 'message')).toHaveLength(0);
    expect(b.host.channelCount).toBe(0);
    // Retried with backoff (1 s, 2 s, 4 s, … after each 5 s failure), then failed at the TTL.
    const retries = of(c, 'inviteFailed').map((e) => e.retryInMs);
    expect(retries.slice(0, 3)).toEqual([1_000, 2_000, 4_000]);
    expect(of(c, 'failed').map((e) => e.reason)).toEqual(['ttl']);
    expect(c.host.outboxSize).toBe(0);
  });

  it('a message waits in the outbox while its channel punches: it fails at its TTL, with the history', () => {
    const net = new Net('host/ttl-punching');
    const a = net.addUser('A');
    const b = net.addUser('B');
    net.meet(a, b);
    // The INVITE goes through, but no datagram between the two endpoints does: the channel keeps punching.
    net.drop = () => true;
    a.host.send(net.now, b.regId, 'lost in the NAT', 8_000);
    net.run(7_000);
    expect(a.host.channelCount).toBe(1);
    expect(of(a, 'failed')).toHaveLength(0);
    net.run(2_000);
    // At the TTL (not at the channel's 15 s punch timeout): the message was never inside the channel.
    expect(of(a, 'failed').map((e) => e.reason)).toEqual(['ttl']);
    expect(a.host.outboxSize).toBe(0);
    const history = a.host.historyOf(b.regId).join('\n');
    expect(history).toContain('INVITE sent');
    expect(history).toContain('opened as requester');
    expect(history).toContain('failed: TTL');
  });

  it('a suspended app keeps its outbox and delivered ids: nothing is lost or delivered twice', () => {
    const net = new Net('host/suspend');
    const a = net.addUser('A');
    const b = net.addUser('B');
    net.meet(a, b);
    a.host.send(net.now, b.regId, 'one');
    net.run(2_000);
    expect(of(b, 'message').map(text)).toEqual(['one']);
    // B's receipt for "two" is lost, then A's app is stopped with "two" unacknowledged and "three" queued.
    net.drop = (from) => from === b;
    a.host.send(net.now, b.regId, 'two');
    net.run(500);
    expect(of(b, 'message').map(text)).toEqual(['one', 'two']);
    a.host.send(net.now, b.regId, 'three');
    a.host.suspend(net.now);
    net.offline.add('A');
    expect(a.host.channelCount).toBe(0);
    expect(a.host.outboxSize).toBe(2);
    net.run(30_000);
    net.drop = () => false;
    net.offline.delete('A');
    a.host.publicEndpoint = a.endpoint;
    net.run(60_000);
    // "two" went again over a new channel; B's app saw it once.
    expect(of(b, 'message').map(text)).toEqual(['one', 'two', 'three']);
    expect(a.host.outboxSize).toBe(0);
    expect(b.host.stats.duplicatesDropped).toBe(1);
    expect(of(a, 'failed')).toHaveLength(0);
  });

  it('a first contact with an invitation token is answered once; later INVITEs between them need no token', () => {
    const net = new Net('host/invitation');
    const b = net.addUser('B', { channel: { idleTimeoutMs: 5_000 } });
    const c = net.addUser('C', { channel: { idleTimeoutMs: 5_000 } });
    const d = net.addUser('D');
    const token = b.host.issueInvitation(net.now, 60_000);
    c.host.addContact(b.identity, b.regId, token);
    d.host.addContact(b.identity, b.regId, token);
    c.host.send(net.now, b.regId, 'hi, C here');
    net.run(2_000);
    expect(of(b, 'message').map(text)).toEqual(['hi, C here']);
    // B answers the stranger over the channel C opened …
    b.host.send(net.now, c.regId, 'welcome');
    net.run(1_000);
    expect(of(c, 'message').map(text)).toEqual(['welcome']);
    // … and the token is used up: D, holding the same token, is ignored.
    d.host.send(net.now, b.regId, 'me too', 20_000);
    net.run(30_000);
    expect(of(b, 'inviteIgnored').map((e) => e.reason)).toContain('unknownInvitation');
    expect(of(d, 'failed')).toHaveLength(1);
    // After the channels idled out, C's next INVITE (no token now) is accepted by B's pinned first contact,
    // and B can INVITE C too.
    expect(b.host.channelCount).toBe(0);
    c.host.send(net.now, b.regId, 'again');
    net.run(2_000);
    expect(of(b, 'message').map(text)).toEqual(['hi, C here', 'again']);
    net.run(10_000);
    expect(b.host.channelCount).toBe(0);
    b.host.send(net.now, c.regId, 'from B');
    net.run(2_000);
    expect(of(c, 'message').map(text)).toEqual(['welcome', 'from B']);
    expect(of(b, 'sessionRefused')).toHaveLength(0);
  });

  it('a refused session description opens no channel and says why', () => {
    const net = new Net('host/refused');
    const a = net.addUser('A');
    const b = net.addUser('B');
    const m = net.addUser('M');
    a.host.addContact(b.identity, b.regId);
    // B's entry for A's regID carries someone else's identity: A's certificate does not chain to it.
    b.host.addContact(m.identity, a.regId);
    a.host.send(net.now, b.regId, 'x', 10_000);
    net.run(3_000);
    expect(of(b, 'sessionRefused').map((e) => [e.side, e.reason])).toContainEqual([
      'callee',
      'unknownContact',
    ]);
    expect(b.host.channelCount).toBe(0);
    expect(of(b, 'message')).toHaveLength(0);
  });

  it('nothing is delivered twice: a message resent over a new channel after lost receipts reaches the app once', () => {
    const net = new Net('host/dedupe');
    const a = net.addUser('A');
    const b = net.addUser('B');
    net.meet(a, b);
    a.host.send(net.now, b.regId, 'first');
    net.run(2_000);
    expect(of(a, 'delivered')).toHaveLength(1);
    // Everything from B to A is lost for a while: B receives, A hears no acks.
    let cut = true;
    net.drop = (from) => cut && from === b;
    a.host.send(net.now, b.regId, 'second');
    net.run(20_000);
    expect(of(b, 'message').map(text)).toEqual(['first', 'second']);
    expect(of(a, 'channelClosed').map((e) => e.reason)).toContain('peerSilent');
    cut = false;
    net.run(20_000);
    expect(of(a, 'delivered')).toHaveLength(2);
    expect(a.host.outboxSize).toBe(0);
    expect(of(b, 'message').map(text)).toEqual(['first', 'second']);
    expect(b.host.stats.duplicatesDropped).toBeGreaterThanOrEqual(1);
    expect(a.host.stats.invitesStarted).toBe(2);
  });

  it('a message to a contact whose app is stopped waits in the outbox and is delivered once it returns', () => {
    const net = new Net('host/offline');
    const a = net.addUser('A');
    const b = net.addUser('B');
    net.meet(a, b);
    net.offline.add('B');
    const id = a.host.send(net.now, b.regId, 'are you there?');
    net.run(60_000);
    expect(a.host.outboxSize).toBe(1);
    expect(of(a, 'inviteFailed').length).toBeGreaterThan(3);
    // B's app starts again: a new host with the same keys (and contacts).
    b.host = b.make();
    b.host.addContact(a.identity, a.regId);
    net.offline.delete('B');
    net.run(40_000);
    expect(of(b, 'message').map(text)).toEqual(['are you there?']);
    expect(of(a, 'delivered').map((e) => e.messageId)).toEqual([id]);
    expect(a.host.outboxSize).toBe(0);
  });

  it('is deterministic: the same seed gives the same events', () => {
    const runOnce = (): string => {
      const net = new Net('host/det');
      const a = net.addUser('A');
      const b = net.addUser('B');
      net.meet(a, b);
      for (let i = 0; i < 20; i++) a.host.send(net.now, b.regId, `m${i}`);
      net.run(5_000);
      return JSON.stringify([a.events, b.events], (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
    };
    expect(runOnce()).toBe(runOnce());
  });
});
