/**
 * The messenger host, sans-I/O: one user's end of every conversation — contacts, invitation tokens, the
 * outbox, and the direct channels (./channel.ts) to the contacts it talks to.
 *
 * Theory of operation. A `MessengerHost` belongs to one user on one device: it holds the device key and
 * its certificate (src/id), the user's `Contacts` (users added in person: identity + the regID to
 * INVITE) and `InvitationTokens`, and the regID of the DRP registration it speaks through. It never
 * touches a socket, a clock, a timer or a random source of its own: the driver (./attach.ts, fed by
 * sim/drp/node.ts or src/net/node.ts) calls it with `now` and the engine's INVITE events, runs its
 * commands against the DRP engine, and drains its datagrams and events.
 *
 * - **Sending.** `send(now, contact, text)` wraps the text in an application payload carrying a fresh
 *   random 16-byte *message id* (`encodeHostPayload`) and puts it in the **outbox** (at most
 *   `outboxMessagesMax`, each with a TTL). If a channel to the contact is open the message goes into it
 *   once the channel is confirmed (both sides hold its keys; at most `channelMessagesMax` per channel at
 *   once; the rest wait in order). Otherwise the host asks
 *   the driver to INVITE the contact (command `invite`, with a signed session description naming a fresh
 *   channel token) and, when the INVITE fails, asks again after a backoff (`inviteRetryFirstMs` ×
 *   `inviteRetryBackoff` up to `inviteRetryMaxMs`) for as long as messages wait.
 * - **Receipts.** A message leaves the outbox when its channel reports it `delivered` (the peer's channel
 *   acknowledged it and every earlier one): event `delivered`. When a channel closes, the messages it did
 *   not get acknowledged go back to the outbox, in order, and travel again over the next channel. A
 *   message whose TTL passes while it waits in the outbox — or in a channel that is still punching, which
 *   holds nothing — fails (event `failed`, reason `ttl`, a strong pain carrying the contact's route and
 *   channel history); a message inside a confirmed channel cannot be called back (the peer may hold it
 *   already) and is left to the channel: acknowledged, or back in the outbox when the channel gives up.
 *   With the relay fallback a channel gives up when the peer has been silent on both paths for
 *   `peerSilentMs` (15 s), so that is how late a TTL failure comes; only a peer that keeps answering
 *   pings but acknowledges nothing can hold it for the retransmission span (about 80 s).
 * - **Paths.** A channel starts on the direct path (hole punching) and falls back to the relay on its own
 *   when the host's driver offers one (`relayAvailable`, set by ./attach.ts; see ./channel.ts). Its
 *   datagrams for the relay leave as `HostOutgoing` naming the contact's regID, which the driver routes
 *   them to. The application learns the path of each contact's channel from `path` events (and each
 *   message's path from its `message` event).
 * - **History.** Per contact the host keeps the last `historyEntriesMax` lines of what happened on the
 *   way to it (INVITEs with their transaction ids, channels opened, paths taken and why, closes and
 *   why): `historyOf(contact)`, attached to the strong pain of a TTL failure together with the INVITE
 *   transaction ids (`routeOf(contact)`) whose hop records are its route.
 * - **Stopping the app.** `suspend(now)`: the OS stops the app (a phone at night). Channels and INVITEs
 *   in flight die without a word; what an app would have stored — contacts, invitation tokens, the
 *   outbox (messages inside channels go back to it), the delivered ids — stays, and the host carries on
 *   when its driver runs it again (on a new engine, with the same registration key).
 * - **Exactly once.** Resending after a lost receipt or over a new channel can bring a message to the
 *   receiver twice; the receiver drops a message id it has already delivered (a bounded memory of the
 *   last `deliveredIdsMax` ids), so the application sees each message once.
 * - **INVITEs, callee side.** `onInvite` runs before the caller's session description is known (it
 *   arrives with ACK2), so it only pre-checks: the requester's regID is a contact's, or it offers an
 *   invitation token this user issued (`InvitationTokens.check`). Anything else gets no answer (event
 *   `inviteIgnored`). When ACK2 arrives (`onInviteReceived`) the full `acceptSessionDescription` runs;
 *   a refused description opens no channel (event `sessionRefused` with the typed reason). A first
 *   contact admitted by an invitation token is remembered by regID with its user id and device key
 *   pinned, so that later INVITEs between the two work without a new token.
 * - **INVITEs, caller side.** `onInviteCompleted` checks the callee's description the same way and that
 *   it names the contact invited (`wrongUser` otherwise); then the channel opens as `requester`.
 * - **Demultiplexing.** Every DMP datagram (PacketType 50..54) starts its body with the receiver's channel
 *   token (`peekChannelToken`); `receive` hands it to the channel with that token, or returns false.
 *
 * Bounds (`MessengerHostConfig`): channels (open, or promised to an INVITE in progress) `channelsMax`,
 * per contact `channelsPerContactMax` (crossing INVITEs can open a second; the oldest closes beyond it),
 * outbox `outboxMessagesMax`, answered INVITEs awaiting ACK2 `answersPendingMax` for `answerTimeoutMs`,
 * remembered message ids `deliveredIdsMax`, queued datagrams `outgoingDatagramsMax` (more are shed and
 * counted), commands `commandsQueuedMax` and events `eventsQueuedMax` (exceeding these two means the
 * driver does not drain: an error naming the bound).
 *
 * Not here: making a first contact's identity permanent, writing the stored state to disk; order across
 * two channels open at once (crossing INVITEs): each message goes into the newest confirmed channel, and
 * one given back by the other after it closes may overtake nothing but arrive after later ones.
 */
import { Buffer } from 'node:buffer';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Crypto, Ed25519PrivateKey } from '../crypto/crypto.js';
import type { InviteKeys, InviteRequestInfo } from '../drp/types.js';
import type { UserIdentity } from '../id/identity.js';
import type { Rng } from '../seams/rng.js';
import type { Endpoint } from '../seams/transport.js';
import { AttentionLevel } from '../vision/attention.js';
import { nullVision, type VisionEmitter } from '../vision/channel.js';
import type { Attributes } from '../vision/record.js';
import { contactInvitationTokenBytes, PacketType, protocolVersion, regIdBytes } from '../wire/constants.js';
import {
  DmpChannel,
  type DmpCloseReason,
  type DmpDestination,
  type DmpPath,
  type DmpPathReason,
  type DmpRejectReason,
  dmpRejectReasons,
} from './channel.js';
import { type DmpConfig, dmpConfigDefault, messageSizeMaxBytes } from './config.js';
import {
  acceptSessionDescription,
  Contacts,
  contactsMax,
  encodeSessionDescription,
  InvitationTokens,
  type SessionContext,
  type SessionDescription,
  type SessionRefusalCode,
  type SignedSessionDescription,
  verifySessionDescription,
} from './session.js';

