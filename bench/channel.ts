/**
 * `npm run bench -- channel [--json] [--seconds S]`: one direct channel (src/dmp/channel.ts) between two
 * UDP sockets on loopback, in this process, against plain `node:dgram` in the same run.
 *
 * - `messagesPerSec`: 1 KiB messages sent as fast as the channel takes them, counted when acknowledged
 *   (the sender's receipt), over `--seconds` per round (default 1), best of `--rounds` (default 5).
 * - `rawEchoPerSec`: the baseline — datagrams of the same size as the channel's data datagrams, echoed
 *   by a second socket, with as many in flight as the channel allows (`messagesInFlightMax`), measured in
 *   rounds alternating with the channel's (a shared machine's load drifts; alternating keeps both under
 *   the same drift). `ratio` = best messagesPerSec / best rawEchoPerSec (goal ≥ 0.3); `ratioMedian`:
 *   the median of the rounds' own ratios.
 * - `roundTripP50Ms` / `P99`: one message at a time to the peer, whose application sends it straight back
 *   over the channel; `rawRoundTripP50Ms`: the same with bare datagrams (goal ≤ 2 ms for the channel).
 *
 * Both sides run in one process on one event loop, so each figure includes both ends' work; the machine
 * is shared and noisy, so compare the ratio, not the absolute numbers.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { nodeCrypto } from '../src/crypto/index.js';
import { DmpChannel, type DmpEvent } from '../src/dmp/channel.js';
import { messagesInFlightMax } from '../src/dmp/config.js';
import type { SessionDescription } from '../src/dmp/session.js';
import { CryptoRng, WallClock } from '../src/net/system.js';
import type { Endpoint } from '../src/seams/transport.js';
import { dmpPingKdfTranscript } from '../src/wire/index.js';
import type { Bench } from './lib.js';

const messageBytes = 1024;

function bind(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

function endpointOf(s: Socket): Endpoint {
  const a = s.address();
  return { address: a.address, port: a.port };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** An INVITE's hand-over with random contents: the channel only needs its bytes. */
function fakeInvite(rng: CryptoRng): { inviteSecret: Uint8Array; pingKdfTranscript: Uint8Array } {
  const common = { timestampMs: Date.now(), requesterRegId: rng.bytes(32), responderRegId: rng.bytes(32) };
  const pingKdfTranscript = dmpPingKdfTranscript(
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
  return { inviteSecret: rng.bytes(32), pingKdfTranscript };
}

/** One end: a socket, a channel, the driver loop (receive → drain → send; a timer at the deadline). */
class End {
  readonly clock = new WallClock();
  channel!: DmpChannel;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  onEvent: (e: DmpEvent) => void = () => {};
  datagramBytes = 0;

  constructor(readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => {
      if (this.channel === undefined) return;
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      this.channel.receive(this.clock.now(), bytes, { address: rinfo.address, port: rinfo.port });
      this.flush();
    });
  }

  flush(): void {
    const c = this.channel;
    for (;;) {
      const out = c.drainOutgoing();
      for (const o of out) {
        if (o.to === 'relay') continue;
        if (o.bytes[1] === 52) this.datagramBytes = o.bytes.length;
        this.socket.send(o.bytes, o.to.port, o.to.address);
      }
      const events = c.drainEvents();
      for (const e of events) this.onEvent(e);
      if (out.length === 0 && events.length === 0) break;
    }
    const d = c.nextDeadline();
    if (d === null || d >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = d;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        c.tick(this.clock.now());
        this.flush();
      },
      Math.max(0, d - this.clock.now()),
    );
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket.close();
  }
}

