/**
 * The direct channel (DMP), sans-I/O: one side of an end-to-end encrypted conversation between two users
 * who completed an INVITE.
 *
 * Theory of operation. A `DmpChannel` is created when the INVITE completes, from both session
 * descriptions (./session.ts: each side's endpoint, channel token and session type), the INVITE's X25519
 * secret and its transcript (`dmpPingKdfTranscript`, src/wire/invite.ts). It never touches a socket, a
 * clock or a random source of its own: the driver calls `receive(now, bytes, from)`, `tick(now)` at
 * `nextDeadline()`, `send(now, message)` and `close(now)`, and pulls `drainOutgoing()` and
 * `drainEvents()`. Destinations are abstract (`DmpDestination`): an endpoint, or `'relay'` for datagrams
 * another layer carries along the DRP path; the channel works the same over either.
 *
 * 1. **Punching** (state `punching`). Both sides send DmpPing to the other's endpoint at once, carrying a
 *    fresh X25519 channel key, repeated at `punchFirstMs` × `punchBackoff` up to `punchIntervalMaxMs`;
 *    each ping and pong is MAC'd with the ping key (HKDF of the INVITE secret, salted with the INVITE
 *    transcript, label `dmpPingKey`; docs/protocol.md §5, §7.4). A DmpPing carrying the peer's key is
 *    answered by a DmpPong carrying ours. Whichever arrives first gives us the peer's key.
 * 2. **Keys** (state `established`). ikm = X25519(our channel key, the peer's); salt = SHA-256 of
 *    `dmpChannelKdfTranscript` (the INVITE transcript and both channel keys, requester's first); one
 *    ChaCha20-Poly1305 key per direction. The ephemeral private key and the X25519 output are zeroed as
 *    soon as the keys exist (forward secrecy: a later theft of every long-term key opens nothing
 *    recorded). The session descriptions' tokens and endpoints are bound too: they are inside the INVITE
 *    ciphertexts the transcript covers. Until the peer is known to hold the keys as well (a pong to one
 *    of our keyed pings, or any authenticated packet from it: `confirmed`) we keep sending keyed pings
 *    and hold back data.
 * 3. **Messages**. A message is cut into parts (./plaintext.ts); part 0 travels in MessageStart, the
 *    others in MessagePart. Every AEAD packet (data, retransmission, ack) takes the next counter of its
 *    direction, which is its nonce and its identity: the receiver refuses counters it has seen
 *    (./window.ts replay window) and acknowledges by counter (MessageAck: cumulative + 256-bit selective
 *    bitmap), never by content. The sender keeps at most `packetsInFlightMax` data packets
 *    unacknowledged and messages within `messagesInFlightMax` of the oldest unacknowledged one;
 *    retransmits a part after its timeout (RTO estimated from acks as RFC 6298 — each transmission has
 *    its own counter, so every sample is unambiguous — doubled per timeout up to `rtoMaxMs`) or as soon
 *    as `fastRetransmitPackets` later data packets are acknowledged; after `retransmissionsMax`
 *    timeouts of one part the channel gives up: every unacknowledged message `failed`, then
 *    `closed`. The receiver delivers messages in id order, each exactly once (ids below the next to
 *    deliver are duplicates, acknowledged and ignored). The sender reports `delivered` (a receipt) for a
 *    message once it and every earlier one are fully acknowledged.
 * 4. **Liveness**. Fresh proof of the peer (an authenticated AEAD packet, or a pong echoing one of our
 *    ping ids — a replayed ping proves nothing) resets the silence clock; after `keepAliveIntervalMs`
 *    without any we send a keep-alive DmpPing (no key), repeated every `keepAliveRetryMs` while the
 *    silence lasts, and after `peerSilentMs` we close (`peerSilent`).
 *    With no message either way for `idleTimeoutMs` the channel closes (`idle`).
 * 5. **Path**. Pongs to our pings and probes are how the path may move: a ping from an endpoint other than
 *    the current one makes us probe it, and a pong from the probed endpoint moves the path there (NAT
 *    rebinding, a symmetric NAT's port). The driver can switch to or from the relay with `switchPath`.
 * 6. **Relay fallback** (when the driver offers a relay: option `relay`). The channel falls back to the
 *    relay on its own — `relayFallbackMs` into an attempt on a direct path that has not confirmed the
 *    keys (punching failed: RFC 4787 symmetric pairs, an ISP that drops peer-to-peer UDP), or, once
 *    confirmed, `relaySilenceMs` without a fresh packet *from a direct endpoint* (the path died, or the
 *    peer moved to the relay), or when a part timed out `relayTimeoutsMax` times on the direct path (our
 *    direction is blocked) — and resends what is in flight there at once. While relayed it probes the
 *    last direct endpoint, first `directProbeFirstMs` after falling back, then at doubling intervals up to
 *    `directProbeMaxMs`; a pong from there moves the path back to direct (the probe opened our NAT, the
 *    peer's probes open its NAT). Each side decides its own path; both accept packets from either.
 *
 * Not done here: rekeying (a channel's keys live as long as the channel; 2^53 packets per direction),
 * a close packet (the wire format has none: the peer notices by silence), relaying itself (the driver's:
 * src/drp/relay.ts).
 *
 * Every dropped datagram produces a `rejected` event with a reason from `dmpRejectReasons` and is counted
 * in `rejects`; untrusted bytes never throw. Misuse by the driver (time going backwards, an oversized
 * or late `send`) throws.
 */
import type { Crypto } from '../crypto/crypto.js';
import type { Rng } from '../seams/rng.js';
import type { Endpoint } from '../seams/transport.js';
import {
  aeadTagBytes,
  type DmpPing,
  type DmpPong,
  decodeDatagram,
  decodeDmpData,
  dmpAad,
  dmpChannelKdfTranscript,
  dmpNonce,
  encodeDatagram,
  encodeDmpData,
  keyLabel,
  type MessageAck,
  type MessagePart,
  type MessageStart,
  macCoveredBytes,
  macPlaceholder,
  type Packet,
  PacketType,
  packetCounterMax,
  sealDatagram,
  x25519KeyBytes,
} from '../wire/index.js';
import {
  type DmpConfig,
  dmpConfig,
  messageSizeMaxBytes,
  messagesInFlightMax,
  selectiveAckCounters,
} from './config.js';
import {
  chunkOf,
  decodePartPlaintext,
  decodeStartPlaintext,
  encodePartPlaintext,
  encodeStartPlaintext,
  partCountOf,
} from './plaintext.js';
import type { SessionDescription } from './session.js';
import { ackCovers, ReceiveWindow } from './window.js';

