/**
 * The direct channel end to end: two `DmpChannel`s joined by an in-memory network with loss, duplication
 * and reordering, driven by a tiny deterministic event loop in virtual milliseconds. Every random choice
 * (keys, ping ids, the network's fate for each datagram) comes from a `SeededRng`; a failing case prints
 * its seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { defaultCrypto as crypto } from '../crypto/index.js';
import type { Rng } from '../seams/rng.js';
import type { Endpoint } from '../seams/transport.js';
import {
  type DmpPing,
  decodeDatagram,
  dmpAad,
  dmpNonce,
  dmpPingKdfTranscript,
  encodeDatagram,
  macPlaceholder,
  PacketType,
  sealDatagram,
} from '../wire/index.js';
import {
  DmpChannel,
  type DmpDestination,
  type DmpEvent,
  type DmpOutgoing,
  DmpSendError,
  deriveDmpChannelKeys,
  deriveDmpPingKey,
} from './channel.js';
import { type DmpConfig, messageChunkMaxBytes, messageSizeMaxBytes } from './config.js';
import type { SessionDescription, SessionType } from './session.js';

const t0 = 1_577_836_800_000; // the simulator's epoch, 2020-01-01
const endpointA: Endpoint = { address: '198.51.100.1', port: 5001 };
const endpointB: Endpoint = { address: '198.51.100.2', port: 6002 };

/** An Rng that remembers every array it handed out (and a copy of it), to check what was erased. */
class RecordingRng implements Rng {
  readonly handedOut: { readonly array: Uint8Array; readonly copy: Uint8Array }[] = [];
  constructor(private readonly inner: Rng) {}
  bytes(n: number): Uint8Array {
    const array = this.inner.bytes(n);
    this.handedOut.push({ array, copy: array.slice() });
    return array;
  }
  uint32(): number {
    return this.inner.uint32();
  }
  float(): number {
    return this.inner.float();
  }
  int(maxExclusive: number): number {
    return this.inner.int(maxExclusive);
  }
  fork(name: string): Rng {
    return this.inner.fork(name);
  }
}

/** An INVITE transcript with random contents: only its bytes matter to the channel. */
function fakeInvite(rng: Rng) {
  const requesterRegId = rng.bytes(32);
  const responderRegId = rng.bytes(32);
  const common = { timestampMs: t0, requesterRegId, responderRegId };
  const transcript = dmpPingKdfTranscript(
    {
      ...common,
      requesterEphemeralKey: rng.bytes(32),
      contactInvitationToken: null,
      requesterSignature: rng.bytes(64),
    },
    {
      ...common,
      responderEphemeralKey: rng.bytes(32),
      responderSessionCiphertext: rng.bytes(300),
      responderSignature: rng.bytes(64),
    },
    { ...common, requesterSessionCiphertext: rng.bytes(300), requesterSignature: rng.bytes(64) },
    { ...common, responderSignature: rng.bytes(64) },
  );
  return { inviteSecret: rng.bytes(32), pingKdfTranscript: transcript };
}

interface NetworkFaults {
  /** Chance that a datagram is lost (each direction). */
  readonly loss: number;
  /** Chance that a delivered datagram is delivered twice. */
  readonly duplicate: number;
  readonly latencyMs: number;
  /** Extra delay, uniform in [0, jitterMs): later datagrams overtake earlier ones. */
  readonly jitterMs: number;
}
const clean: NetworkFaults = { loss: 0, duplicate: 0, latencyMs: 30, jitterMs: 0 };

interface Side {
  readonly name: 'A' | 'B';
  readonly channel: DmpChannel;
  readonly rng: RecordingRng;
  readonly events: DmpEvent[];
  /** Where this side's datagrams appear to come from (its NAT mapping). */
  source: Endpoint;
  /** Endpoints that reach this side. */
  readonly reachableAt: Endpoint[];
  /** Every datagram it sent, for replay and inspection. */
  readonly sent: DmpOutgoing[];
}

interface InFlightDatagram {
  readonly at: number;
  readonly seq: number;
  readonly to: Side;
  readonly bytes: Uint8Array;
  readonly from: DmpDestination;
}

interface WorldOptions {
  readonly seed: string;
  readonly faults?: NetworkFaults;
  readonly sessionTypeB?: SessionType;
  readonly config?: Partial<DmpConfig>;
  /** Both channels may fall back to the relay (DmpChannelOptions.relay). */
  readonly relay?: boolean;
  /** Direct datagrams are lost from the first one on (`World.directBlocked`). */
  readonly directBlocked?: boolean;
}