export const visionDmpModule = 'dmp';

// ---- the application payload inside a channel message ----

export const hostPayloadVersion = 1;
/** Bytes of an application message id (random: unique across channels, restarts and devices). */
export const hostMessageIdBytes = 16;
/** msgpack overhead around the body: fixarray (1), version (1), bin8 header + id (2 + 16), bin32 header (5). */
export const hostPayloadOverheadBytes = 1 + 1 + 2 + hostMessageIdBytes + 5;
/** Largest body `send` accepts: the payload must fit one channel message. */
export const hostMessageSizeMaxBytes = messageSizeMaxBytes - hostPayloadOverheadBytes;

const payloadEncoder = new Encoder();
const payloadDecoder = new Decoder({
  maxStrLength: 0,
  maxBinLength: messageSizeMaxBytes,
  maxArrayLength: 3,
  maxMapLength: 0,
  maxExtLength: 0,
  useBigInt64: false,
});

/** `msgpack([1, messageId (bin 16), body (bin)])`. */
export function encodeHostPayload(messageId: Uint8Array, body: Uint8Array): Uint8Array {
  if (messageId.length !== hostMessageIdBytes) {
    throw new RangeError(`encodeHostPayload: messageId must be ${hostMessageIdBytes} bytes`);
  }
  if (body.length > hostMessageSizeMaxBytes) {
    throw new RangeError(`encodeHostPayload: ${body.length} bytes exceeds ${hostMessageSizeMaxBytes}`);
  }
  return payloadEncoder.encode([hostPayloadVersion, messageId, body]);
}

/** Parses a payload; null when it is not one (never throws). Byte fields are views into `bytes`. */
export function decodeHostPayload(
  bytes: Uint8Array,
): { readonly messageId: Uint8Array; readonly body: Uint8Array } | null {
  let d: unknown;
  try {
    d = payloadDecoder.decode(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(d) || d.length !== 3) return null;
  const [version, messageId, body] = d as unknown[];
  if (version !== hostPayloadVersion) return null;
  if (!(messageId instanceof Uint8Array) || messageId.length !== hostMessageIdBytes) return null;
  if (!(body instanceof Uint8Array)) return null;
  return { messageId, body };
}

/**
 * The receiver's channel token of a DMP datagram (PacketType 50..54), read without decoding the rest:
 * the body is a msgpack array whose first element is the token. Null for anything else.
 */
export function peekChannelToken(bytes: Uint8Array): number | null {
  if (bytes.length < 4 || bytes[0] !== protocolVersion) return null;
  const type = bytes[1]!;
  if (type < PacketType.DmpPing || type > PacketType.MessageAck) return null;
  const header = bytes[2]!;
  if (header < 0x90 || header > 0x9f) return null;
  const b = bytes[3]!;
  if (b <= 0x7f) return b;
  if (b === 0xcc && bytes.length >= 5) return bytes[4]!;
  if (b === 0xcd && bytes.length >= 6) return (bytes[4]! << 8) | bytes[5]!;
  if (b === 0xce && bytes.length >= 8) {
    return ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  }
  return null;
}

/** Whether a datagram belongs to the direct channel (PacketType 50..54). */
export function isDmpDatagram(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 2 &&
    bytes[0] === protocolVersion &&
    bytes[1]! >= PacketType.DmpPing &&
    bytes[1]! <= PacketType.MessageAck
  );
}

// ---- configuration ----

export interface MessengerHostConfig {
  /** Channels open or promised to an INVITE in progress (either side), at most. */
  readonly channelsMax: number;
  /** Channels to one contact at most; opening one more closes the oldest. */
  readonly channelsPerContactMax: number;
  /** Messages accepted by `send` and neither receipted nor failed, at most (`outboxFull` beyond). */
  readonly outboxMessagesMax: number;
  /** Time to live of a message unless `send` says otherwise. */
  readonly messageTtlMs: number;
  /** Messages handed to one channel at once (the channel's own queue bound is larger). */
  readonly channelMessagesMax: number;
  /** Message ids the receiver remembers to drop duplicates. */
  readonly deliveredIdsMax: number;
  /** First wait after a failed INVITE (or a channel that never came up); ×backoff up to the maximum. */
  readonly inviteRetryFirstMs: number;
  readonly inviteRetryBackoff: number;
  readonly inviteRetryMaxMs: number;
  /** INVITEs answered (callee) and waiting for their ACK2, at most, and how long each waits. */
  readonly answersPendingMax: number;
  readonly answerTimeoutMs: number;
  /** Datagrams queued for the driver; more are shed (counted). */
  readonly outgoingDatagramsMax: number;
  /** Commands and events queued for the driver (an error beyond: the driver is not draining). */
  readonly commandsQueuedMax: number;
  readonly eventsQueuedMax: number;
  /** Knobs of every channel this host opens. */
  readonly channel: Partial<DmpConfig>;
}

export const messengerHostConfigDefault: MessengerHostConfig = {
  channelsMax: 64,
  channelsPerContactMax: 2,
  outboxMessagesMax: 1024,
  messageTtlMs: 60 * 60_000,
  channelMessagesMax: 64,
  deliveredIdsMax: 4096,
  inviteRetryFirstMs: 1_000,
  inviteRetryBackoff: 2,
  inviteRetryMaxMs: 30_000,
  answersPendingMax: 32,
  answerTimeoutMs: 60_000,
  outgoingDatagramsMax: 4096,
  commandsQueuedMax: 1024,
  eventsQueuedMax: 16_384,
  channel: {},
};

/** Defaults overridden by `overrides`; throws RangeError naming the first bad parameter. */
export function messengerHostConfig(overrides: Partial<MessengerHostConfig> = {}): MessengerHostConfig {
  const c: MessengerHostConfig = { ...messengerHostConfigDefault, ...overrides };
  for (const [k, v] of Object.entries(c)) {
    if (k === 'channel') continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) {
      throw new RangeError(`MessengerHostConfig: ${k} must be a positive finite number, got ${String(v)}`);
    }
  }
  if (c.inviteRetryBackoff < 1) throw new RangeError('MessengerHostConfig: inviteRetryBackoff must be >= 1');
  if (c.inviteRetryFirstMs > c.inviteRetryMaxMs) {
    throw new RangeError('MessengerHostConfig: inviteRetryFirstMs must be <= inviteRetryMaxMs');
  }
  const channelQueue = c.channel.sendQueueMessagesMax ?? dmpConfigDefault.sendQueueMessagesMax;
  if (c.channelMessagesMax > channelQueue) {
    throw new RangeError(
      `MessengerHostConfig: channelMessagesMax (${c.channelMessagesMax}) must be <= the channel's sendQueueMessagesMax (${channelQueue})`,
    );
  }
  return c;
}