export type DmpRole = 'requester' | 'responder';
/** Where a datagram goes to or came from: a UDP endpoint, or the relay along the DRP path. */
export type DmpDestination = Endpoint | 'relay';
export type DmpPath = { readonly kind: 'direct'; readonly endpoint: Endpoint } | { readonly kind: 'relay' };

export interface DmpOutgoing {
  readonly to: DmpDestination;
  readonly bytes: Uint8Array;
}

/** Why a received datagram was dropped (closed set). */
export const dmpRejectReasons = [
  /** Over `datagramSizeMaxBytes`. */
  'tooLarge',
  /** Does not decode (src/wire `decodeDatagram`). */
  'malformed',
  /** A valid packet of another family (DRP) handed to the channel. */
  'wrongType',
  /** `channelToken` is not this side's token. */
  'unknownToken',
  /** DmpPing/DmpPong whose HMAC does not verify under the ping key. */
  'badMac',
  /** AEAD packet whose tag does not verify under the receive key (tampered, forged, wrong key). */
  'badTag',
  /** A packet counter seen before or below the replay window; a ping id seen before. */
  'replay',
  /** A data packet or keep-alive before the channel keys exist. */
  'notEstablished',
  /** Anything after `close` or another end of the channel. */
  'closedSession',
  /** Authentic but out of place: a pong to no ping of ours, a second channel key, our own key reflected. */
  'unexpected',
  /** The peer's channel key gives an all-zero X25519 secret (a small-order point). */
  'badKey',
  /** A ping beyond the pong budget (`pongRatePerSec`). */
  'rateLimited',
  /** A message id beyond `messagesInFlightMax` of the next to deliver (not acknowledged; resent later). */
  'tooFarAhead',
  /** Authentic plaintext that breaks the message format or contradicts earlier parts. */
  'badPlaintext',
] as const;
export type DmpRejectReason = (typeof dmpRejectReasons)[number];

export type DmpCloseReason =
  /** `close()` was called. */
  | 'local'
  /** No channel key from the peer within `punchTimeoutMs`. */
  | 'punchTimeout'
  /** No fresh traffic from the peer for `peerSilentMs`. */
  | 'peerSilent'
  /** No message either way for `idleTimeoutMs`. */
  | 'idle'
  /** A part timed out `retransmissionsMax` times (each followed by a retransmission) unacknowledged. */
  | 'retransmissionsExhausted';

/**
 * Why the path moved: `driver` (`switchPath`), `probe` (a pong from a probed endpoint: NAT rebinding, or
 * direct UDP working again while relayed), or a relay fallback — `punch` (no confirmed keys on the direct
 * path within `relayFallbackMs`), `silence` (nothing fresh from a direct endpoint for `relaySilenceMs`),
 * `timeouts` (a part timed out `relayTimeoutsMax` times on the direct path).
 */
export type DmpPathReason = 'driver' | 'probe' | 'punch' | 'silence' | 'timeouts';

export type DmpEvent =
  | { readonly type: 'established'; readonly path: DmpPath }
  | { readonly type: 'pathChanged'; readonly path: DmpPath; readonly reason: DmpPathReason }
  /** A message from the peer, in order, exactly once. */
  | { readonly type: 'message'; readonly messageId: number; readonly bytes: Uint8Array }
  /** Receipt: the peer holds this message and every earlier one. */
  | { readonly type: 'delivered'; readonly messageId: number }
  /** The channel closed before the peer acknowledged this message. */
  | { readonly type: 'failed'; readonly messageId: number }
  | { readonly type: 'closed'; readonly reason: DmpCloseReason }
  | { readonly type: 'rejected'; readonly reason: DmpRejectReason; readonly packetType: number | null };

export type DmpSendErrorCode = 'messageTooLarge' | 'queueFull' | 'closed';

/** `send` refused the message: too large (`messageSizeMaxBytes`), queue full, or the channel is closed. */
export class DmpSendError extends Error {
  readonly code: DmpSendErrorCode;
  constructor(code: DmpSendErrorCode, message: string) {
    super(message);
    this.name = 'DmpSendError';
    this.code = code;
  }
}

export interface DmpChannelOptions {
  readonly role: DmpRole;
  /** Our own session description (its `channelToken` is what the peer puts in packets to us). */
  readonly local: SessionDescription;
  /** The peer's session description, already accepted (./session.ts `acceptSessionDescription`). */
  readonly remote: SessionDescription;
  /** X25519 of the two INVITE ephemerals (the ping key's ikm). Not kept: the ping key is derived at once. */
  readonly inviteSecret: Uint8Array;
  /** `dmpPingKdfTranscript(req, ack1, ack2, cfm)` of the INVITE. */
  readonly pingKdfTranscript: Uint8Array;
  readonly crypto: Crypto;
  readonly rng: Rng;
  readonly now: number;
  readonly config?: Partial<DmpConfig>;
  /**
   * The driver can carry datagrams addressed to `'relay'` (src/drp/relay.ts): the channel falls back to
   * it when the direct path fails, and starts on it when either session description asks for `relayed`.
   * Default false: the channel stays on direct paths unless `switchPath` says otherwise.
   */
  readonly relay?: boolean;
}

/** The ping key (DmpPing/DmpPong HMAC) of an INVITE: docs/protocol.md §7.4. */
export function deriveDmpPingKey(
  crypto: Crypto,
  inviteSecret: Uint8Array,
  pingKdfTranscript: Uint8Array,
): Uint8Array {
  return crypto.hkdf(inviteSecret, crypto.sha256(pingKdfTranscript), keyLabel.dmpPingKey, 32);
}

/** The two direction keys of a channel: docs/protocol.md §7.4. */
export function deriveDmpChannelKeys(
  crypto: Crypto,
  sharedSecret: Uint8Array,
  pingKdfTranscript: Uint8Array,
  requesterChannelKey: Uint8Array,
  responderChannelKey: Uint8Array,
): { readonly requesterToResponder: Uint8Array; readonly responderToRequester: Uint8Array } {
  const salt = crypto.sha256(
    dmpChannelKdfTranscript(pingKdfTranscript, requesterChannelKey, responderChannelKey),
  );
  return {
    requesterToResponder: crypto.hkdf(sharedSecret, salt, keyLabel.dmpKeyRequesterToResponder, 32),
    responderToRequester: crypto.hkdf(sharedSecret, salt, keyLabel.dmpKeyResponderToRequester, 32),
  };
}