/** Two channels, one network, one clock. */
class World {
  now = t0;
  readonly a: Side;
  readonly b: Side;
  faults: NetworkFaults;
  /** Set to false to cut a direction (every datagram from that side is lost). */
  readonly up = { A: true, B: true };
  /** An ISP that drops peer-to-peer UDP: only relayed datagrams get through. */
  directBlocked = false;
  /** Direct datagrams from this side are lost (one direction of the direct path is blocked). */
  readonly directBlockedFrom = { A: false, B: false };
  /** Intervals (absolute ms) during which everything a side sends is lost. */
  readonly outages: { readonly side: 'A' | 'B'; readonly fromMs: number; readonly toMs: number }[] = [];
  private readonly netRng: SeededRng;
  private queue: InFlightDatagram[] = [];
  private seq = 0;
  readonly invite: ReturnType<typeof fakeInvite>;

  constructor(readonly options: WorldOptions) {
    const root = new SeededRng(options.seed);
    this.faults = options.faults ?? clean;
    this.directBlocked = options.directBlocked === true;
    this.netRng = root.fork('network');
    this.invite = fakeInvite(root.fork('invite'));
    const sd = (endpoint: Endpoint, channelToken: number, sessionType: SessionType): SessionDescription => ({
      endpoint,
      channelToken,
      sessionType,
      deviceCertificate: new Uint8Array(0),
      invitationToken: null,
    });
    const tokens = root.fork('tokens');
    const sdA = sd(endpointA, tokens.uint32(), 'direct');
    const sdB = sd(endpointB, tokens.uint32(), options.sessionTypeB ?? 'direct');
    const make = (name: 'A' | 'B', local: SessionDescription, remote: SessionDescription): Side => {
      const rng = new RecordingRng(root.fork(`peer/${name}`));
      const channel = new DmpChannel({
        role: name === 'A' ? 'requester' : 'responder',
        local,
        remote,
        ...this.invite,
        crypto,
        rng,
        now: this.now,
        ...(options.config !== undefined ? { config: options.config } : {}),
        ...(options.relay === true ? { relay: true } : {}),
      });
      return {
        name,
        channel,
        rng,
        events: [],
        source: local.endpoint,
        reachableAt: [local.endpoint],
        sent: [],
      };
    };
    this.a = make('A', sdA, sdB);
    this.b = make('B', sdB, sdA);
    this.drain(this.a);
    this.drain(this.b);
  }