// ---- what the host tells its driver and application ----

export type HostPath = 'direct' | 'relayed';

/** A datagram for the driver: to an endpoint, or (`to: 'relay'`) through DRP to the contact's regID. */
export interface HostOutgoing {
  readonly to: DmpDestination;
  readonly bytes: Uint8Array;
  /** The regID of the contact the datagram is for (where the relay routes it). */
  readonly contact: Uint8Array;
}

/** Lines of history kept per contact (`historyOf`). */
export const historyEntriesMax = 32;
/** INVITE transaction ids kept per contact (`routeOf`). */
export const routeTxIdsMax = 8;

/** Why an INVITE got no answer (callee side). */
export type InviteIgnoreReason =
  | 'unknownRequester'
  | 'unknownInvitation'
  | 'expiredInvitation'
  | 'channelsFull'
  | 'answersFull'
  | 'noEndpoint';

/**
 * Why a completed INVITE opened no channel: the session description's refusal
 * (`SessionRefusalCode`), `wrongUser` (the callee's certificate names another user than the contact
 * invited), `notInvited` (a completed INVITE this host is not waiting for), `noAnswerPending` (an ACK2
 * for an answer that expired or was never given), `contactsFull` (a first contact, but `contactsMax`
 * contacts exist).
 */
export type HostRefusalCode =
  | SessionRefusalCode
  | 'wrongUser'
  | 'notInvited'
  | 'noAnswerPending'
  | 'contactsFull';

export type HostEvent =
  /** A message from a contact: exactly once per message id. */
  | {
      readonly type: 'message';
      readonly contact: Uint8Array;
      readonly messageId: string;
      readonly bytes: Uint8Array;
      readonly path: HostPath;
    }
  /** Receipt: the contact's device holds this message. */
  | {
      readonly type: 'delivered';
      readonly contact: Uint8Array;
      readonly messageId: string;
      readonly elapsedMs: number;
    }
  /** The message's TTL passed before a receipt. */
  | {
      readonly type: 'failed';
      readonly contact: Uint8Array;
      readonly messageId: string;
      readonly reason: 'ttl';
    }
  /**
   * A channel to the contact came up (`reason: 'established'`), or moved between direct and relayed
   * (the channel's `DmpPathReason`).
   */
  | {
      readonly type: 'path';
      readonly contact: Uint8Array;
      readonly path: HostPath;
      readonly reason: DmpPathReason | 'established';
    }
  | { readonly type: 'channelClosed'; readonly contact: Uint8Array; readonly reason: DmpCloseReason }
  | {
      readonly type: 'inviteFailed';
      readonly contact: Uint8Array;
      readonly reason: string;
      readonly retryInMs: number;
    }
  | {
      readonly type: 'inviteIgnored';
      readonly requesterRegId: Uint8Array;
      readonly reason: InviteIgnoreReason;
    }
  | {
      readonly type: 'sessionRefused';
      readonly peerRegId: Uint8Array;
      readonly side: 'caller' | 'callee';
      readonly reason: HostRefusalCode;
    };

/** What the driver must do with the DRP engine. */
export interface HostInviteCommand {
  readonly type: 'invite';
  readonly responderRegId: Uint8Array;
  readonly sessionDescription: Uint8Array;
  readonly contactInvitationToken: Uint8Array | null;
}
export type HostCommand = HostInviteCommand;

export type HostSendErrorCode = 'unknownContact' | 'messageTooLarge' | 'outboxFull';

export class HostSendError extends Error {
  readonly code: HostSendErrorCode;
  constructor(code: HostSendErrorCode, message: string) {
    super(message);
    this.name = 'HostSendError';
    this.code = code;
  }
}

export interface MessengerHostOptions {
  readonly crypto: Crypto;
  readonly rng: Rng;
  readonly now: number;
  /** The regID of the DRP registration this user is reached at (and INVITEs from). */
  readonly regId: Uint8Array;
  readonly identity: UserIdentity;
  readonly deviceKey: Ed25519PrivateKey;
  /** The device certificate, encoded (src/id `encodeDeviceCertificate`), naming `deviceKey`. */
  readonly deviceCertificate: Uint8Array;
  readonly config?: Partial<MessengerHostConfig>;
  readonly vision?: VisionEmitter;
  /** Name in vision records. */
  readonly name?: string;
}

// ---- internal state ----

interface ContactEntry {
  readonly regId: Uint8Array;
  readonly regIdHex: string;
  readonly userIdHex: string;
  /** Null for a first contact admitted by an invitation token (its root keys are unknown). */
  readonly identity: UserIdentity | null;
  /** First contacts: the device key their certificate named, which later descriptions must name too. */
  readonly pinnedDeviceKey: Uint8Array | null;
  /** A token the contact issued to us, offered in our INVITEs until a channel came up. */
  invitationToken: Uint8Array | null;
  /** Open channels, oldest first. */
  readonly channels: ChannelEntry[];
  /** Messages neither receipted nor failed, in send order. */
  readonly outbox: OutboxEntry[];
  invite: PendingInvite | null;
  /** No INVITE before this time (backoff). */
  retryAtMs: number;
  retryMs: number;
  /** What happened on the way to this contact, oldest first (`historyEntriesMax`). */
  readonly history: string[];
  /** Transaction ids of the latest INVITEs to or from this contact (`routeTxIdsMax`). */
  readonly routeTxIds: string[];
}

interface PendingInvite {
  /** The engine's invite id once the driver started it. */
  inviteId: number | null;
  readonly localToken: number;
  readonly localSd: SessionDescription;
}

interface ChannelEntry {
  readonly token: number;
  readonly channel: DmpChannel;
  readonly contact: ContactEntry;
  /** Outbox entries inside the channel, by the channel's message id. */
  readonly sent: Map<number, OutboxEntry>;
  /** Messages the channel gave back to the outbox unacknowledged. */
  givenBack: number;
}

interface OutboxEntry {
  readonly id: string;
  readonly payload: Uint8Array;
  readonly createdMs: number;
  readonly expiresMs: number;
  channel: ChannelEntry | null;
}