// ---- states ----

interface Punching {
  readonly kind: 'punching';
  /** Our channel key's private half: zeroed when the keys are derived or the channel closes. */
  readonly channelPrivateKey: Uint8Array;
  /** Start of the current punching attempt (`punchTimeoutMs` runs from here). */
  sinceMs: number;
}
interface Established {
  readonly kind: 'established';
  readonly txKey: Uint8Array;
  readonly rxKey: Uint8Array;
  readonly peerChannelKey: Uint8Array;
  /** The peer is known to hold the keys too (data may flow). */
  confirmed: boolean;
}
interface Closed {
  readonly kind: 'closed';
  readonly reason: DmpCloseReason;
}
type ChannelState = Punching | Established | Closed;

/** A message accepted by `send`, until the peer acknowledged it and every earlier one. */
interface OutgoingMessage {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly partCount: number;
  /** Parts [0, nextUnsent) have been transmitted at least once. */
  nextUnsent: number;
  ackedParts: number;
}

/** A transmitted, unacknowledged part. */
interface PartInFlight {
  readonly message: OutgoingMessage;
  readonly index: number;
  /** Counter of its latest transmission (earlier ones are released). */
  counter: number;
  sentMs: number;
  /** Order of its latest transmission among all data transmissions (fast retransmit). */
  dataSeq: number;
  /** Timeouts so far: the retransmission timeout is the RTO × 2^timeouts. */
  timeouts: number;
  deadlineMs: number;
}

/** A message being reassembled on the receiving side. */
interface IncomingMessage {
  partCount: number | undefined;
  readonly chunks: (Uint8Array | undefined)[];
  received: number;
}

const utf8 = new TextEncoder();
const emptyBytes = new Uint8Array(0);
const tagPlaceholder = new Uint8Array(aeadTagBytes);
const ciphertextPlaceholder = new Uint8Array(aeadTagBytes + 1);

function sameDestination(a: DmpDestination, b: DmpDestination): boolean {
  if (a === 'relay' || b === 'relay') return a === b;
  return a.address === b.address && a.port === b.port;
}

function destinationOf(path: DmpPath): DmpDestination {
  return path.kind === 'relay' ? 'relay' : path.endpoint;
}