export async function openChannel(): Promise<{ a: End; b: End }> {
  const rng = new CryptoRng();
  const a = new End(await bind());
  const b = new End(await bind());
  const sd = (e: Endpoint, channelToken: number): SessionDescription => ({
    endpoint: e,
    channelToken,
    sessionType: 'direct',
    deviceCertificate: new Uint8Array(0),
    invitationToken: null,
  });
  const sdA = sd(endpointOf(a.socket), rng.uint32());
  const sdB = sd(endpointOf(b.socket), rng.uint32());
  const invite = fakeInvite(rng);
  const make = (role: 'requester' | 'responder', local: SessionDescription, remote: SessionDescription) =>
    new DmpChannel({
      role,
      local,
      remote,
      inviteSecret: invite.inviteSecret.slice(),
      pingKdfTranscript: invite.pingKdfTranscript,
      crypto: nodeCrypto,
      rng,
      now: a.clock.now(),
    });
  a.channel = make('requester', sdA, sdB);
  b.channel = make('responder', sdB, sdA);
  a.flush();
  b.flush();
  const t0 = Date.now();
  while (!(a.channel.confirmed && b.channel.confirmed)) {
    if (Date.now() - t0 > 5_000) throw new Error('channel did not come up on loopback');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { a, b };
}

/** Acknowledged messages per second over `ms`, keeping the sender's queue full. */
export async function channelThroughput(a: End, b: End, ms: number): Promise<number> {
  const message = new Uint8Array(messageBytes).fill(7);
  let receipts = 0;
  let running = true;
  const topUp = (): void => {
    const now = a.clock.now();
    while (running && a.channel.queuedMessageCount < 2 * messagesInFlightMax) a.channel.send(now, message);
  };
  a.onEvent = (e) => {
    if (e.type === 'delivered') {
      receipts++;
      topUp();
    }
  };
  b.onEvent = () => {};
  topUp();
  a.flush();
  await new Promise((r) => setTimeout(r, 100)); // warm-up
  const start = performance.now();
  const r0 = receipts;
  await new Promise((r) => setTimeout(r, ms));
  const perSec = ((receipts - r0) * 1000) / (performance.now() - start);
  running = false;
  // Let the queue drain so the next round starts clean.
  await new Promise((r) => setTimeout(r, 200));
  a.onEvent = () => {};
  return perSec;
}

/** Round trips of one message at a time: to the peer, whose app echoes it back. */
async function channelRoundTrips(a: End, b: End, count: number): Promise<number[]> {
  const message = new Uint8Array(messageBytes).fill(9);
  const samples: number[] = [];
  b.onEvent = (e) => {
    if (e.type === 'message') b.channel.send(b.clock.now(), e.bytes);
  };
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const done = new Promise<void>((resolve) => {
      a.onEvent = (e) => {
        if (e.type === 'message') resolve();
      };
    });
    a.channel.send(a.clock.now(), message);
    a.flush();
    await done;
    samples.push(performance.now() - t);
  }
  a.onEvent = () => {};
  b.onEvent = () => {};
  return samples.sort((x, y) => x - y);
}

/** Plain dgram echo: `window` datagrams of `size` bytes in flight; echoes per second over `ms`. */
async function rawEcho(size: number, window: number, ms: number): Promise<number> {
  const client = await bind();
  const server = await bind();
  const se = endpointOf(server);
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  const payload = Buffer.alloc(size, 5);
  let echoes = 0;
  let running = true;
  client.on('message', () => {
    echoes++;
    if (running) client.send(payload, se.port, se.address);
  });
  for (let i = 0; i < window; i++) client.send(payload, se.port, se.address);
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  const e0 = echoes;
  await new Promise((r) => setTimeout(r, ms));
  const perSec = ((echoes - e0) * 1000) / (performance.now() - start);
  running = false;
  await new Promise((r) => setTimeout(r, 50));
  client.close();
  server.close();
  return perSec;
}

async function rawRoundTrips(size: number, count: number): Promise<number[]> {
  const client = await bind();
  const server = await bind();
  const se = endpointOf(server);
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  const payload = Buffer.alloc(size, 5);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      client.once('message', () => resolve());
      client.send(payload, se.port, se.address);
    });
    samples.push(performance.now() - t);
  }
  client.close();
  server.close();
  return samples.sort((x, y) => x - y);
}

export const run: Bench = async ({ args }) => {
  const arg = (name: string, def: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const seconds = arg('--seconds', 1);
  const rounds = arg('--rounds', 5);
  if (!(seconds > 0 && seconds <= 60)) throw new RangeError('--seconds must be in (0, 60]');
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 50))
    throw new RangeError('--rounds must be 1..50');
  const ms = seconds * 1000;
  const { a, b } = await openChannel();
  // One message first, to learn the size of a data datagram carrying 1 KiB.
  await channelRoundTrips(a, b, 20);
  const size = a.datagramBytes;
  let messagesPerSec = 0;
  let rawEchoPerSec = 0;
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const c = await channelThroughput(a, b, ms);
    const r = await rawEcho(size, messagesInFlightMax, ms);
    messagesPerSec = Math.max(messagesPerSec, c);
    rawEchoPerSec = Math.max(rawEchoPerSec, r);
    ratios.push(c / r);
  }
  ratios.sort((x, y) => x - y);
  const rtts = await channelRoundTrips(a, b, 500);
  const raw = await rawRoundTrips(size, 500);
  const stats = a.channel.stats;
  a.stop();
  b.stop();
  const ratio = messagesPerSec / rawEchoPerSec;
  return {
    messageBytes,
    datagramBytes: size,
    messagesPerSec: Math.round(messagesPerSec),
    rawEchoPerSec: Math.round(rawEchoPerSec),
    ratio: Math.round(ratio * 1000) / 1000,
    ratioMedian: Math.round(percentile(ratios, 50) * 1000) / 1000,
    ratioGoal: 0.3,
    roundTripP50Ms: Math.round(percentile(rtts, 50) * 1000) / 1000,
    roundTripP99Ms: Math.round(percentile(rtts, 99) * 1000) / 1000,
    roundTripGoalMs: 2,
    rawRoundTripP50Ms: Math.round(percentile(raw, 50) * 1000) / 1000,
    retransmissions: stats.retransmissions,
  };
};