interface PendingAnswer {
  readonly localToken: number;
  readonly localSd: SessionDescription;
  readonly expiresMs: number;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function pathOf(p: DmpPath): HostPath {
  return p.kind === 'relay' ? 'relayed' : 'direct';
}

function describePath(p: DmpPath): string {
  return p.kind === 'relay' ? 'relayed' : `direct ${p.endpoint.address}:${p.endpoint.port}`;
}

const utf8 = new TextEncoder();

export class MessengerHost {
  readonly config: MessengerHostConfig;
  readonly regId: Uint8Array;
  readonly regIdHex: string;
  readonly name: string;
  /** The user this host speaks for. */
  readonly identity: UserIdentity;
  /** The endpoint put in session descriptions: the driver keeps it current (the engine's public one). */
  publicEndpoint: Endpoint | undefined;
  /**
   * The driver carries datagrams addressed to `'relay'` to the contact's regID (./attach.ts sets it):
   * channels opened from now on fall back to the relay when their direct path fails.
   */
  relayAvailable = false;
  readonly contacts: Contacts;
  readonly invitations: InvitationTokens;

  private readonly crypto: Crypto;
  private readonly rng: Rng;
  private readonly vision: VisionEmitter;
  private readonly deviceKey: Ed25519PrivateKey;
  private readonly deviceCertificate: Uint8Array;
  private now: number;

  private readonly byRegId = new Map<string, ContactEntry>();
  private readonly byUserId = new Map<string, ContactEntry>();
  private readonly channels = new Map<number, ChannelEntry>();
  /** Channel tokens in use: open channels, INVITEs in progress, answers awaiting ACK2. */
  private readonly tokens = new Set<number>();
  private readonly answers = new Map<string, PendingAnswer>();
  /** Contacts with messages in the outbox. */
  private readonly waiting = new Set<ContactEntry>();
  private outboxCount = 0;
  private readonly deliveredIds = new Set<string>();

  private outgoing: HostOutgoing[] = [];
  private commands: HostCommand[] = [];
  private events: HostEvent[] = [];

  readonly stats = {
    messagesSent: 0,
    messagesDelivered: 0,
    messagesReceived: 0,
    messagesFailed: 0,
    /** Messages received again (same id) and not handed to the application. */
    duplicatesDropped: 0,
    /** Channel messages that are not host payloads. */
    badPayloads: 0,
    /** Messages put into a channel again after the previous one closed without a receipt. */
    resent: 0,
    invitesStarted: 0,
    invitesFailed: 0,
    invitesIgnored: 0,
    invitesAnswered: 0,
    sessionsRefused: 0,
    channelsOpened: 0,
    channelsClosed: 0,
    datagramsIn: 0,
    datagramsOut: 0,
    /** Datagrams shed because `outgoingDatagramsMax` were waiting for the driver. */
    outgoingShed: 0,
  };
  /** Datagrams the channels dropped, by reason. */
  readonly rejects: Record<DmpRejectReason, number>;

  constructor(options: MessengerHostOptions) {
    if (options.regId.length !== regIdBytes) throw new RangeError('MessengerHost: regId must be 32 bytes');
    if (!Number.isFinite(options.now)) throw new RangeError(`MessengerHost: bad now ${options.now}`);
    this.config = messengerHostConfig(options.config);
    this.crypto = options.crypto;
    this.rng = options.rng;
    this.vision = options.vision ?? nullVision;
    this.now = options.now;
    this.regId = options.regId.slice();
    this.regIdHex = hex(this.regId);
    this.name = options.name ?? this.regIdHex.slice(0, 8);
    this.identity = options.identity;
    this.deviceKey = options.deviceKey;
    this.deviceCertificate = options.deviceCertificate.slice();
    this.contacts = new Contacts(this.crypto);
    this.invitations = new InvitationTokens(this.rng.fork('invitations'));
    this.rejects = Object.fromEntries(dmpRejectReasons.map((r) => [r, 0])) as Record<DmpRejectReason, number>;
  }

  // ================================================================ application interface

  /**
   * Adds a user met in person: their identity and the regID their device registers. `invitationToken`:
   * a token they issued to us (first contact), offered in our INVITEs until a channel came up. Throws
   * RangeError on a bad regID or token, or when `contactsMax` contacts exist.
   */
  addContact(identity: UserIdentity, regId: Uint8Array, invitationToken: Uint8Array | null = null): void {
    if (regId.length !== regIdBytes) throw new RangeError('MessengerHost.addContact: regId must be 32 bytes');
    if (invitationToken !== null && invitationToken.length !== contactInvitationTokenBytes) {
      throw new RangeError(
        `MessengerHost.addContact: invitationToken must be ${contactInvitationTokenBytes} bytes`,
      );
    }
    const userId = this.contacts.add(identity);
    const regIdHex = hex(regId);
    const existing = this.byRegId.get(regIdHex);
    if (existing !== undefined) {
      existing.invitationToken = invitationToken?.slice() ?? existing.invitationToken;
      return;
    }
    const c = this.newContact(regId, hex(userId), identity, null);
    c.invitationToken = invitationToken?.slice() ?? null;
  }

  /** A one-time contact-invitation token to hand to someone in person, valid for `ttlMs`. */
  issueInvitation(now: number, ttlMs: number): Uint8Array {
    this.advanceTime(now);
    return this.invitations.issue(now, ttlMs);
  }

  /**
   * Queues a message to a contact (a string is sent as UTF-8) and returns its message id (hex), which
   * `delivered` or `failed` will name. Throws `HostSendError`: `unknownContact`, `messageTooLarge`
   * (over `hostMessageSizeMaxBytes`), `outboxFull` (`outboxMessagesMax`).
   */
  send(now: number, contactRegId: Uint8Array, message: string | Uint8Array, ttlMs?: number): string {
    this.advanceTime(now);
    const c = this.byRegId.get(hex(contactRegId));
    if (c === undefined) throw new HostSendError('unknownContact', 'MessengerHost.send: not a contact');
    const body = typeof message === 'string' ? utf8.encode(message) : message;
    if (body.length > hostMessageSizeMaxBytes) {
      throw new HostSendError(
        'messageTooLarge',
        `MessengerHost.send: ${body.length} bytes exceeds hostMessageSizeMaxBytes=${hostMessageSizeMaxBytes}`,
      );
    }
    if (this.outboxCount >= this.config.outboxMessagesMax) {
      throw new HostSendError(
        'outboxFull',
        `MessengerHost.send: ${this.outboxCount} messages waiting (outboxMessagesMax)`,
      );
    }
    const ttl = ttlMs ?? this.config.messageTtlMs;
    if (!(ttl > 0)) throw new RangeError(`MessengerHost.send: ttlMs must be positive, got ${ttl}`);
    const idBytes = this.rng.bytes(hostMessageIdBytes);
    const entry: OutboxEntry = {
      id: hex(idBytes),
      payload: encodeHostPayload(idBytes, body),
      createdMs: now,
      expiresMs: now + ttl,
      channel: null,
    };
    c.outbox.push(entry);
    this.outboxCount++;
    this.waiting.add(c);
    this.stats.messagesSent++;
    this.pump(now, c);
    return entry.id;
  }