function pathOf(to: DmpDestination): DmpPath {
  return to === 'relay'
    ? { kind: 'relay' }
    : { kind: 'direct', endpoint: { address: to.address, port: to.port } };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class DmpChannel {
  readonly role: DmpRole;
  readonly config: DmpConfig;
  /** Our token: every packet the peer sends us carries it. */
  readonly localToken: number;
  /** The peer's token: every packet we send carries it. */
  readonly remoteToken: number;
  /** Our X25519 channel key (public), sent in keyed pings and pongs. */
  readonly channelKey: Uint8Array;

  private readonly crypto: Crypto;
  private readonly rng: Rng;
  private readonly pingKdfTranscript: Uint8Array;
  private readonly pingKey: Uint8Array;
  private state: ChannelState;
  private currentPath: DmpPath;
  private now: number;

  // path choice (relay fallback)
  private readonly relayAvailable: boolean;
  /** The endpoint direct probes go to: the last direct path, initially the session description's. */
  private directEndpoint: Endpoint;
  /** When the current path was adopted (fallback timers run from here). */
  private pathSinceMs: number;
  /** Last fresh packet that came from a direct endpoint (not through the relay). */
  private freshDirectMs = Number.NEGATIVE_INFINITY;
  private nextDirectProbeMs = Number.POSITIVE_INFINITY;
  private directProbeIntervalMs: number;

  // pings
  private nextPingMs: number;
  private punchIntervalMs: number;
  private lastPingSentMs: number;
  private readonly outstandingPings = new Map<
    number,
    { readonly sentMs: number; readonly to: DmpDestination }
  >();
  private readonly seenPingIds: number[] = [];
  private pongTokens: number;
  private pongRefillMs: number;

  // liveness
  private lastHeardMs: number;
  private lastActivityMs: number;

  // sending
  private txCounter = 0;
  private nextMessageId = 0;
  private readonly sendQueue: OutgoingMessage[] = [];
  private readonly inFlight = new Map<number, PartInFlight>();
  private dataSeq = 0;
  private largestAckedDataSeq = -1;
  private srttMs: number | null = null;
  private rttVarMs = 0;
  private rto: number;

  // receiving
  private readonly window: ReceiveWindow;
  private nextDeliver = 0;
  private readonly reassembly = new Map<number, IncomingMessage>();
  private acksPending = 0;
  private ackDeadlineMs: number | null = null;

  // output
  private outgoing: DmpOutgoing[] = [];
  private events: DmpEvent[] = [];

  /** Dropped datagrams by reason. */
  readonly rejects: Record<DmpRejectReason, number>;
  readonly stats = {
    datagramsIn: 0,
    datagramsOut: 0,
    /** Datagrams dropped because `outgoingDatagramsMax` were waiting for the driver. */
    outgoingShed: 0,
    /** `rejected` events not queued because `eventsQueuedMax` events were waiting (still counted). */
    rejectEventsDropped: 0,
    retransmissions: 0,
    messagesSent: 0,
    messagesReceived: 0,
    /** Moves from a direct path to the relay (any reason). */
    relayFallbacks: 0,
    /** Direct probes sent while relayed, and moves back to a direct path. */
    directProbes: 0,
    directReturns: 0,
  };

  constructor(options: DmpChannelOptions) {
    const { crypto, rng, now } = options;
    if (!Number.isFinite(now)) throw new RangeError(`DmpChannel: now must be a finite number, got ${now}`);
    if (options.inviteSecret.length !== x25519KeyBytes) {
      throw new RangeError(`DmpChannel: inviteSecret must be ${x25519KeyBytes} bytes`);
    }
    this.role = options.role;
    this.config = dmpConfig(options.config);
    this.crypto = crypto;
    this.rng = rng;
    this.now = now;
    this.localToken = options.local.channelToken;
    this.remoteToken = options.remote.channelToken;
    this.pingKdfTranscript = options.pingKdfTranscript.slice();
    this.pingKey = deriveDmpPingKey(crypto, options.inviteSecret, options.pingKdfTranscript);
    const channelPrivateKey = rng.bytes(x25519KeyBytes);
    this.channelKey = crypto.x25519PublicKey(channelPrivateKey);
    this.state = { kind: 'punching', channelPrivateKey, sinceMs: now };
    this.relayAvailable = options.relay === true;
    const relayed =
      options.remote.sessionType === 'relayed' ||
      (this.relayAvailable && options.local.sessionType === 'relayed');
    this.currentPath = relayed ? { kind: 'relay' } : pathOf(options.remote.endpoint);
    this.directEndpoint = { address: options.remote.endpoint.address, port: options.remote.endpoint.port };
    this.pathSinceMs = now;
    this.directProbeIntervalMs = this.config.directProbeFirstMs;
    if (relayed && this.relayAvailable) this.nextDirectProbeMs = now + this.directProbeIntervalMs;
    this.window = new ReceiveWindow(this.config.replayWindowPackets);
    this.rto = this.config.rtoInitialMs;
    this.punchIntervalMs = this.config.punchFirstMs;
    this.nextPingMs = now;
    this.lastPingSentMs = now;
    this.lastHeardMs = now;
    this.lastActivityMs = now;
    this.pongTokens = this.config.pongBurst;
    this.pongRefillMs = now;
    this.rejects = Object.fromEntries(dmpRejectReasons.map((r) => [r, 0])) as Record<DmpRejectReason, number>;
    this.sendPunchPing(now);
  }

  // ================================================================ driver interface

  /** `punching`, `established` or `closed`. */
  get stateKind(): ChannelState['kind'] {
    return this.state.kind;
  }

  /** Whether the peer is known to hold the channel keys (data flows). */
  get confirmed(): boolean {
    return this.state.kind === 'established' && this.state.confirmed;
  }

  get closeReason(): DmpCloseReason | null {
    return this.state.kind === 'closed' ? this.state.reason : null;
  }

  get path(): DmpPath {
    return this.currentPath;
  }

  /** Current retransmission timeout before backoff (ms). */
  get rtoMs(): number {
    return this.rto;
  }

  /** Messages accepted by `send` and not yet receipted. */
  get queuedMessageCount(): number {
    return this.sendQueue.length;
  }

  /** One datagram from the peer (or anyone). Never throws on its content. */
  receive(now: number, bytes: Uint8Array, from: DmpDestination): void {
    this.advanceTime(now);
    this.stats.datagramsIn++;
    const typeByte = bytes.length >= 2 ? bytes[1]! : null;
    if (this.state.kind === 'closed') {
      this.reject('closedSession', typeByte);
      return;
    }
    // Data packets (most of the traffic) are read in place; everything else, and any data packet in an
    // unusual encoding, goes through the generic decoder.
    let p = decodeDmpData(bytes) as Packet | null;
    if (p === null) {
      const r = decodeDatagram(bytes);
      if (!r.ok) {
        this.reject(r.code === 'tooLarge' ? 'tooLarge' : 'malformed', typeByte);
        return;
      }
      p = r.packet;
    }
    switch (p.type) {
      case PacketType.DmpPing:
      case PacketType.DmpPong: {
        if (p.channelToken !== this.localToken) {
          this.reject('unknownToken', p.type);
          return;
        }
        if (!this.crypto.hmacSha256Verify(this.pingKey, macCoveredBytes(bytes), p.mac)) {
          this.reject('badMac', p.type);
          return;
        }
        if (p.type === PacketType.DmpPing) this.onPing(now, p, from);
        else this.onPong(now, p, from);
        break;
      }
      case PacketType.MessageStart:
      case PacketType.MessagePart:
        if (p.channelToken !== this.localToken) {
          this.reject('unknownToken', p.type);
          return;
        }
        this.onData(now, p, from);
        break;
      case PacketType.MessageAck:
        if (p.channelToken !== this.localToken) {
          this.reject('unknownToken', p.type);
          return;
        }
        this.onAck(now, p, from);
        break;
      default:
        this.reject('wrongType', p.type);
        return;
    }
    this.pump(now);
  }

  /** Runs whatever is due at `now` (call at `nextDeadline()`; calling more often is harmless). */
  tick(now: number): void {
    this.advanceTime(now);
    const s = this.state;
    if (s.kind === 'closed') return;
    const c = this.config;
    if (s.kind === 'punching') {
      if (now >= s.sinceMs + c.punchTimeoutMs) {
        this.closeWith('punchTimeout');
        return;
      }
    } else {
      if (now >= this.lastHeardMs + c.peerSilentMs) {
        this.closeWith('peerSilent');
        return;
      }
      if (this.isQuiet() && now >= this.lastActivityMs + c.idleTimeoutMs) {
        this.closeWith('idle');
        return;
      }
    }
    this.choosePath(now);
    if (this.punchingPings() && now >= this.nextPingMs) this.sendPunchPing(now);
    if (this.keepAliveDueMs() !== null && now >= this.keepAliveDueMs()!) {
      this.sendPing(now, destinationOf(this.currentPath), false);
    }
    if (this.ackDeadlineMs !== null && now >= this.ackDeadlineMs) this.sendAck();
    const due: PartInFlight[] = [];
    for (const part of this.inFlight.values()) if (now >= part.deadlineMs) due.push(part);
    for (const part of due) {
      if (this.state.kind !== 'established') return;
      part.timeouts++;
      if (
        this.relayAvailable &&
        this.currentPath.kind === 'direct' &&
        part.timeouts >= this.config.relayTimeoutsMax
      ) {
        // Our direction of the direct path is blocked: the fallback resends everything in flight.
        this.fallBackToRelay(now, 'timeouts');
        break;
      }
      this.retransmit(now, part);
    }
    this.pump(now);
  }

  /** When `tick` must run next (ms), or null once the channel is closed. */
  nextDeadline(): number | null {
    const s = this.state;
    if (s.kind === 'closed') return null;
    const c = this.config;
    let t: number;
    if (s.kind === 'punching') t = s.sinceMs + c.punchTimeoutMs;
    else {
      t = this.lastHeardMs + c.peerSilentMs;
      if (this.isQuiet()) t = Math.min(t, this.lastActivityMs + c.idleTimeoutMs);
    }
    if (this.punchingPings()) t = Math.min(t, this.nextPingMs);
    t = Math.min(t, this.pathDecisionDueMs());
    const keepAlive = this.keepAliveDueMs();
    if (keepAlive !== null) t = Math.min(t, keepAlive);
    if (this.ackDeadlineMs !== null) t = Math.min(t, this.ackDeadlineMs);
    for (const part of this.inFlight.values()) t = Math.min(t, part.deadlineMs);
    return Math.max(t, this.now);
  }

  /**
   * Queues a message (a string is sent as UTF-8) and returns its id, which `delivered` or `failed` will
   * name. Throws `DmpSendError`: `messageTooLarge` (over `messageSizeMaxBytes`), `queueFull`
   * (`sendQueueMessagesMax` unacknowledged), `closed`.
   */
  send(now: number, message: string | Uint8Array): number {
    this.advanceTime(now);
    if (this.state.kind === 'closed')
      throw new DmpSendError('closed', 'DmpChannel.send: the channel is closed');
    const bytes = typeof message === 'string' ? utf8.encode(message) : message.slice();
    if (bytes.length > messageSizeMaxBytes) {
      throw new DmpSendError(
        'messageTooLarge',
        `DmpChannel.send: ${bytes.length} bytes exceeds messageSizeMaxBytes=${messageSizeMaxBytes}`,
      );
    }
    if (this.sendQueue.length >= this.config.sendQueueMessagesMax) {
      throw new DmpSendError(
        'queueFull',
        `DmpChannel.send: ${this.sendQueue.length} messages unacknowledged (sendQueueMessagesMax)`,
      );
    }
    const id = this.nextMessageId++;
    this.sendQueue.push({ id, bytes, partCount: partCountOf(bytes.length), nextUnsent: 0, ackedParts: 0 });
    this.stats.messagesSent++;
    this.lastActivityMs = now;
    this.pump(now);
    return id;
  }

  /** Closes the channel: unacknowledged messages `failed`, then `closed {reason: 'local'}`. Idempotent. */
  close(now: number): void {
    this.advanceTime(now);
    this.closeWith('local');
  }

  /**
   * Moves the channel to another path (e.g. to the relay when punching cannot work, or back to an
   * endpoint). Before the keys exist, punching restarts on the new path with a fresh `punchTimeoutMs`.
   */
  switchPath(now: number, to: DmpDestination): void {
    this.advanceTime(now);
    if (this.state.kind === 'closed' || sameDestination(to, destinationOf(this.currentPath))) return;
    this.movePath(now, to, 'driver');
  }

  /** Datagrams to send, oldest first; the queue is emptied. */
  drainOutgoing(): DmpOutgoing[] {
    const out = this.outgoing;
    this.outgoing = [];
    return out;
  }

  /** Events since the last drain, in order; the queue is emptied. */
  drainEvents(): DmpEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  // ================================================================ receive path

  private onPing(now: number, p: DmpPing, from: DmpDestination): void {
    if (this.seenPingIds.includes(p.pingId)) {
      this.reject('replay', p.type);
      return;
    }
    if (!this.takePongToken(now)) {
      this.reject('rateLimited', p.type);
      return;
    }
    let key: Uint8Array | null = null;
    if (p.channelKey !== null) {
      if (!this.acceptPeerKey(now, p.channelKey, p.type, false)) return;
      key = this.channelKey;
    } else if (this.state.kind !== 'established') {
      this.reject('notEstablished', p.type);
      return;
    }
    this.seenPingIds.push(p.pingId);
    if (this.seenPingIds.length > this.config.seenPingIdsMax) this.seenPingIds.shift();
    const pong: DmpPong = {
      type: PacketType.DmpPong,
      channelToken: this.remoteToken,
      pingId: p.pingId,
      channelKey: key,
      mac: macPlaceholder,
    };
    this.push(
      from,
      sealDatagram(pong, (covered) => this.crypto.hmacSha256(this.pingKey, covered)),
    );
    this.maybeProbe(now, from);
  }

  private onPong(now: number, p: DmpPong, from: DmpDestination): void {
    const ping = this.outstandingPings.get(p.pingId);
    if (ping === undefined) {
      this.reject('unexpected', p.type);
      return;
    }
    if (p.channelKey !== null) {
      if (!this.acceptPeerKey(now, p.channelKey, p.type, true)) return;
    } else if (this.state.kind !== 'established') {
      // We only send keyed pings before the keys exist; an unkeyed pong answers none of them.
      this.reject('unexpected', p.type);
      return;
    }
    this.outstandingPings.delete(p.pingId);
    this.rttSample(now - ping.sentMs);
    this.heardFresh(now, from);
    if (!sameDestination(from, ping.to)) this.maybeProbe(now, from);
    else if (from !== 'relay' && !sameDestination(from, destinationOf(this.currentPath))) {
      // A pong from a probed endpoint moves the path there. One through the relay moves nothing: only a
      // fallback chooses the relay (a late pong to a ping sent before a return to direct would flap).
      if (this.currentPath.kind === 'relay') this.stats.directReturns++;
      this.setPath(now, from, 'probe');
    }
  }

  /**
   * A channel key from the peer: derives the keys the first time, checks it is the same key after.
   * `fromPong`: a pong proves the peer derived already (it answers keyed pings only once it holds
   * the keys), so the channel is confirmed at once.
   */
  private acceptPeerKey(now: number, peerKey: Uint8Array, packetType: number, fromPong: boolean): boolean {
    if (bytesEqual(peerKey, this.channelKey)) {
      this.reject('unexpected', packetType);
      return false;
    }
    const s = this.state;
    if (s.kind === 'established') {
      if (!bytesEqual(peerKey, s.peerChannelKey)) {
        this.reject('unexpected', packetType);
        return false;
      }
      return true;
    }
    if (s.kind !== 'punching') return false;
    const shared = this.crypto.x25519(s.channelPrivateKey, peerKey);
    if (shared === null) {
      this.reject('badKey', packetType);
      return false;
    }
    const [requesterKey, responderKey] =
      this.role === 'requester' ? [this.channelKey, peerKey] : [peerKey, this.channelKey];
    const keys = deriveDmpChannelKeys(
      this.crypto,
      shared,
      this.pingKdfTranscript,
      requesterKey,
      responderKey,
    );
    // Forward secrecy: nothing that could recompute the keys outlives this line.
    s.channelPrivateKey.fill(0);
    shared.fill(0);
    this.state = {
      kind: 'established',
      txKey: this.role === 'requester' ? keys.requesterToResponder : keys.responderToRequester,
      rxKey: this.role === 'requester' ? keys.responderToRequester : keys.requesterToResponder,
      peerChannelKey: peerKey.slice(),
      confirmed: fromPong,
    };
    this.lastHeardMs = now;
    this.emit({ type: 'established', path: this.currentPath });
    return true;
  }

  private onData(now: number, p: MessageStart | MessagePart, from: DmpDestination): void {
    const s = this.state;
    if (s.kind !== 'established') {
      this.reject('notEstablished', p.type);
      return;
    }
    if (this.window.check(p.packetCounter) !== 'new') {
      this.reject('replay', p.type);
      return;
    }
    const plaintext = this.crypto.aeadOpen(s.rxKey, dmpNonce(p.packetCounter), p.ciphertext, dmpAad(p));
    if (plaintext === null) {
      this.reject('badTag', p.type);
      return;
    }
    const isStart = p.type === PacketType.MessageStart;
    const start = isStart ? decodeStartPlaintext(plaintext) : null;
    const part = isStart ? null : decodePartPlaintext(plaintext);
    const fields = start ?? part;
    if (fields === null || fields.ackFloor > p.packetCounter) {
      this.reject('badPlaintext', p.type);
      return;
    }
    const id = fields.messageId;
    const index = start !== null ? 0 : part!.partIndex;
    if (id >= this.nextDeliver + messagesInFlightMax) {
      this.reject('tooFarAhead', p.type);
      return;
    }
    let m: IncomingMessage | undefined;
    if (id >= this.nextDeliver) {
      m = this.reassembly.get(id);
      const partCount = start !== null ? start.partCount : m?.partCount;
      if (m !== undefined && start !== null && m.partCount !== undefined && m.partCount !== start.partCount) {
        this.reject('badPlaintext', p.type);
        return;
      }
      if (partCount !== undefined) {
        if (index >= partCount) {
          this.reject('badPlaintext', p.type);
          return;
        }
        if (m !== undefined && m.chunks.length > partCount) {
          this.reject('badPlaintext', p.type);
          return;
        }
      }
    }
    // Accepted: from here on the counter is acknowledged.
    const inOrder = p.packetCounter === this.window.highest + 1;
    this.window.mark(p.packetCounter);
    this.window.release(fields.ackFloor);
    this.heardFresh(now, from);
    this.maybeProbe(now, from);
    let duplicate = id < this.nextDeliver;
    if (!duplicate) {
      if (m === undefined) {
        m = { partCount: undefined, chunks: [], received: 0 };
        this.reassembly.set(id, m);
      }
      if (start !== null) m.partCount = start.partCount;
      if (m.chunks[index] === undefined) {
        m.chunks[index] = fields.chunk;
        m.received++;
      } else duplicate = true;
      this.deliverReady(now);
    }
    this.acksPending++;
    if (this.acksPending >= 2 || !inOrder || duplicate) this.sendAck();
    else if (this.ackDeadlineMs === null) this.ackDeadlineMs = now + this.config.ackDelayMs;
  }

  /** Hands every complete message at the head of the order to the application. */
  private deliverReady(now: number): void {
    for (;;) {
      const m = this.reassembly.get(this.nextDeliver);
      if (m === undefined || m.partCount === undefined || m.received < m.partCount) return;
      let length = 0;
      for (let i = 0; i < m.partCount; i++) length += m.chunks[i]!.length;
      const bytes = new Uint8Array(length);
      let at = 0;
      for (let i = 0; i < m.partCount; i++) {
        bytes.set(m.chunks[i]!, at);
        at += m.chunks[i]!.length;
      }
      this.reassembly.delete(this.nextDeliver);
      this.emit({ type: 'message', messageId: this.nextDeliver, bytes });
      this.nextDeliver++;
      this.stats.messagesReceived++;
      this.lastActivityMs = now;
    }
  }

  private onAck(now: number, p: MessageAck, from: DmpDestination): void {
    const s = this.state;
    if (s.kind !== 'established') {
      this.reject('notEstablished', p.type);
      return;
    }
    if (this.window.check(p.packetCounter) !== 'new') {
      this.reject('replay', p.type);
      return;
    }
    if (this.crypto.aeadOpen(s.rxKey, dmpNonce(p.packetCounter), p.tag, dmpAad(p)) === null) {
      this.reject('badTag', p.type);
      return;
    }
    this.window.mark(p.packetCounter);
    this.heardFresh(now, from);
    this.maybeProbe(now, from);
    let newest: PartInFlight | undefined;
    const acked: PartInFlight[] = [];
    for (const part of this.inFlight.values()) {
      if (ackCovers(p.cumulativeAck, p.selectiveAck, part.counter)) acked.push(part);
    }
    for (const part of acked) {
      this.inFlight.delete(part.counter);
      part.message.ackedParts++;
      if (part.dataSeq > this.largestAckedDataSeq) this.largestAckedDataSeq = part.dataSeq;
      if (newest === undefined || part.counter > newest.counter) newest = part;
    }
    if (newest !== undefined) this.rttSample(now - newest.sentMs);
    // Fast retransmit: parts sent before others that were acknowledged since.
    const lost: PartInFlight[] = [];
    for (const part of this.inFlight.values()) {
      if (part.dataSeq + this.config.fastRetransmitPackets <= this.largestAckedDataSeq) lost.push(part);
    }
    for (const part of lost) {
      if (this.state.kind !== 'established') return;
      this.retransmit(now, part);
    }
    // Receipts, in message order.
    for (;;) {
      const head = this.sendQueue[0];
      if (head === undefined || head.nextUnsent < head.partCount || head.ackedParts < head.partCount) break;
      this.sendQueue.shift();
      this.lastActivityMs = now;
      this.emit({ type: 'delivered', messageId: head.id });
    }
  }

  // ================================================================ send path

  /** Transmits new parts while the windows allow. */
  private pump(now: number): void {
    const s = this.state;
    if (s.kind !== 'established' || !s.confirmed) return;
    const oldest = this.sendQueue[0]?.id ?? this.nextMessageId;
    for (const m of this.sendQueue) {
      if (m.id >= oldest + messagesInFlightMax) return;
      while (m.nextUnsent < m.partCount) {
        if (this.inFlight.size >= this.config.packetsInFlightMax) return;
        // Keep every counter we wait for within one MessageAck's reach of the oldest.
        if (this.inFlight.size > 0 && this.txCounter - this.ackFloor() >= selectiveAckCounters - 1) return;
        const part: PartInFlight = {
          message: m,
          index: m.nextUnsent++,
          counter: -1,
          sentMs: now,
          dataSeq: -1,
          timeouts: 0,
          deadlineMs: now,
        };
        this.transmit(now, part);
      }
    }
  }

  /**
   * Resends a part. Only retransmissions after a timeout count towards `retransmissionsMax`: a fast
   * retransmission needs later packets acknowledged, so the path is alive and the count of those is
   * bounded by the traffic itself.
   */
  private retransmit(now: number, part: PartInFlight): void {
    if (part.timeouts > this.config.retransmissionsMax) {
      this.closeWith('retransmissionsExhausted');
      return;
    }
    this.stats.retransmissions++;
    this.transmit(now, part);
  }

  /** Sends (or resends) a part under a fresh counter. */
  private transmit(now: number, part: PartInFlight): void {
    const s = this.state as Established;
    const counter = this.takeCounter();
    if (part.counter >= 0) this.inFlight.delete(part.counter);
    part.counter = counter;
    part.sentMs = now;
    part.dataSeq = this.dataSeq++;
    part.deadlineMs = now + Math.min(this.config.rtoMaxMs, this.rto * 2 ** part.timeouts);
    this.inFlight.set(counter, part);
    const m = part.message;
    const ackFloor = this.ackFloor();
    const chunk = chunkOf(m.bytes, part.index);
    const plaintext =
      part.index === 0
        ? encodeStartPlaintext({ ackFloor, messageId: m.id, partCount: m.partCount, chunk })
        : encodePartPlaintext({ ackFloor, messageId: m.id, partIndex: part.index, chunk });
    const type = part.index === 0 ? PacketType.MessageStart : PacketType.MessagePart;
    const aad = dmpAad({
      type,
      channelToken: this.remoteToken,
      packetCounter: counter,
      ciphertext: ciphertextPlaceholder,
    });
    const ciphertext = this.crypto.aeadSeal(s.txKey, dmpNonce(counter), plaintext, aad);
    this.push(destinationOf(this.currentPath), encodeDmpData(type, this.remoteToken, counter, ciphertext));
  }

  private sendAck(): void {
    this.acksPending = 0;
    this.ackDeadlineMs = null;
    const s = this.state;
    if (s.kind !== 'established') return;
    const counter = this.takeCounter();
    const { cumulativeAck, selectiveAck } = this.window.ackFields();
    const header = {
      type: PacketType.MessageAck,
      channelToken: this.remoteToken,
      packetCounter: counter,
      cumulativeAck,
      selectiveAck,
    } as const;
    const tag = this.crypto.aeadSeal(
      s.txKey,
      dmpNonce(counter),
      emptyBytes,
      dmpAad({ ...header, tag: tagPlaceholder }),
    );
    this.push(destinationOf(this.currentPath), encodeDatagram({ ...header, tag }));
  }

  private sendPunchPing(now: number): void {
    this.sendPing(now, destinationOf(this.currentPath), true);
    this.nextPingMs = now + this.punchIntervalMs;
    this.punchIntervalMs = Math.min(
      this.config.punchIntervalMaxMs,
      Math.ceil(this.punchIntervalMs * this.config.punchBackoff),
    );
  }

  private sendPing(now: number, to: DmpDestination, withKey: boolean): void {
    let pingId = this.rng.uint32();
    while (this.outstandingPings.has(pingId)) pingId = this.rng.uint32();
    if (this.outstandingPings.size >= this.config.pingsOutstandingMax) {
      const oldest = this.outstandingPings.keys().next();
      if (oldest.done !== true) this.outstandingPings.delete(oldest.value);
    }
    this.outstandingPings.set(pingId, { sentMs: now, to });
    const ping: DmpPing = {
      type: PacketType.DmpPing,
      channelToken: this.remoteToken,
      pingId,
      channelKey: withKey ? this.channelKey : null,
      mac: macPlaceholder,
    };
    this.lastPingSentMs = now;
    this.push(
      to,
      sealDatagram(ping, (covered) => this.crypto.hmacSha256(this.pingKey, covered)),
    );
  }

  // ================================================================ path choice

  /** Adopts a path (no packet sent): the event, the timers that run from it. */
  private setPath(now: number, to: DmpDestination, reason: DmpPathReason): void {
    this.currentPath = pathOf(to);
    this.pathSinceMs = now;
    if (to !== 'relay') this.directEndpoint = { address: to.address, port: to.port };
    this.emit({ type: 'pathChanged', path: this.currentPath, reason });
  }

  /** Moves to another path and speaks there at once: punching restarts, or a ping announces us. */
  private movePath(now: number, to: DmpDestination, reason: DmpPathReason): void {
    this.setPath(now, to, reason);
    if (this.state.kind === 'punching') {
      this.state.sinceMs = now;
      this.punchIntervalMs = this.config.punchFirstMs;
      this.sendPunchPing(now);
    } else if (this.state.kind === 'established') {
      this.sendPing(now, to, !this.state.confirmed);
    }
  }

  /** The direct path failed (`reason`): the relay carries the channel from now on, until a probe returns. */
  private fallBackToRelay(now: number, reason: DmpPathReason): void {
    this.stats.relayFallbacks++;
    this.movePath(now, 'relay', reason);
    this.nextDirectProbeMs = now + this.directProbeIntervalMs;
    this.directProbeIntervalMs = Math.min(this.config.directProbeMaxMs, this.directProbeIntervalMs * 2);
    // What is in flight was sent on the failed path: resend it now rather than at its timeout.
    const parts = [...this.inFlight.values()];
    for (const part of parts) {
      if (this.state.kind !== 'established') return;
      this.stats.retransmissions++;
      this.transmit(now, part);
    }
  }

  /** When `choosePath` has something to decide next (ms), or Infinity. */
  private pathDecisionDueMs(): number {
    if (!this.relayAvailable || this.state.kind === 'closed') return Number.POSITIVE_INFINITY;
    if (this.currentPath.kind === 'relay') return this.nextDirectProbeMs;
    if (!this.confirmed) return this.pathSinceMs + this.config.relayFallbackMs;
    return Math.max(this.freshDirectMs, this.pathSinceMs) + this.config.relaySilenceMs;
  }

  /** Relay fallback and direct probes (module comment, 6). */
  private choosePath(now: number): void {
    if (now < this.pathDecisionDueMs()) return;
    if (this.currentPath.kind === 'direct') {
      this.fallBackToRelay(now, this.confirmed ? 'silence' : 'punch');
      return;
    }
    this.stats.directProbes++;
    this.sendPing(now, this.directEndpoint, this.punchingPings());
    this.nextDirectProbeMs = now + this.directProbeIntervalMs;
    this.directProbeIntervalMs = Math.min(this.config.directProbeMaxMs, this.directProbeIntervalMs * 2);
  }

  // ================================================================ helpers

  /**
   * The peer showed up at an endpoint other than the path's (a NAT rebinding, a symmetric NAT's port, or
   * direct UDP starting to work while we use the relay). Nothing received proves that endpoint reachable
   * — a ping may be a replay, and even a fresh packet's source address can be forged on the way — so we
   * only probe it; the probe's pong, from there, moves the path. At most one probe per endpoint per RTO.
   */
  private maybeProbe(now: number, from: DmpDestination): void {
    if (from === 'relay' || sameDestination(from, destinationOf(this.currentPath))) return;
    for (const ping of this.outstandingPings.values()) {
      if (sameDestination(ping.to, from) && now - ping.sentMs < this.rto) return;
    }
    this.sendPing(now, from, this.punchingPings());
  }

  /** Smallest counter we still want acknowledged (the next counter when nothing is in flight). */
  private ackFloor(): number {
    let floor = this.txCounter;
    for (const c of this.inFlight.keys()) if (c < floor) floor = c;
    return floor;
  }

  private takeCounter(): number {
    if (this.txCounter >= packetCounterMax) {
      throw new RangeError(
        'DmpChannel: packet counters exhausted (2^53 packets; rekeying is not implemented)',
      );
    }
    return this.txCounter++;
  }

  /** Keyed pings go out while the keys are missing or the peer has not confirmed them. */
  private punchingPings(): boolean {
    const s = this.state;
    return s.kind === 'punching' || (s.kind === 'established' && !s.confirmed);
  }

  /** When the next keep-alive ping is due: `keepAliveIntervalMs` into a silence, then every `keepAliveRetryMs`. */
  private keepAliveDueMs(): number | null {
    const s = this.state;
    if (s.kind !== 'established' || !s.confirmed) return null;
    const first = this.lastHeardMs + this.config.keepAliveIntervalMs;
    return this.lastPingSentMs < first ? first : this.lastPingSentMs + this.config.keepAliveRetryMs;
  }

  /** Nothing to send, nothing in flight, nothing half received: the channel may idle out. */
  private isQuiet(): boolean {
    return this.sendQueue.length === 0 && this.inFlight.size === 0 && this.reassembly.size === 0;
  }

  /** Fresh proof of the peer (an authenticated AEAD packet, or a pong to our ping). */
  private heardFresh(now: number, from: DmpDestination): void {
    this.lastHeardMs = now;
    if (from !== 'relay') this.freshDirectMs = now;
    const s = this.state;
    if (s.kind === 'established' && !s.confirmed) s.confirmed = true;
  }

  private rttSample(sampleMs: number): void {
    const r = Math.max(0, sampleMs);
    if (this.srttMs === null) {
      this.srttMs = r;
      this.rttVarMs = r / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - r);
      this.srttMs = 0.875 * this.srttMs + 0.125 * r;
    }
    const c = this.config;
    this.rto = Math.min(
      c.rtoMaxMs,
      Math.max(c.rtoMinMs, Math.ceil(this.srttMs + Math.max(1, 4 * this.rttVarMs))),
    );
  }

  private takePongToken(now: number): boolean {
    if (now > this.pongRefillMs) {
      const c = this.config;
      this.pongTokens = Math.min(
        c.pongBurst,
        this.pongTokens + ((now - this.pongRefillMs) * c.pongRatePerSec) / 1000,
      );
      this.pongRefillMs = now;
    }
    if (this.pongTokens < 1) return false;
    this.pongTokens--;
    return true;
  }

  private closeWith(reason: DmpCloseReason): void {
    const s = this.state;
    if (s.kind === 'closed') return;
    if (s.kind === 'punching') s.channelPrivateKey.fill(0);
    else {
      s.txKey.fill(0);
      s.rxKey.fill(0);
    }
    this.pingKey.fill(0);
    this.state = { kind: 'closed', reason };
    for (const m of this.sendQueue) this.emit({ type: 'failed', messageId: m.id });
    this.sendQueue.length = 0;
    this.inFlight.clear();
    this.reassembly.clear();
    this.outstandingPings.clear();
    this.acksPending = 0;
    this.ackDeadlineMs = null;
    this.emit({ type: 'closed', reason });
  }

  private advanceTime(now: number): void {
    if (!Number.isFinite(now) || now < this.now) {
      throw new RangeError(`DmpChannel: now=${now} is before the last call's ${this.now}`);
    }
    this.now = now;
  }

  private push(to: DmpDestination, bytes: Uint8Array): void {
    if (this.outgoing.length >= this.config.outgoingDatagramsMax) {
      this.stats.outgoingShed++;
      return;
    }
    this.stats.datagramsOut++;
    this.outgoing.push({ to, bytes });
  }

  private emit(e: DmpEvent): void {
    if (this.events.length >= this.config.eventsQueuedMax) {
      throw new RangeError(
        `DmpChannel: ${this.events.length} events undrained (eventsQueuedMax): the driver must drainEvents()`,
      );
    }
    this.events.push(e);
  }

  private reject(reason: DmpRejectReason, packetType: number | null): void {
    this.rejects[reason]++;
    if (this.events.length >= this.config.eventsQueuedMax) {
      this.stats.rejectEventsDropped++;
      return;
    }
    this.events.push({ type: 'rejected', reason, packetType });
  }
}