  other(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  /** Moves a side's output into the network and its events into its log. */
  drain(s: Side): void {
    for (const o of s.channel.drainOutgoing()) {
      s.sent.push(o);
      this.transmit(s, o);
    }
    s.events.push(...s.channel.drainEvents());
  }

  private transmit(s: Side, o: DmpOutgoing): void {
    const peer = this.other(s);
    if (!this.up[s.name]) return;
    if ((this.directBlocked || this.directBlockedFrom[s.name]) && o.to !== 'relay') return;
    if (this.outages.some((x) => x.side === s.name && this.now >= x.fromMs && this.now < x.toMs)) return;
    const to = o.to;
    if (to !== 'relay' && !peer.reachableAt.some((e) => e.address === to.address && e.port === to.port)) {
      return; // nobody listens there
    }
    const f = this.faults;
    if (this.netRng.float() < f.loss) return;
    const copies = this.netRng.float() < f.duplicate ? 2 : 1;
    const from: DmpDestination = o.to === 'relay' ? 'relay' : s.source;
    for (let i = 0; i < copies; i++) {
      const at = this.now + f.latencyMs + (f.jitterMs > 0 ? this.netRng.int(f.jitterMs) : 0);
      this.queue.push({ at, seq: this.seq++, to: peer, bytes: o.bytes, from });
    }
  }

  dropInFlight(): void {
    this.queue = [];
  }

  /** Hands a datagram to a side now (tests use it to inject replays and forgeries). */
  inject(to: Side, bytes: Uint8Array, from: DmpDestination): void {
    to.channel.receive(this.now, bytes, from);
    this.drain(to);
    this.drain(this.other(to));
  }

  /** Runs the event loop until `done()` holds or `untilMs` of virtual time has passed. */
  run(untilMs: number, done: () => boolean = () => false): void {
    const end = this.now + untilMs;
    for (let steps = 0; steps < 2_000_000; steps++) {
      if (done()) return;
      let datagram: InFlightDatagram | undefined;
      for (const d of this.queue) {
        if (datagram === undefined || d.at < datagram.at || (d.at === datagram.at && d.seq < datagram.seq)) {
          datagram = d;
        }
      }
      let deadline = Number.POSITIVE_INFINITY;
      for (const s of [this.a, this.b]) {
        const t = s.channel.nextDeadline();
        if (t !== null && t < deadline) deadline = t;
      }
      const next = Math.min(datagram?.at ?? Number.POSITIVE_INFINITY, deadline);
      if (next > end) {
        this.now = Math.max(this.now, end);
        return;
      }
      this.now = Math.max(this.now, next);
      if (datagram !== undefined && datagram.at <= deadline) {
        this.queue = this.queue.filter((d) => d !== datagram);
        datagram.to.channel.receive(this.now, datagram.bytes, datagram.from);
      } else {
        for (const s of [this.a, this.b]) {
          const t = s.channel.nextDeadline();
          if (t !== null && t <= this.now) s.channel.tick(this.now);
        }
      }
      this.drain(this.a);
      this.drain(this.b);
    }
    throw new Error(`event loop did not settle (seed '${this.options.seed}')`);
  }

  established(): boolean {
    return this.a.channel.confirmed && this.b.channel.confirmed;
  }
}

function messagesOf(s: Side): { id: number; bytes: Uint8Array }[] {
  return s.events.flatMap((e) => (e.type === 'message' ? [{ id: e.messageId, bytes: e.bytes }] : []));
}
function receiptsOf(s: Side): number[] {
  return s.events.flatMap((e) => (e.type === 'delivered' ? [e.messageId] : []));
}
function rejectsOf(s: Side): string[] {
  return s.events.flatMap((e) => (e.type === 'rejected' ? [e.reason] : []));
}
function eventTypes(s: Side, type: DmpEvent['type']): DmpEvent[] {
  return s.events.filter((e) => e.type === type);
}

/** A message whose bytes name its sender, index and size (so a mix-up shows). */
function payload(rng: SeededRng, tag: string, size: number): Uint8Array {
  const head = new TextEncoder().encode(`${tag}:`);
  const out = rng.bytes(Math.max(size, head.length));
  out.set(head, 0);
  return out;
}

/**
 * Sends `count` messages from each side (sizes from one byte to four parts), returns what was sent
 * (appended to `into`, the messages sent before on the same channels, when given).
 */
function exchange(
  w: World,
  count: number,
  rng: SeededRng,
  into: { fromA: Uint8Array[]; fromB: Uint8Array[] } = { fromA: [], fromB: [] },
): { fromA: Uint8Array[]; fromB: Uint8Array[] } {
  const { fromA, fromB } = into;
  for (let i = 0; i < count; i++) {
    for (const [s, list] of [
      [w.a, fromA],
      [w.b, fromB],
    ] as const) {
      const size = rng.float() < 0.7 ? 1 + rng.int(200) : 1 + rng.int(4 * messageChunkMaxBytes);
      const m = payload(rng, `${s.name}${i}`, size);
      const id = s.channel.send(w.now, m);
      expect(id).toBe(list.length);
      list.push(m);
      w.drain(s);
    }
    w.run(rng.int(50));
  }
  return { fromA, fromB };
}

function expectExactlyOnceInOrder(received: Side, sent: Uint8Array[], sender: Side, seed: string): void {
  const got = messagesOf(received);
  expect(
    got.map((m) => m.id),
    `seed '${seed}'`,
  ).toEqual(sent.map((_, i) => i));
  got.forEach((m, i) => {
    expect(Buffer.from(m.bytes).equals(Buffer.from(sent[i]!)), `message ${i}, seed '${seed}'`).toBe(true);
  });
  expect(receiptsOf(sender), `receipts, seed '${seed}'`).toEqual(sent.map((_, i) => i));
  expect(eventTypes(sender, 'failed'), `seed '${seed}'`).toEqual([]);
}

function allDelivered(w: World, a: number, b: number): () => boolean {
  return () =>
    messagesOf(w.b).length === a &&
    messagesOf(w.a).length === b &&
    receiptsOf(w.a).length === a &&
    receiptsOf(w.b).length === b;
}

describe('DmpChannel: establishment and messages', () => {
  it('punches, derives keys and carries messages both ways on a clean network', () => {
    const w = new World({ seed: 'dmp/clean' });
    w.run(5_000, () => w.established());
    expect(w.established()).toBe(true);
    expect(eventTypes(w.a, 'established')).toEqual([
      { type: 'established', path: { kind: 'direct', endpoint: endpointB } },
    ]);
    expect(eventTypes(w.b, 'established')).toHaveLength(1);
    const rng = new SeededRng('dmp/clean/messages');
    const { fromA, fromB } = exchange(w, 10, rng);
    w.run(10_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, 'dmp/clean');
    expectExactlyOnceInOrder(w.a, fromB, w.b, 'dmp/clean');
    expect(rejectsOf(w.a)).toEqual([]);
    expect(rejectsOf(w.b)).toEqual([]);
    expect(w.a.channel.stats.retransmissions + w.b.channel.stats.retransmissions).toBe(0);
    // Text goes as UTF-8.
    w.a.channel.send(w.now, 'héllo ✓');
    w.drain(w.a);
    w.run(1_000, () => messagesOf(w.b).length === fromA.length + 1);
    expect(new TextDecoder().decode(messagesOf(w.b).at(-1)!.bytes)).toBe('héllo ✓');
  });

  it('queues messages sent before the channel is established', () => {
    const w = new World({ seed: 'dmp/early' });
    w.a.channel.send(w.now, 'first');
    w.a.channel.send(w.now, 'second');
    w.drain(w.a);
    w.run(5_000, () => messagesOf(w.b).length === 2 && receiptsOf(w.a).length === 2);
    expect(messagesOf(w.b).map((m) => new TextDecoder().decode(m.bytes))).toEqual(['first', 'second']);
  });

  it('delivers every message exactly once and in order through loss, duplication and reordering', () => {
    const seed = 'dmp/lossy';
    const w = new World({ seed, faults: { loss: 0.1, duplicate: 0.05, latencyMs: 20, jitterMs: 60 } });
    const rng = new SeededRng(`${seed}/messages`);
    const { fromA, fromB } = exchange(w, 40, rng);
    w.run(120_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    // The faults were exercised: duplicates were refused by counter, losses were retransmitted.
    expect(w.a.channel.stats.retransmissions + w.b.channel.stats.retransmissions).toBeGreaterThan(0);
    expect(w.a.channel.rejects.replay + w.b.channel.rejects.replay).toBeGreaterThan(0);
    expect(w.a.channel.stats.outgoingShed + w.b.channel.stats.outgoingShed).toBe(0);
  });

  it('carries a message of messageSizeMaxBytes (64 KiB) intact through a lossy network', () => {
    const seed = 'dmp/64k';
    const w = new World({ seed, faults: { loss: 0.05, duplicate: 0.02, latencyMs: 25, jitterMs: 30 } });
    const big = payload(new SeededRng(`${seed}/payload`), 'big', messageSizeMaxBytes);
    expect(big.length).toBe(64 * 1024);
    w.a.channel.send(w.now, big);
    w.drain(w.a);
    w.run(60_000, () => messagesOf(w.b).length === 1 && receiptsOf(w.a).length === 1);
    expectExactlyOnceInOrder(w.b, [big], w.a, seed);
    // The datagram bound held for every packet.
    for (const o of w.a.sent) expect(o.bytes.length).toBeLessThanOrEqual(1200);
  });

  it('refuses an oversized message at send with a typed error', () => {
    const w = new World({ seed: 'dmp/oversized' });
    let error: unknown;
    try {
      w.a.channel.send(w.now, new Uint8Array(messageSizeMaxBytes + 1));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DmpSendError);
    expect((error as DmpSendError).code).toBe('messageTooLarge');
    expect(w.a.channel.send(w.now, new Uint8Array(messageSizeMaxBytes))).toBe(0);
    const full = new World({ seed: 'dmp/queue-full', config: { sendQueueMessagesMax: 2 } });
    full.a.channel.send(full.now, 'x');
    full.a.channel.send(full.now, 'y');
    expect(() => full.a.channel.send(full.now, 'z')).toThrow(expect.objectContaining({ code: 'queueFull' }));
  });

  it('works when every datagram is relayed (destinations are abstract)', () => {
    const seed = 'dmp/relay';
    const w = new World({
      seed,
      sessionTypeB: 'relayed',
      faults: { loss: 0.05, duplicate: 0, latencyMs: 80, jitterMs: 40 },
    });
    w.directBlocked = true;
    // A starts on the relay because B's description asks for it; B is switched by its driver.
    w.b.channel.switchPath(w.now, 'relay');
    w.drain(w.b);
    const { fromA, fromB } = exchange(w, 8, new SeededRng(`${seed}/messages`));
    w.run(60_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    expect(w.a.channel.path).toEqual({ kind: 'relay' });
    // Every AEAD packet went by the relay (a probe of B's endpoint, after B's first direct ping, did not
    // get through the ISP and moved nothing).
    const data = w.a.sent.filter((o) => o.bytes[1]! >= PacketType.MessageStart);
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((o) => o.to === 'relay')).toBe(true);
  });

  it('follows the peer to a new port after its NAT rebinds (probe, then the pong moves the path)', () => {
    const seed = 'dmp/rebind';
    const w = new World({ seed });
    w.run(5_000, () => w.established());
    const moved: Endpoint = { address: endpointB.address, port: 7777 };
    w.b.source = moved;
    w.b.reachableAt.push(moved);
    w.b.reachableAt.shift(); // the old mapping is gone
    w.b.channel.send(w.now, 'from the new port');
    w.drain(w.b);
    w.run(
      30_000,
      () =>
        receiptsOf(w.b).length === 1 &&
        w.a.channel.path.kind === 'direct' &&
        (w.a.channel.path as { endpoint: Endpoint }).endpoint.port === 7777,
    );
    expect(w.a.channel.path).toEqual({ kind: 'direct', endpoint: moved });
    expect(eventTypes(w.a, 'pathChanged')).toEqual([
      { type: 'pathChanged', path: { kind: 'direct', endpoint: moved }, reason: 'probe' },
    ]);
    w.a.channel.send(w.now, 'to the new port');
    w.drain(w.a);
    w.run(10_000, () => messagesOf(w.b).length === 1);
    expect(messagesOf(w.b)).toHaveLength(1);
  });

  it('is deterministic: the same seed gives the same datagrams and events', () => {
    const trace = () => {
      const w = new World({
        seed: 'dmp/determinism',
        faults: { loss: 0.1, duplicate: 0.1, latencyMs: 10, jitterMs: 50 },
      });
      exchange(w, 10, new SeededRng('dmp/determinism/messages'));
      w.run(30_000);
      return (
        crypto.sha256(Buffer.concat([...w.a.sent, ...w.b.sent].map((o) => o.bytes))).join(',') +
        JSON.stringify([w.a.events.length, w.b.events.length])
      );
    };
    expect(trace()).toBe(trace());
  });
});

describe('DmpChannel: relay fallback', () => {
  const lossy: NetworkFaults = { loss: 0.05, duplicate: 0.01, latencyMs: 40, jitterMs: 30 };
  const pathEvents = (s: Side) =>
    s.events.flatMap((e) =>
      e.type === 'pathChanged' ? [`${e.path.kind === 'relay' ? 'relay' : 'direct'}:${e.reason}`] : [],
    );

  it('falls back to the relay when punching cannot work, and carries every message there', () => {
    const seed = 'dmp/fallback-punch';
    const w = new World({ seed, relay: true, faults: lossy, directBlocked: true });
    const { fromA, fromB } = exchange(w, 10, new SeededRng(`${seed}/messages`));
    w.run(60_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    for (const s of [w.a, w.b]) {
      expect(s.channel.path, seed).toEqual({ kind: 'relay' });
      expect(pathEvents(s)[0], seed).toBe('relay:punch');
      expect(s.channel.stats.relayFallbacks, seed).toBe(1);
    }
    // The fallback comes relayFallbackMs into the attempt: keys were agreed over the relay.
    const established = w.a.events.findIndex((e) => e.type === 'established');
    const fellBack = w.a.events.findIndex((e) => e.type === 'pathChanged');
    expect(fellBack).toBeLessThan(established);
  });

  it('without a relay (the default) it keeps punching and closes with punchTimeout', () => {
    const w = new World({ seed: 'dmp/no-relay', directBlocked: true });
    w.run(20_000);
    expect(w.a.channel.closeReason).toBe('punchTimeout');
    expect(w.a.sent.every((o) => o.to !== 'relay')).toBe(true);
  });

  it('moves a live conversation to the relay when the direct path dies, then back when it returns', () => {
    const seed = 'dmp/fallback-silence';
    const w = new World({ seed, relay: true, faults: lossy });
    const rng = new SeededRng(`${seed}/messages`);
    const first = exchange(w, 5, rng);
    w.run(30_000, allDelivered(w, first.fromA.length, first.fromB.length));
    expect(w.a.channel.path.kind).toBe('direct');
    // The ISP starts dropping peer-to-peer UDP in the middle of the conversation.
    w.directBlocked = true;
    const { fromA, fromB } = exchange(w, 10, rng, first);
    w.run(60_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    expect(w.a.channel.path).toEqual({ kind: 'relay' });
    expect(w.b.channel.path).toEqual({ kind: 'relay' });
    expect(['relay:silence', 'relay:timeouts']).toContain(pathEvents(w.a)[0]);
    // Direct UDP works again: a probe (15 s after the fallback, then at doubling intervals) brings the
    // channel back, and messages flow directly again.
    w.directBlocked = false;
    w.run(60_000, () => w.a.channel.path.kind === 'direct' && w.b.channel.path.kind === 'direct');
    expect(w.a.channel.path).toEqual({ kind: 'direct', endpoint: endpointB });
    expect(w.b.channel.path).toEqual({ kind: 'direct', endpoint: endpointA });
    expect(pathEvents(w.a).at(-1)).toBe('direct:probe');
    exchange(w, 5, rng, first);
    w.run(30_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    expect(w.a.channel.stateKind).toBe('established');
  });

  it('one blocked direction: the blocked side falls back after its timeouts, the other follows', () => {
    const seed = 'dmp/fallback-one-way';
    const w = new World({ seed, relay: true });
    w.run(5_000, () => w.established());
    w.directBlockedFrom.A = true; // A's datagrams to B's endpoint are lost; B's reach A
    const { fromA, fromB } = exchange(w, 10, new SeededRng(`${seed}/messages`));
    w.run(90_000, allDelivered(w, fromA.length, fromB.length));
    expectExactlyOnceInOrder(w.b, fromA, w.a, seed);
    expectExactlyOnceInOrder(w.a, fromB, w.b, seed);
    expect(w.a.channel.path).toEqual({ kind: 'relay' });
    expect(w.a.channel.stats.relayFallbacks).toBeGreaterThanOrEqual(1);
  });
});

describe('DmpChannel: refusals', () => {
  /** An established pair, and the first data datagram A sends after it (not yet delivered). */
  function withPendingData(seed: string) {
    const w = new World({ seed });
    w.run(5_000, () => w.established());
    w.a.channel.send(w.now, 'secret');
    const out = w.a.channel.drainOutgoing();
    const data = out.find((o) => o.bytes[1] === PacketType.MessageStart);
    if (data === undefined) throw new Error('no MessageStart');
    return { w, data };
  }

  it("rejects a replayed data datagram ('replay') and delivers the message once", () => {
    const { w, data } = withPendingData('dmp/replay');
    w.inject(w.b, data.bytes, endpointA);
    expect(messagesOf(w.b)).toHaveLength(1);
    w.inject(w.b, data.bytes, endpointA);
    w.inject(w.b, data.bytes, { address: '192.0.2.66', port: 1 }); // from anywhere
    expect(rejectsOf(w.b)).toEqual(['replay', 'replay']);
    expect(messagesOf(w.b)).toHaveLength(1);
  });

  it("rejects a tampered ciphertext ('badTag'); the genuine packet still gets through", () => {
    const { w, data } = withPendingData('dmp/tamper');
    const tampered = data.bytes.slice();
    tampered[tampered.length - 20]! ^= 0x40;
    w.inject(w.b, tampered, endpointA);
    expect(rejectsOf(w.b)).toEqual(['badTag']);
    expect(messagesOf(w.b)).toHaveLength(0);
    // A tampered counter is caught the same way (the counter is the nonce and in the AAD).
    const p = decodeDatagram(data.bytes);
    if (!p.ok || p.packet.type !== PacketType.MessageStart) throw new Error('decode');
    w.inject(w.b, encodeDatagram({ ...p.packet, packetCounter: p.packet.packetCounter + 1 }), endpointA);
    expect(rejectsOf(w.b)).toEqual(['badTag', 'badTag']);
    w.inject(w.b, data.bytes, endpointA);
    expect(messagesOf(w.b).map((m) => new TextDecoder().decode(m.bytes))).toEqual(['secret']);
  });

  it("rejects a ping with a bad MAC ('badMac') and one for another token ('unknownToken')", () => {
    const w = new World({ seed: 'dmp/bad-mac' });
    const ping = w.a.sent.find((o) => o.bytes[1] === PacketType.DmpPing)!;
    const forged = ping.bytes.slice();
    forged[forged.length - 1]! ^= 1;
    w.inject(w.b, forged, endpointA);
    const body = forged.slice();
    body[body.length - 40]! ^= 0x10; // inside the channel key: the MAC covers every byte
    body[body.length - 1]! ^= 1;
    w.inject(w.b, body, endpointA);
    expect(rejectsOf(w.b)).toEqual(['badMac', 'badMac']);
    // Correctly MAC'd (with the real ping key) but for a token that is not B's.
    const pingKey = deriveDmpPingKey(crypto, w.invite.inviteSecret, w.invite.pingKdfTranscript);
    const stray: DmpPing = {
      type: PacketType.DmpPing,
      channelToken: (w.b.channel.localToken + 1) >>> 0,
      pingId: 1,
      channelKey: null,
      mac: macPlaceholder,
    };
    w.inject(
      w.b,
      sealDatagram(stray, (c) => crypto.hmacSha256(pingKey, c)),
      endpointA,
    );
    expect(rejectsOf(w.b).at(-1)).toBe('unknownToken');
    // Garbage, an oversized datagram and a DRP packet are refused with their own reasons.
    w.inject(w.b, new Uint8Array([1, 50, 0xc1]), endpointA);
    w.inject(w.b, new Uint8Array(1201), endpointA);
    expect(rejectsOf(w.b).slice(-2)).toEqual(['malformed', 'tooLarge']);
    expect(w.b.channel.rejects.badMac).toBe(2);
  });

  it("rejects data before the keys exist ('notEstablished'), replayed pings ('replay'), reflected keys ('unexpected')", () => {
    // Two runs of the same seed: the second's B is still punching when the first's data reaches it.
    const w = new World({ seed: 'dmp/early-data' });
    const { data } = withPendingData('dmp/early-data');
    w.inject(w.b, data.bytes, endpointA);
    expect(rejectsOf(w.b)).toEqual(['notEstablished']);
    const ping = w.a.sent.find((o) => o.bytes[1] === PacketType.DmpPing)!;
    w.inject(w.b, ping.bytes, endpointA);
    w.inject(w.b, ping.bytes, endpointA);
    expect(rejectsOf(w.b).at(-1)).toBe('replay');
    // B's own ping sent back to it (a reflection) fails the token check: B's token is not A's.
    const own = w.b.sent.find((o) => o.bytes[1] === PacketType.DmpPing)!;
    w.inject(w.b, own.bytes, endpointA);
    expect(rejectsOf(w.b).at(-1)).toBe('unknownToken');
    // Even correctly MAC'd for B's token, B's own channel key coming back is refused, and so is a pong
    // that answers no ping of B's.
    const pingKey = deriveDmpPingKey(crypto, w.invite.inviteSecret, w.invite.pingKdfTranscript);
    const seal = (type: typeof PacketType.DmpPing | typeof PacketType.DmpPong, pingId: number) =>
      sealDatagram(
        {
          type,
          channelToken: w.b.channel.localToken,
          pingId,
          channelKey: w.b.channel.channelKey,
          mac: macPlaceholder,
        },
        (c) => crypto.hmacSha256(pingKey, c),
      );
    w.inject(w.b, seal(PacketType.DmpPing, 12345), endpointA);
    w.inject(w.b, seal(PacketType.DmpPong, 54321), endpointA);
    expect(rejectsOf(w.b).slice(-2)).toEqual(['unexpected', 'unexpected']);
  });

  it('refuses everything after close, fails unacknowledged messages, and send throws', () => {
    const w = new World({ seed: 'dmp/close' });
    w.run(5_000, () => w.established());
    w.up.A = false;
    w.a.channel.send(w.now, 'never acknowledged');
    w.drain(w.a);
    w.a.channel.close(w.now);
    w.drain(w.a);
    expect(w.a.events.slice(-2)).toEqual([
      { type: 'failed', messageId: 0 },
      { type: 'closed', reason: 'local' },
    ]);
    expect(w.a.channel.nextDeadline()).toBeNull();
    expect(() => w.a.channel.send(w.now, 'x')).toThrow(expect.objectContaining({ code: 'closed' }));
    const ping = w.b.sent.find((o) => o.bytes[1] === PacketType.DmpPing)!;
    w.inject(w.a, ping.bytes, endpointB);
    expect(rejectsOf(w.a).at(-1)).toBe('closedSession');
  });
});

describe('DmpChannel: timers', () => {
  it('gives up after retransmissionsMax: unacknowledged messages fail, the channel closes', () => {
    const w = new World({ seed: 'dmp/give-up' });
    w.run(5_000, () => w.established());
    w.up.B = false; // acks never come back
    w.a.channel.send(w.now, 'one');
    w.a.channel.send(w.now, 'two');
    w.drain(w.a);
    w.run(600_000, () => w.a.channel.stateKind === 'closed');
    const closed = eventTypes(w.a, 'closed');
    // Whichever comes first: the retransmission budget, or the peer's silence.
    expect(closed).toHaveLength(1);
    expect(['retransmissionsExhausted', 'peerSilent']).toContain((closed[0] as { reason: string }).reason);
    expect(eventTypes(w.a, 'failed')).toEqual([
      { type: 'failed', messageId: 0 },
      { type: 'failed', messageId: 1 },
    ]);
    const patient = new World({
      seed: 'dmp/give-up-2',
      config: { peerSilentMs: 3_600_000, retransmissionsMax: 3 },
    });
    patient.run(5_000, () => patient.established());
    patient.up.B = false;
    patient.a.channel.send(patient.now, 'lost');
    patient.drain(patient.a);
    patient.run(600_000, () => patient.a.channel.stateKind === 'closed');
    expect(patient.a.channel.closeReason).toBe('retransmissionsExhausted');
    expect(patient.a.channel.stats.retransmissions).toBe(3);
  });

  it('closes with punchTimeout when the peer never answers', () => {
    const w = new World({ seed: 'dmp/punch-timeout' });
    w.up.A = false;
    w.up.B = false;
    w.dropInFlight(); // the first pings, too
    w.run(60_000, () => w.a.channel.stateKind === 'closed');
    expect(w.a.channel.closeReason).toBe('punchTimeout');
    expect(w.now - t0).toBe(15_000);
    const pings = w.a.sent.filter((o) => o.bytes[1] === PacketType.DmpPing).length;
    expect(pings).toBeGreaterThan(5);
    expect(pings).toBeLessThan(20); // backoff
  });

  it('keeps a quiet channel alive with keep-alives, then closes it as idle; a silent peer closes it sooner', () => {
    const w = new World({ seed: 'dmp/idle' });
    w.run(5_000, () => w.established());
    w.a.channel.send(w.now, 'hi');
    w.drain(w.a);
    w.run(1_000, () => receiptsOf(w.a).length === 1);
    const before = w.a.sent.length;
    w.run(300_000, () => w.a.channel.stateKind === 'closed' && w.b.channel.stateKind === 'closed');
    expect(w.a.channel.closeReason).toBe('idle');
    expect(w.b.channel.closeReason).toBe('idle');
    expect(w.a.sent.length - before).toBeGreaterThan(10); // keep-alive pings meanwhile
    const s = new World({ seed: 'dmp/silent' });
    s.run(5_000, () => s.established());
    s.up.B = false;
    const cut = s.now;
    s.run(60_000, () => s.a.channel.stateKind === 'closed');
    expect(s.a.channel.closeReason).toBe('peerSilent');
    expect(s.now - cut).toBeLessThanOrEqual(15_000 + 100);
  });
});

describe('DmpChannel: forward secrecy', () => {
  it('erases the ephemeral channel key; long-term keys and recorded traffic open nothing', () => {
    const w = new World({ seed: 'dmp/forward-secrecy' });
    // Long-term keys an attacker may later steal: both users' device and registration keys.
    const stolen = new SeededRng('dmp/forward-secrecy/long-term');
    const longTerm = [0, 1, 2, 3].map(() => crypto.ed25519FromSeed(stolen.bytes(32)));
    w.run(5_000, () => w.established());
    w.a.channel.send(w.now, 'for your eyes only');
    w.drain(w.a);
    w.run(1_000, () => messagesOf(w.b).length === 1);
    const recorded = w.a.sent.find((o) => o.bytes[1] === PacketType.MessageStart)!;
    const p = decodeDatagram(recorded.bytes);
    if (!p.ok || p.packet.type !== PacketType.MessageStart) throw new Error('decode');
    const packet = p.packet;

    // Each side drew exactly one 32-byte secret (its channel key), and it is now all zeros.
    for (const side of [w.a, w.b]) {
      const keys = side.rng.handedOut.filter((h) => h.array.length === 32);
      expect(keys).toHaveLength(1);
      expect(keys[0]!.array.every((b) => b === 0)).toBe(true);
      expect(keys[0]!.copy.some((b) => b !== 0)).toBe(true);
    }
    const open = (secret: Uint8Array | null) => {
      if (secret === null) return null;
      const keys = deriveDmpChannelKeys(
        crypto,
        secret,
        w.invite.pingKdfTranscript,
        w.a.channel.channelKey,
        w.b.channel.channelKey,
      );
      return crypto.aeadOpen(
        keys.requesterToResponder,
        dmpNonce(packet.packetCounter),
        packet.ciphertext,
        dmpAad(packet),
      );
    };
    // The attacker knows the INVITE transcript, the ping key's input, both public channel keys (they are
    // in the recorded pings) and every long-term key; none of it is an X25519 private key of the channel.
    const attempts = [
      ...longTerm.flatMap((k) => [
        crypto.x25519(k.seed, w.a.channel.channelKey),
        crypto.x25519(k.seed, w.b.channel.channelKey),
      ]),
      w.invite.inviteSecret,
      deriveDmpPingKey(crypto, w.invite.inviteSecret, w.invite.pingKdfTranscript),
      crypto.x25519(w.a.rng.handedOut[0]!.array, w.b.channel.channelKey), // the erased buffer
    ];
    for (const secret of attempts) expect(open(secret)).toBeNull();
    // Control: the ephemeral key before erasure (which no one holds any more) does open it.
    const ephemeralA = w.a.rng.handedOut.find((h) => h.array.length === 32)!.copy;
    const plaintext = open(crypto.x25519(ephemeralA, w.b.channel.channelKey));
    expect(plaintext).not.toBeNull();
    expect(new TextDecoder().decode(plaintext!)).toContain('for your eyes only');
  });
});

describe('DmpChannel: property', () => {
  it('random loss, duplication, reordering and outages: exactly once, in order, with receipts', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 1_000_000 }),
          loss: fc.double({ min: 0, max: 0.25, noNaN: true }),
          duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
          jitterMs: fc.integer({ min: 0, max: 150 }),
          messages: fc.integer({ min: 1, max: 16 }),
          outages: fc.array(
            fc.record({
              side: fc.constantFrom('A' as const, 'B' as const),
              fromMs: fc.integer({ min: 0, max: 3_000 }),
              durationMs: fc.integer({ min: 0, max: 5_000 }),
            }),
            { maxLength: 3 },
          ),
        }),
        ({ seed, loss, duplicate, jitterMs, messages, outages }) => {
          const name = `dmp/property/${seed}`;
          const w = new World({ seed: name, faults: { loss, duplicate, latencyMs: 15, jitterMs } });
          for (const o of outages)
            w.outages.push({ side: o.side, fromMs: t0 + o.fromMs, toMs: t0 + o.fromMs + o.durationMs });
          const { fromA, fromB } = exchange(w, messages, new SeededRng(`${name}/messages`));
          w.run(600_000, allDelivered(w, fromA.length, fromB.length));
          const why = `${JSON.stringify({ seed, loss, duplicate, jitterMs, messages, outages })} closed ${w.a.channel.closeReason}/${w.b.channel.closeReason}`;
          expectExactlyOnceInOrder(w.b, fromA, w.a, why);
          expectExactlyOnceInOrder(w.a, fromB, w.b, why);
        },
      ),
      { numRuns: 12 },
    );
  });
});