  /** Messages in the outbox (waiting, or inside a channel without a receipt yet). */
  get outboxSize(): number {
    return this.outboxCount;
  }

  /** Open channels (any state but closed). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** The path of the channel messages to this contact take now, or null when none is open. */
  pathTo(contactRegId: Uint8Array): HostPath | null {
    const c = this.byRegId.get(hex(contactRegId));
    const ch = c === undefined ? undefined : this.currentChannel(c);
    return ch === undefined ? null : pathOf(ch.channel.path);
  }

  /** What happened on the way to a contact, oldest first ("t=<ms> <what>"); empty for a stranger. */
  historyOf(contactRegId: Uint8Array): readonly string[] {
    return this.byRegId.get(hex(contactRegId))?.history ?? [];
  }

  /** Transaction ids of the latest INVITEs with a contact (their hop records are the route). */
  routeOf(contactRegId: Uint8Array): readonly string[] {
    return this.byRegId.get(hex(contactRegId))?.routeTxIds ?? [];
  }

  /**
   * The app is stopped (the OS stops it at night, the user quits). Channels close without a word (the
   * peers notice by silence) and their unacknowledged messages go back to the outbox; INVITEs and
   * answers in flight are forgotten. Contacts, tokens, the outbox and the delivered ids stay: the host
   * carries on when the driver calls it again (`publicEndpoint` unknown until then).
   */
  suspend(now: number): void {
    this.advanceTime(now);
    // No endpoint: nothing the closing channels give back can start an INVITE now.
    this.publicEndpoint = undefined;
    for (const e of [...this.channels.values()]) {
      e.channel.close(now);
      this.settle(now, e);
    }
    for (const c of this.byRegId.values()) {
      if (c.invite !== null) {
        this.tokens.delete(c.invite.localToken);
        c.invite = null;
      }
      c.retryAtMs = now;
      c.retryMs = this.config.inviteRetryFirstMs;
      this.note(c, 'app stopped');
    }
    for (const a of this.answers.values()) this.tokens.delete(a.localToken);
    this.answers.clear();
    this.outgoing = [];
    this.commands = [];
  }

  // ================================================================ driver interface

  /** Whether a DMP datagram with this channel token is for this host. */
  ownsToken(token: number): boolean {
    return this.channels.has(token);
  }

  /**
   * A DMP datagram (see `isDmpDatagram`). Returns false when it names no channel of this host (the
   * driver may offer it to another host, then count it); otherwise the channel judged it.
   */
  receive(now: number, from: DmpDestination, bytes: Uint8Array): boolean {
    this.advanceTime(now);
    const token = peekChannelToken(bytes);
    const e = token === null ? undefined : this.channels.get(token);
    if (e === undefined) return false;
    this.stats.datagramsIn++;
    e.channel.receive(now, bytes, from);
    this.settle(now, e);
    return true;
  }

  /** Runs whatever is due (call at `nextDeadline()`; calling more often is harmless). */
  tick(now: number): void {
    this.advanceTime(now);
    for (const e of [...this.channels.values()]) {
      const d = e.channel.nextDeadline();
      if (d !== null && d <= now) {
        e.channel.tick(now);
        this.settle(now, e);
      }
    }
    this.pruneAnswers(now);
    for (const c of [...this.waiting]) this.pump(now, c);
  }

  /** When `tick` must run next (ms), or Infinity. */
  nextDeadline(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const e of this.channels.values()) {
      const d = e.channel.nextDeadline();
      if (d !== null && d < t) t = d;
    }
    for (const a of this.answers.values()) if (a.expiresMs < t) t = a.expiresMs;
    for (const c of this.waiting) {
      let unassigned = false;
      for (const m of c.outbox) {
        if (m.channel !== null) continue;
        unassigned = true;
        if (m.expiresMs < t) t = m.expiresMs;
      }
      if (unassigned && c.invite === null && this.currentChannel(c) === undefined && c.retryAtMs < t) {
        t = c.retryAtMs;
      }
    }
    return Number.isFinite(t) ? Math.max(t, this.now) : t;
  }

  /**
   * The callee's first look at an INVITE (the engine's `onInvite`): our session description, or null
   * for no answer at all. Only a pre-check is possible here (see the module comment).
   */
  onInvite(now: number, info: InviteRequestInfo): Uint8Array | null {
    this.advanceTime(now);
    const requesterHex = hex(info.requesterRegId);
    const c = this.byRegId.get(requesterHex);
    if (c === undefined) {
      if (info.contactInvitationToken === null) return this.ignore(info.requesterRegId, 'unknownRequester');
      const check = this.invitations.check(info.contactInvitationToken, now);
      if (!check.ok) return this.ignore(info.requesterRegId, check.code);
    }
    if (this.publicEndpoint === undefined) return this.ignore(info.requesterRegId, 'noEndpoint');
    this.pruneAnswers(now);
    if (this.tokens.size >= this.config.channelsMax) return this.ignore(info.requesterRegId, 'channelsFull');
    if (this.answers.size >= this.config.answersPendingMax) {
      return this.ignore(info.requesterRegId, 'answersFull');
    }
    const localToken = this.newToken();
    const localSd: SessionDescription = {
      endpoint: this.publicEndpoint,
      channelToken: localToken,
      sessionType: 'direct',
      deviceCertificate: this.deviceCertificate,
      invitationToken: null,
    };
    const bytes = encodeSessionDescription(this.crypto, localSd, this.deviceKey, {
      senderRegId: this.regId,
      receiverRegId: info.requesterRegId,
    });
    this.answers.set(`${requesterHex}:${info.timestampMs}`, {
      localToken,
      localSd,
      expiresMs: now + this.config.answerTimeoutMs,
    });
    this.stats.invitesAnswered++;
    return bytes;
  }

  /** The callee's INVITE completed (ACK2 arrived, engine event `inviteReceived`). */
  onInviteReceived(
    now: number,
    e: {
      readonly requesterRegId: Uint8Array;
      readonly timestampMs: number;
      readonly sessionDescription: Uint8Array;
      readonly keys: InviteKeys;
      readonly tx?: string;
    },
  ): void {
    this.advanceTime(now);
    const key = `${hex(e.requesterRegId)}:${e.timestampMs}`;
    const a = this.answers.get(key);
    if (a === undefined) {
      e.keys.inviteSecret.fill(0);
      this.refuse(e.requesterRegId, 'callee', 'noAnswerPending');
      return;
    }
    this.answers.delete(key);
    const context = { senderRegId: e.requesterRegId, receiverRegId: this.regId };
    const r = this.judge(now, e.sessionDescription, context, e.requesterRegId);
    if (!r.ok) {
      this.tokens.delete(a.localToken);
      e.keys.inviteSecret.fill(0);
      this.refuse(e.requesterRegId, 'callee', r.code);
      return;
    }
    this.noteRoute(r.contact, e.tx);
    this.note(r.contact, `INVITE received${e.tx !== undefined ? ` ${e.tx}` : ''}`);
    this.openChannel(now, r.contact, 'responder', a.localToken, a.localSd, r.sd, e.keys);
  }

  /** The caller's INVITE completed (engine event `inviteCompleted`). */
  onInviteCompleted(
    now: number,
    e: {
      readonly inviteId: number;
      readonly responderRegId: Uint8Array;
      readonly sessionDescription: Uint8Array;
      readonly keys: InviteKeys;
      readonly tx?: string;
    },
  ): void {
    this.advanceTime(now);
    const c = this.byRegId.get(hex(e.responderRegId));
    const pending = c?.invite;
    if (c === undefined || pending === undefined || pending === null || pending.inviteId !== e.inviteId) {
      e.keys.inviteSecret.fill(0);
      this.refuse(e.responderRegId, 'caller', 'notInvited');
      return;
    }
    c.invite = null;
    this.noteRoute(c, e.tx);
    this.note(c, `INVITE completed${e.tx !== undefined ? ` ${e.tx}` : ''}`);
    const context = { senderRegId: e.responderRegId, receiverRegId: this.regId };
    const r = this.judge(now, e.sessionDescription, context, e.responderRegId);
    if (!r.ok || r.contact !== c) {
      this.tokens.delete(pending.localToken);
      e.keys.inviteSecret.fill(0);
      this.refuse(e.responderRegId, 'caller', r.ok ? 'wrongUser' : r.code);
      this.backOff(now, c);
      this.pump(now, c);
      return;
    }
    c.invitationToken = null;
    this.openChannel(now, c, 'requester', pending.localToken, pending.localSd, r.sd, e.keys);
  }

  /** The caller's INVITE failed (engine event `inviteFailed`). */
  onInviteFailed(
    now: number,
    e: {
      readonly inviteId: number;
      readonly responderRegId: Uint8Array;
      readonly reason: string;
      readonly attemptTxIds?: readonly string[];
    },
  ): void {
    this.advanceTime(now);
    const c = this.byRegId.get(hex(e.responderRegId));
    if (c === undefined || c.invite === null || c.invite.inviteId !== e.inviteId) return;
    this.tokens.delete(c.invite.localToken);
    c.invite = null;
    this.stats.invitesFailed++;
    for (const tx of e.attemptTxIds ?? []) this.noteRoute(c, tx);
    const wait = this.backOff(now, c);
    this.note(c, `INVITE failed: ${e.reason} (${e.attemptTxIds?.length ?? 0} attempts), retry in ${wait} ms`);
    this.emit({ type: 'inviteFailed', contact: c.regId, reason: e.reason, retryInMs: wait });
    this.record(AttentionLevel.higherLevelDetail, 'INVITE failed: retrying later', () => ({
      contact: c.regIdHex.slice(0, 16),
      reason: e.reason,
      retryInMs: wait,
    }));
    this.pump(now, c);
  }

  /** The driver started the INVITE of a command: the engine's invite id. */
  inviteStarted(responderRegId: Uint8Array, inviteId: number): void {
    const pending = this.byRegId.get(hex(responderRegId))?.invite;
    if (pending !== null && pending !== undefined && pending.inviteId === null) pending.inviteId = inviteId;
  }

  /** Events or commands wait for the driver (it should drain them soon, e.g. at once). */
  get hasPendingOutput(): boolean {
    return this.events.length > 0 || this.commands.length > 0;
  }

  drainOutgoing(): HostOutgoing[] {
    const out = this.outgoing;
    this.outgoing = [];
    return out;
  }

  drainCommands(): HostCommand[] {
    const out = this.commands;
    this.commands = [];
    return out;
  }

  drainEvents(): HostEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  // ================================================================ internals

  private newContact(
    regId: Uint8Array,
    userIdHex: string,
    identity: UserIdentity | null,
    pinnedDeviceKey: Uint8Array | null,
  ): ContactEntry {
    if (this.byRegId.size >= contactsMax) {
      throw new RangeError(`MessengerHost: ${contactsMax} contacts (contactsMax)`);
    }
    const c: ContactEntry = {
      regId: regId.slice(),
      regIdHex: hex(regId),
      userIdHex,
      identity,
      pinnedDeviceKey,
      invitationToken: null,
      channels: [],
      outbox: [],
      invite: null,
      retryAtMs: this.now,
      retryMs: this.config.inviteRetryFirstMs,
      history: [],
      routeTxIds: [],
    };
    this.byRegId.set(c.regIdHex, c);
    if (!this.byUserId.has(userIdHex)) this.byUserId.set(userIdHex, c);
    return c;
  }

  /**
   * Judges the other side's session description: `acceptSessionDescription` against our contacts and
   * invitation tokens, or — for a first contact admitted earlier by a token — the pinned user and device.
   * Returns the contact the description belongs to.
   */
  private judge(
    now: number,
    bytes: Uint8Array,
    context: SessionContext,
    peerRegId: Uint8Array,
  ):
    | { readonly ok: true; readonly sd: SignedSessionDescription; readonly contact: ContactEntry }
    | { readonly ok: false; readonly code: HostRefusalCode } {
    const policy = { contacts: this.contacts, invitations: this.invitations };
    const r = acceptSessionDescription(this.crypto, bytes, context, policy, now);
    const peerHex = hex(peerRegId);
    if (r.ok) {
      const sd = r.value.sd;
      const userIdHex = hex(sd.certificate.userId);
      if (r.value.via === 'contact') {
        const c = this.byUserId.get(userIdHex);
        if (c === undefined) return { ok: false, code: 'unknownContact' };
        return { ok: true, sd, contact: c };
      }
      // A first contact: remembered by regID, its user and device pinned.
      let c = this.byRegId.get(peerHex);
      if (c === undefined && this.byRegId.size >= contactsMax) return { ok: false, code: 'contactsFull' };
      if (c === undefined)
        c = this.newContact(peerRegId, userIdHex, null, sd.certificate.devicePublicKey.slice());
      else if (c.userIdHex !== userIdHex) return { ok: false, code: 'wrongUser' };
      return { ok: true, sd, contact: c };
    }
    if (r.code !== 'unknownContact') return { ok: false, code: r.code };
    const pinned = this.byRegId.get(peerHex);
    if (pinned === undefined || pinned.pinnedDeviceKey === null) return { ok: false, code: r.code };
    const v = verifySessionDescription(this.crypto, bytes, context);
    if (!v.ok) return { ok: false, code: v.code };
    const cert = v.value.certificate;
    if (hex(cert.userId) !== pinned.userIdHex || !bytesEqual(cert.devicePublicKey, pinned.pinnedDeviceKey)) {
      return { ok: false, code: 'wrongUser' };
    }
    if (now < cert.validFromMs || now >= cert.validToMs) return { ok: false, code: 'badCertificate' };
    return { ok: true, sd: v.value, contact: pinned };
  }

  private openChannel(
    now: number,
    c: ContactEntry,
    role: 'requester' | 'responder',
    localToken: number,
    localSd: SessionDescription,
    remoteSd: SignedSessionDescription,
    keys: InviteKeys,
  ): void {
    let channel: DmpChannel;
    try {
      channel = new DmpChannel({
        role,
        local: localSd,
        remote: remoteSd,
        inviteSecret: keys.inviteSecret,
        pingKdfTranscript: keys.transcript,
        crypto: this.crypto,
        rng: this.rng,
        now,
        config: this.config.channel,
        relay: this.relayAvailable,
      });
    } finally {
      keys.inviteSecret.fill(0);
    }
    const e: ChannelEntry = { token: localToken, channel, contact: c, sent: new Map(), givenBack: 0 };
    this.channels.set(localToken, e);
    c.channels.push(e);
    this.stats.channelsOpened++;
    this.note(c, `channel ${localToken} opened as ${role}, path ${describePath(channel.path)}`);
    this.record(AttentionLevel.higherLevelDetail, 'channel opened', () => ({
      contact: c.regIdHex.slice(0, 16),
      role,
      token: localToken,
    }));
    if (c.channels.length > this.config.channelsPerContactMax) {
      const oldest = c.channels[0]!;
      oldest.channel.close(now);
      this.settle(now, oldest);
    }
    this.settle(now, e);
  }

  /** Drains a channel's output and events into the host's, then feeds it more messages. */
  private settle(now: number, e: ChannelEntry): void {
    const c = e.contact;
    for (const ev of e.channel.drainEvents()) {
      switch (ev.type) {
        case 'established':
          this.note(c, `channel ${e.token} keys agreed, path ${describePath(ev.path)}`);
          this.emit({ type: 'path', contact: c.regId, path: pathOf(ev.path), reason: 'established' });
          break;
        case 'pathChanged':
          this.note(c, `channel ${e.token} path → ${describePath(ev.path)} (${ev.reason})`);
          this.emit({ type: 'path', contact: c.regId, path: pathOf(ev.path), reason: ev.reason });
          break;
        case 'message':
          this.onChannelMessage(e, ev.bytes);
          break;
        case 'delivered': {
          const m = e.sent.get(ev.messageId);
          if (m === undefined) break;
          e.sent.delete(ev.messageId);
          const i = c.outbox.indexOf(m);
          if (i >= 0) c.outbox.splice(i, 1);
          this.outboxCount--;
          this.stats.messagesDelivered++;
          // A receipt shows the contact reachable: the next INVITE, if any, need not wait.
          c.retryMs = this.config.inviteRetryFirstMs;
          this.emit({ type: 'delivered', contact: c.regId, messageId: m.id, elapsedMs: now - m.createdMs });
          break;
        }
        case 'failed': {
          const m = e.sent.get(ev.messageId);
          if (m === undefined) break;
          e.sent.delete(ev.messageId);
          m.channel = null;
          e.givenBack++;
          this.stats.resent++;
          break;
        }
        case 'closed':
          this.onChannelClosed(now, e, ev.reason);
          break;
        case 'rejected':
          this.rejects[ev.reason]++;
          break;
      }
    }
    if (c.outbox.length === 0) this.waiting.delete(c);
    else this.pump(now, c);
    this.collect(e);
  }

  private onChannelClosed(now: number, e: ChannelEntry, reason: DmpCloseReason): void {
    const c = e.contact;
    this.channels.delete(e.token);
    this.tokens.delete(e.token);
    const i = c.channels.indexOf(e);
    if (i >= 0) c.channels.splice(i, 1);
    this.stats.channelsClosed++;
    const st = e.channel.stats;
    this.note(
      c,
      `channel ${e.token} closed: ${reason} (sent ${st.messagesSent}, received ${st.messagesReceived}, ` +
        `retransmissions ${st.retransmissions}, relay fallbacks ${st.relayFallbacks}, ` +
        `${e.givenBack + e.sent.size} given back unacknowledged)`,
    );
    // Anything still marked as inside the channel goes back to the outbox.
    for (const m of e.sent.values()) m.channel = null;
    e.sent.clear();
    this.collect(e);
    this.emit({ type: 'channelClosed', contact: c.regId, reason });
    const abnormal = reason === 'punchTimeout' || reason === 'retransmissionsExhausted';
    this.record(
      abnormal ? AttentionLevel.needsAttention : AttentionLevel.higherLevelDetail,
      `channel closed: ${reason}`,
      () => ({ contact: c.regIdHex.slice(0, 16), token: e.token, waiting: c.outbox.length }),
    );
    if (abnormal) this.backOff(now, c);
  }

  private onChannelMessage(e: ChannelEntry, bytes: Uint8Array): void {
    const p = decodeHostPayload(bytes);
    if (p === null) {
      this.stats.badPayloads++;
      this.record(AttentionLevel.needsAttention, 'channel message is not a host payload: dropped', () => ({
        contact: e.contact.regIdHex.slice(0, 16),
        bytes: bytes.length,
      }));
      return;
    }
    const id = hex(p.messageId);
    if (this.deliveredIds.has(id)) {
      this.stats.duplicatesDropped++;
      return;
    }
    this.deliveredIds.add(id);
    if (this.deliveredIds.size > this.config.deliveredIdsMax) {
      const oldest = this.deliveredIds.values().next();
      if (oldest.done !== true) this.deliveredIds.delete(oldest.value);
    }
    this.stats.messagesReceived++;
    this.emit({
      type: 'message',
      contact: e.contact.regId,
      messageId: id,
      bytes: p.body.slice(),
      path: pathOf(e.channel.path),
    });
  }

  /** The channel messages to `c` go into now: the newest confirmed one, else the newest open one. */
  private currentChannel(c: ContactEntry): ChannelEntry | undefined {
    let best: ChannelEntry | undefined;
    for (const e of c.channels) {
      if (e.channel.stateKind === 'closed') continue;
      if (best === undefined || e.channel.confirmed || !best.channel.confirmed) best = e;
    }
    return best;
  }

  /**
   * Moves `c`'s waiting messages into its channel, fails those past their TTL, and asks for an INVITE
   * when messages wait, no channel is open and the backoff allows.
   */
  private pump(now: number, c: ContactEntry): void {
    for (let i = 0; i < c.outbox.length; ) {
      const m = c.outbox[i]!;
      if (m.channel === null && now >= m.expiresMs) {
        c.outbox.splice(i, 1);
        this.outboxCount--;
        this.stats.messagesFailed++;
        this.emit({ type: 'failed', contact: c.regId, messageId: m.id, reason: 'ttl' });
        this.note(c, `message ${m.id.slice(0, 8)} failed: TTL`);
        this.record(AttentionLevel.strongPain, 'message failed: TTL passed before a receipt', () => ({
          contact: c.regIdHex.slice(0, 16),
          messageId: m.id,
          ageMs: now - m.createdMs,
          invitePending: c.invite !== null,
          channels: c.channels.length,
          // The INVITEs' transaction ids: their hop records (module drp.route) are the route.
          route: c.routeTxIds.join(' '),
          history: c.history.join(' | '),
        }));
      } else i++;
    }
    if (c.outbox.length === 0) {
      this.waiting.delete(c);
      return;
    }
    const e = this.currentChannel(c);
    if (e !== undefined) {
      // A channel takes messages once both sides hold its keys: until then they stay in the outbox, where
      // the TTL applies exactly (and a channel that never comes up gives nothing back late).
      if (!e.channel.confirmed) return;
      for (const m of c.outbox) {
        if (m.channel !== null) continue;
        if (e.channel.queuedMessageCount >= this.config.channelMessagesMax) break;
        const id = e.channel.send(now, m.payload);
        m.channel = e;
        e.sent.set(id, m);
      }
      this.collect(e);
      return;
    }
    if (c.invite !== null || now < c.retryAtMs) return;
    if (!c.outbox.some((m) => m.channel === null)) return;
    this.startInvite(now, c);
  }

  private startInvite(now: number, c: ContactEntry): void {
    if (this.publicEndpoint === undefined || this.tokens.size >= this.config.channelsMax) {
      this.backOff(now, c);
      return;
    }
    const localToken = this.newToken();
    const localSd: SessionDescription = {
      endpoint: this.publicEndpoint,
      channelToken: localToken,
      sessionType: 'direct',
      deviceCertificate: this.deviceCertificate,
      invitationToken: c.invitationToken,
    };
    const sessionDescription = encodeSessionDescription(this.crypto, localSd, this.deviceKey, {
      senderRegId: this.regId,
      receiverRegId: c.regId,
    });
    c.invite = { inviteId: null, localToken, localSd };
    this.stats.invitesStarted++;
    this.note(c, `INVITE sent (channel token ${localToken})`);
    if (this.commands.length >= this.config.commandsQueuedMax) {
      throw new RangeError(
        `MessengerHost: ${this.commands.length} commands undrained (commandsQueuedMax): the driver must drainCommands()`,
      );
    }
    this.commands.push({
      type: 'invite',
      responderRegId: c.regId,
      sessionDescription,
      contactInvitationToken: c.invitationToken,
    });
  }

  /** No INVITE to `c` for the current backoff, which then grows. Returns the wait. */
  private backOff(now: number, c: ContactEntry): number {
    const wait = c.retryMs;
    c.retryAtMs = now + wait;
    c.retryMs = Math.min(this.config.inviteRetryMaxMs, Math.ceil(c.retryMs * this.config.inviteRetryBackoff));
    return wait;
  }

  /** Forgets answers whose ACK2 did not come in time (their tokens are free again). */
  private pruneAnswers(now: number): void {
    for (const [key, a] of this.answers) {
      if (now >= a.expiresMs) {
        this.answers.delete(key);
        this.tokens.delete(a.localToken);
      }
    }
  }

  private newToken(): number {
    let t = this.rng.uint32();
    while (this.tokens.has(t)) t = this.rng.uint32();
    this.tokens.add(t);
    return t;
  }

  private ignore(requesterRegId: Uint8Array, reason: InviteIgnoreReason): null {
    this.stats.invitesIgnored++;
    this.emit({ type: 'inviteIgnored', requesterRegId: requesterRegId.slice(), reason });
    this.record(AttentionLevel.higherLevelDetail, `INVITE not answered: ${reason}`, () => ({
      requester: hex(requesterRegId).slice(0, 16),
    }));
    return null;
  }

  private refuse(peerRegId: Uint8Array, side: 'caller' | 'callee', reason: HostRefusalCode): void {
    this.stats.sessionsRefused++;
    this.emit({ type: 'sessionRefused', peerRegId: peerRegId.slice(), side, reason });
    this.record(AttentionLevel.needsAttention, `session description refused: ${reason}`, () => ({
      peer: hex(peerRegId).slice(0, 16),
      side,
    }));
  }

  private collect(e: ChannelEntry): void {
    for (const o of e.channel.drainOutgoing()) {
      if (this.outgoing.length >= this.config.outgoingDatagramsMax) {
        this.stats.outgoingShed++;
        continue;
      }
      this.stats.datagramsOut++;
      this.outgoing.push({ to: o.to, bytes: o.bytes, contact: e.contact.regId });
    }
  }

  /** One line of a contact's history (bounded). */
  private note(c: ContactEntry, what: string): void {
    c.history.push(`t=${this.now} ${what}`);
    if (c.history.length > historyEntriesMax) c.history.shift();
  }

  private noteRoute(c: ContactEntry, tx: string | undefined): void {
    if (tx === undefined || tx === '') return;
    c.routeTxIds.push(tx);
    if (c.routeTxIds.length > routeTxIdsMax) c.routeTxIds.shift();
  }

  private emit(e: HostEvent): void {
    if (this.events.length >= this.config.eventsQueuedMax) {
      throw new RangeError(
        `MessengerHost: ${this.events.length} events undrained (eventsQueuedMax): the driver must drainEvents()`,
      );
    }
    this.events.push(e);
  }

  private record(level: AttentionLevel, message: string, attributes: () => Attributes): void {
    if (!this.vision.wants(visionDmpModule, level)) return;
    this.vision.emit({
      timeMs: this.now,
      peer: this.name,
      module: visionDmpModule,
      level,
      message,
      attributes: attributes(),
    });
  }

  private advanceTime(now: number): void {
    if (!Number.isFinite(now) || now < this.now) {
      throw new RangeError(`MessengerHost: now=${now} is before the last call's ${this.now}`);
    }
    this.now = now;
  }
}
