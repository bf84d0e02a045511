/**
 * The DRP peer engine, sans-I/O.
 *
 * Theory of operation. An engine owns one UDP socket's worth of protocol state: the local registrations
 * it hosts, their neighbour links (indexed by the local link token every link packet carries), the
 * requests it has sent and is retransmitting, the requests it relays for others, and the entry-peer
 * state (PoW2 challenges). It never touches a socket, a clock or a random source of its own: the driver
 * feeds it `onDatagram(now, from, bytes)` and `onTimer(now)`, calls commands (`addLocalPeer`,
 * `register`, `invite`, `onPowSolved`), and drains datagrams and events with `drain`. `nextDeadline()`
 * says when to call `onTimer` next. The same engine runs on the simulator and on real UDP.
 *
 * Layers inside the engine:
 * - receive: decode (never throws) → link lookup by token and HMAC check, or entry-mode dispatch;
 *   every drop is counted by reason (`drops`) and, at detail level, recorded on the vision channel;
 * - hop-by-hop reliability: a request sent on a hop (a link, or an entry-mode endpoint) is retransmitted
 *   (first after `retransmitFirstMs`, then ×`retransmitBackoff`) until the hop's NPACK, or until
 *   `requestExpiryMs`; a received request is answered with NPACK once and a retransmission gets the
 *   cached NPACK (`responseCacheMs`), never a second processing;
 * - the REGISTER and INVITE state machines (./register.ts, ./invite.ts), whose transactions are explicit
 *   objects with a `state` field and their own deadlines;
 * - neighbour upkeep (./upkeep.ts): pings, link death, extension, eviction, recycling, gap filling.
 */
import { Buffer } from 'node:buffer';
import type { Crypto, Ed25519PrivateKey } from '../crypto/crypto.js';
import { pointOfRegId } from '../id/geometry.js';
import { Pow2ChallengeTable } from '../pow/challenges.js';
import type { Rng } from '../seams/rng.js';
import type { Endpoint } from '../seams/transport.js';
import { AttentionLevel } from '../vision/attention.js';
import type { VisionEmitter } from '../vision/channel.js';
import type { Attributes } from '../vision/record.js';
import {
  decodeDatagram,
  encodeDatagram,
  type Failure,
  macCoveredBytes,
  macOf,
  macPlaceholder,
  type Npack,
  type Packet,
  PacketType,
  packetTypeName,
  pingNeighbourRegIdsMaxCount,
  ResultCode,
  sealDatagram,
} from '../wire/index.js';
import { ReplayFilter } from '../wire/replay.js';
import { type DrpConfig, drpConfigDefault, validateDrpConfig } from './config.js';
import { InviteRole } from './invite.js';
import type { NeighborLink } from './neighbor.js';
import { sectorTowardsFast, slotStrideMax } from './policy.js';
import { RegisterRole } from './register.js';
import { RelayRole } from './relay.js';
import { TimerQueue } from './timers.js';
import type { DropReason, EngineEvent, InviteHandler, Outgoing, PowJob, RelayHandler } from './types.js';
import { Upkeep } from './upkeep.js';
import { LocalView } from './view.js';

export const visionModule = 'drp';
/** The module of INVITE hop decisions: a failed INVITE's route is rebuilt from these records. */
export const visionRouteModule = 'drp.route';

/** Requests in flight (retransmitting) to one endpoint we have no link with (entry mode). */
export const entryRequestsPerEndpointMax = 8;
/** Timers kept free for work already accepted, when input is shed because the timer table is nearly full. */
const timersHeadroom = 256;
/** Response-cache values pack the NPACK code below this (codes are 0..11). */
const responseCodeSpan = 16;

/** Where a request came from or goes to: a neighbour link, or an endpoint in entry mode (no link yet). */
export type Hop = { readonly link: NeighborLink } | { readonly endpoint: Endpoint };

export function isLinkHop(h: Hop): h is { readonly link: NeighborLink } {
  return 'link' in h;
}

export function hopEndpoint(h: Hop): Endpoint {
  return isLinkHop(h) ? h.link.remoteEndpoint : h.endpoint;
}

/** Lower-case hex of bytes (map keys and vision attributes). */
export function hex(b: Uint8Array): string {
  // Native and flat: strings built by `+=` are ropes, and as long-lived map keys they cost ~30× their size.
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function endpointKey(e: Endpoint): string {
  return `${e.address}:${e.port}`;
}

/** A local registration hosted by this engine. */
export class LocalPeer {
  readonly regIdHex: string;
  readonly point: Uint32Array;
  /** Neighbour links by remote regID (hex). */
  readonly neighbors = new Map<string, NeighborLink>();
  /** Bumped on every change of the neighbour set (views and adverts follow it). */
  version = 0;
  readonly view: LocalView;
  registeredAtMs = -1;
  constructor(
    readonly index: number,
    readonly name: string,
    readonly regKey: Ed25519PrivateKey,
    /** Entry peers this registration may (re-)enter through. */
    public entryPeers: Endpoint[],
    /** Neighbours this registration may hold at most (sizes its routing view). */
    neighborsHardMax: number,
  ) {
    this.regIdHex = hex(regKey.publicKey);
    this.point = pointOfRegId(regKey.publicKey);
    // Slots for every neighbour plus the link back, and room for a full PING advert per neighbour.
    this.view = new LocalView(
      Math.min(slotStrideMax, Math.max(pingNeighbourRegIdsMaxCount + 1, neighborsHardMax + 2)),
    );
  }

  get regId(): Uint8Array {
    return this.regKey.publicKey;
  }

  /** How many links are usable (`usableLinks().length` without building the array). */
  usableLinkCount(): number {
    let n = 0;
    for (const l of this.neighbors.values()) if (l.usable) n++;
    return n;
  }

  /** Whether any link is usable (`usableLinkCount() > 0`, stopping at the first). */
  hasUsableLink(): boolean {
    for (const l of this.neighbors.values()) if (l.usable) return true;
    return false;
  }

  usableLinks(): NeighborLink[] {
    const out: NeighborLink[] = [];
    for (const l of this.neighbors.values()) if (l.usable) out.push(l);
    return out;
  }

  /** Busy-sector mask over the usable links (bit s: a neighbour lies in sector s as seen from here). */
  busySectors(): number {
    if (this.busyVersion !== this.neighborSetVersion) {
      let mask = 0;
      for (const l of this.neighbors.values()) {
        if (l.usable) mask |= 1 << sectorTowardsFast(this.point, 0, l.remotePoint, 0);
      }
      this.busyMask = mask;
      this.busyVersion = this.neighborSetVersion;
    }
    return this.busyMask;
  }

  /** Bumped when the set of usable neighbours changes (adverts and the busy mask follow it). */
  neighborSetVersion = 0;
  private busyMask = 0;
  private busyVersion = -1;

  /** The policy view of this peer's neighbourhood, rebuilt when anything in it changed. */
  currentView(): LocalView {
    if (this.view.builtVersion !== this.version) {
      this.view.rebuild(this.point, this.busySectors(), this.neighbors.values(), this.version);
    }
    return this.view;
  }
}

interface PendingRequest {
  readonly key: string;
  readonly hop: Hop;
  readonly bytes: Uint8Array;
  readonly label: string;
  readonly tx: string;
  intervalMs: number;
  readonly expiresAt: number;
  timer: number | undefined;
  retransmissions: number;
  readonly onNpack: (code: number) => void;
  readonly onExpire: () => void;
}

export interface EngineOptions {
  readonly crypto: Crypto;
  readonly rng: Rng;
  readonly vision: VisionEmitter;
  /** Name of this engine in vision records (e.g. "EP3", "U17"). */
  readonly name: string;
  /** Current time at construction. */
  readonly nowMs: number;
  readonly config?: Partial<DrpConfig>;
  /** The application's answer to INVITEs (default: answer nobody). */
  readonly onInvite?: InviteHandler;
  /** The public endpoint, when known up front (hosts with public addresses, entry peers). */
  readonly publicEndpoint?: Endpoint;
}

export class EngineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineConfigError';
  }
}

export class DrpEngine {
  readonly config: DrpConfig;
  readonly crypto: Crypto;
  readonly rng: Rng;
  readonly vision: VisionEmitter;
  readonly name: string;
  onInvite: InviteHandler;
  /** Where relayed direct-channel datagrams for a local registration go (default: dropped). */
  onRelayed: RelayHandler = () => {};
  /** Our endpoint as the Internet sees it (reflected by an entry peer), when known. */
  publicEndpoint: Endpoint | undefined;

  readonly localPeers: LocalPeer[] = [];
  /** Neighbour links by local token. */
  readonly links = new Map<number, NeighborLink>();
  readonly timers: TimerQueue;
  readonly drops: Record<DropReason, number>;
  /** Counters of what the engine did (for testers and benchmarks). */
  readonly stats = {
    datagramsIn: 0,
    datagramsOut: 0,
    retransmissions: 0,
    requestsExpired: 0,
    npacksSent: 0,
    relayed: 0,
  };

  private readonly outbox: Outgoing[] = [];
  private readonly events: EngineEvent[] = [];
  private readonly pending = new Map<string, PendingRequest>();
  /** Entry-mode requests in flight per endpoint. */
  private readonly pendingByHop = new Map<string, number>();
  private readonly responseCache = new Map<string, number>();
  private entrySeq: number;
  private powJobSeq = 1;
  readonly powCallbacks = new Map<number, (nonce: Uint8Array | null, now: number) => void>();
  now: number;

  readonly register: RegisterRole;
  readonly invite: InviteRole;
  readonly relay: RelayRole;
  readonly upkeep: Upkeep;
  readonly challenges: Pow2ChallengeTable;
  /** Replay filters: proxied/accepted requests by (regID, timestamp), ephemeral keys, PoW1 nonces. */
  readonly seenRequests: ReplayFilter;
  readonly seenEphemeralKeys: ReplayFilter;
  readonly seenPow1: ReplayFilter;

  constructor(opts: EngineOptions) {
    const config = { ...drpConfigDefault, ...opts.config };
    const problem = validateDrpConfig(config);
    if (problem !== undefined) throw new EngineConfigError(problem);
    this.config = config;
    this.crypto = opts.crypto;
    this.rng = opts.rng;
    this.vision = opts.vision;
    this.name = opts.name;
    this.now = opts.nowMs;
    this.onInvite = opts.onInvite ?? (() => null);
    this.publicEndpoint = opts.publicEndpoint;
    this.timers = new TimerQueue(config.transactionsMax * 8);
    this.drops = Object.fromEntries(
      (
        [
          'decode',
          'unknownToken',
          'badMac',
          'wrongSource',
          'badSignature',
          'badTimestamp',
          'replay',
          'badPow',
          'rateLimited',
          'unexpected',
          'badCiphertext',
          'tableFull',
          'notEntryPeer',
        ] as const
      ).map((r) => [r, 0]),
    ) as Record<DropReason, number>;
    this.entrySeq = this.rng.uint32();
    this.challenges = new Pow2ChallengeTable();
    this.seenRequests = new ReplayFilter({ entriesMax: config.replaySetEntriesMax });
    this.seenEphemeralKeys = new ReplayFilter({ entriesMax: config.replaySetEntriesMax });
    this.seenPow1 = new ReplayFilter({ entriesMax: config.replaySetEntriesMax });
    this.register = new RegisterRole(this);
    this.invite = new InviteRole(this);
    this.relay = new RelayRole(this);
    this.upkeep = new Upkeep(this);
  }

  // ---------------------------------------------------------------- driver interface

  /** Adds a local registration. Its key pair is drawn from the engine's Rng unless given. */
  addLocalPeer(name: string, entryPeers: readonly Endpoint[], regKey?: Ed25519PrivateKey): LocalPeer {
    const key = regKey ?? this.crypto.ed25519FromSeed(this.rng.bytes(32));
    const peer = new LocalPeer(
      this.localPeers.length,
      name,
      key,
      [...entryPeers],
      this.config.neighborsHardMax,
    );
    this.localPeers.push(peer);
    this.upkeep.start(peer);
    return peer;
  }

  /** Starts registration of `peer` through one of its entry peers (no-op while one is in flight). */
  startRegistration(now: number, peer: LocalPeer): void {
    this.now = now;
    this.register.startViaEntry(peer);
  }

  /**
   * Sends an INVITE from `peer` to `responderRegId`, carrying `sessionDescription` (given to the callee
   * encrypted in ACK2) and, for a first contact, the callee's one-time `contactInvitationToken`. Returns
   * the invite id that the `inviteCompleted`/`inviteFailed` event names.
   */
  sendInvite(
    now: number,
    peer: LocalPeer,
    responderRegId: Uint8Array,
    sessionDescription: Uint8Array,
    contactInvitationToken: Uint8Array | null = null,
  ): number {
    this.now = now;
    return this.invite.start(peer, responderRegId, sessionDescription, contactInvitationToken);
  }

  /**
   * A direct-channel datagram from `peer` to the registration `targetRegId` through DRP neighbours
   * (./relay.ts): the Relay packet for its first hop, which the caller sends `copies` times (2 while the
   * links are lossy), or null when it cannot leave (no neighbour; counted in `relay.stats`).
   */
  sendRelayed(
    now: number,
    peer: LocalPeer,
    targetRegId: Uint8Array,
    payload: Uint8Array,
  ): (Outgoing & { readonly copies: number }) | null {
    this.now = now;
    return this.relay.send(peer, targetRegId, payload);
  }

  onDatagram(now: number, from: Endpoint, bytes: Uint8Array): void {
    this.now = now;
    this.stats.datagramsIn++;
    // Overload guard: each input may start a transaction with deadlines; near the timer bound the engine
    // sheds input rather than failing an internal bound later.
    if (this.timers.size >= this.timers.capacity - timersHeadroom) {
      this.drop('tableFull', from, { reason: 'timer table near its bound' });
      return;
    }
    const r = decodeDatagram(bytes);
    if (!r.ok) {
      this.drop('decode', from, { code: r.code, ...(r.field !== undefined ? { field: r.field } : {}) });
      return;
    }
    const p = r.packet;
    const mac = macOf(p);
    if (mac !== null && p.type !== PacketType.DmpPing && p.type !== PacketType.DmpPong) {
      const token = (p as { linkToken: number }).linkToken;
      const link = this.links.get(token);
      if (link === undefined) {
        this.drop('unknownToken', from, { type: packetTypeName(p.type) });
        return;
      }
      if (from.address !== link.remoteEndpoint.address) {
        this.drop('wrongSource', from, {
          type: packetTypeName(p.type),
          expected: link.remoteEndpoint.address,
        });
        return;
      }
      if (!this.crypto.hmacSha256Verify(link.rxKey, macCoveredBytes(bytes), mac)) {
        this.drop('badMac', from, { type: packetTypeName(p.type) });
        return;
      }
      // Link packets must come from the link's endpoint. A PING may come from another port of the same
      // address (a NAT rebinding, or a replay): it starts a probe of that port, and the probe's PONG is the
      // one packet accepted from there. Only packets from the link's endpoint prove the neighbour alive.
      const knownPort = from.port === link.remoteEndpoint.port;
      if (
        !knownPort &&
        p.type !== PacketType.Ping &&
        !(p.type === PacketType.Pong && from.port === link.candidatePort)
      ) {
        this.drop('wrongSource', from, {
          type: packetTypeName(p.type),
          expectedPort: link.remoteEndpoint.port,
        });
        return;
      }
      if (knownPort) link.lastHeardMs = now;
      this.onLinkPacket(link, from, p);
    } else {
      this.onEntryPacket(from, p);
    }
  }

  onTimer(now: number): void {
    this.now = now;
    this.timers.runDue(now);
  }

  /** When the driver must call `onTimer` next (ms), or Infinity. */
  nextDeadline(): number {
    return this.timers.next();
  }

  /** Hands queued datagrams and events to the driver. */
  drain(send: (o: Outgoing) => void, event: (e: EngineEvent) => void): void {
    // Events first: a driver may react to an event by feeding input, which queues more output.
    while (this.events.length > 0 || this.outbox.length > 0) {
      if (this.events.length > 0) {
        const events = this.events.splice(0);
        for (const e of events) event(e);
      }
      // Datagrams are sent in order; a handler cannot add to the outbox while sending (no re-entry).
      const out = this.outbox;
      for (let i = 0; i < out.length; i++) send(out[i]!);
      out.length = 0;
    }
  }

  /** The driver's answer to a `powJob` event (nonce null: gave up). */
  onPowSolved(now: number, jobId: number, nonce: Uint8Array | null): void {
    this.now = now;
    const cb = this.powCallbacks.get(jobId);
    if (cb === undefined) return;
    this.powCallbacks.delete(jobId);
    cb(nonce, now);
  }

  /** Closes every link politely and stops all activity (the app is shutting down). */
  shutdown(now: number): void {
    this.now = now;
    for (const link of [...this.links.values()]) this.upkeep.closeLink(link, 'shutdown', true);
  }

  // ---------------------------------------------------------------- internal services

  emit(e: EngineEvent): void {
    this.events.push(e);
  }

  requestPow(job: PowJob, done: (nonce: Uint8Array | null, now: number) => void): void {
    const jobId = this.powJobSeq++;
    this.powCallbacks.set(jobId, done);
    this.emit({ type: 'powJob', jobId, job });
  }

  /** Vision record, built only if someone listens at that level. */
  record(
    level: AttentionLevel,
    peer: string,
    message: string,
    attributes?: () => Attributes,
    module: string = visionModule,
  ): void {
    if (!this.vision.wants(module, level)) return;
    this.vision.emit({
      timeMs: this.now,
      peer,
      module,
      level,
      message,
      ...(attributes !== undefined ? { attributes: attributes() } : {}),
    });
  }

  drop(reason: DropReason, from: Endpoint, attrs: Attributes = {}): void {
    this.drops[reason]++;
    const level = reason === 'badSignature' ? AttentionLevel.strongPain : AttentionLevel.detail;
    this.record(level, this.name, `dropped datagram: ${reason}`, () => ({
      reason,
      from: endpointKey(from),
      ...attrs,
    }));
  }

  sendRaw(to: Endpoint, bytes: Uint8Array): void {
    if (this.outbox.length >= this.config.outboxDatagramsMax) {
      this.record(AttentionLevel.lightPain, this.name, 'outbox full: datagram shed', () => ({
        outboxDatagramsMax: this.config.outboxDatagramsMax,
      }));
      return;
    }
    this.stats.datagramsOut++;
    this.outbox.push({ to, bytes });
  }

  /** Encodes a packet for a hop: sealed with the link's MAC, or plain in entry mode. */
  encodeFor(hop: Hop, packet: Packet): Uint8Array {
    if (isLinkHop(hop))
      return sealDatagram(packet, (covered) => this.crypto.hmacSha256(hop.link.txKey, covered));
    return encodeDatagram(packet);
  }

  /** Link fields of a packet sent on `hop` (entry mode: nulls). */
  linkFields(hop: Hop): { linkToken: number | null; linkMac: Uint8Array | null } {
    return isLinkHop(hop)
      ? { linkToken: hop.link.remoteToken, linkMac: macPlaceholder }
      : { linkToken: null, linkMac: null };
  }

  nextSeq(hop: Hop): number {
    if (isLinkHop(hop)) return hop.link.takeSeq();
    const s = this.entrySeq;
    this.entrySeq = (this.entrySeq + 1) >>> 0;
    return s;
  }

  private hopKey(hop: Hop): string {
    return isLinkHop(hop) ? `L${hop.link.localToken}` : `E${endpointKey(hop.endpoint)}`;
  }

  /**
   * Sends a request on `hop` and retransmits it until the hop's NPACK (→ `onNpack(code)`) or until
   * `requestExpiryMs` (→ `onExpire`). `build(seq)` makes the packet.
   */
  sendRequest(
    hop: Hop,
    tx: string,
    label: string,
    build: (seq: number) => Packet,
    onNpack: (code: number) => void,
    onExpire: () => void,
  ): number {
    const seq = this.nextSeq(hop);
    const bytes = this.encodeFor(hop, build(seq));
    const hopKey = this.hopKey(hop);
    const key = `${hopKey}#${seq}`;
    if (!isLinkHop(hop) && (this.pendingByHop.get(hopKey) ?? 0) >= entryRequestsPerEndpointMax) {
      // An endpoint without a link that does not acknowledge gets no more of our retransmission budget.
      this.record(
        AttentionLevel.detail,
        this.name,
        'entry-mode requests to this endpoint at their bound',
        () => ({
          tx,
          label,
          to: endpointKey(hop.endpoint),
        }),
      );
      onExpire();
      return seq;
    }
    if (this.pending.size >= this.config.transactionsMax) {
      this.record(
        AttentionLevel.mediumPain,
        this.name,
        'too many requests in flight: request not sent',
        () => ({
          tx,
          label,
        }),
      );
      onExpire();
      return seq;
    }
    const p: PendingRequest = {
      key,
      hop,
      bytes,
      label,
      tx,
      intervalMs: this.config.retransmitFirstMs,
      expiresAt: this.now + this.config.requestExpiryMs,
      timer: undefined,
      retransmissions: 0,
      onNpack,
      onExpire,
    };
    this.pending.set(key, p);
    if (!isLinkHop(hop)) this.pendingByHop.set(hopKey, (this.pendingByHop.get(hopKey) ?? 0) + 1);
    this.sendRaw(hopEndpoint(hop), bytes);
    this.armRetransmit(p);
    return seq;
  }

  private forget(p: PendingRequest): void {
    this.pending.delete(p.key);
    this.timers.cancel(p.timer);
    if (!isLinkHop(p.hop)) {
      const k = this.hopKey(p.hop);
      const n = (this.pendingByHop.get(k) ?? 1) - 1;
      if (n <= 0) this.pendingByHop.delete(k);
      else this.pendingByHop.set(k, n);
    }
  }

  private armRetransmit(p: PendingRequest): void {
    const at = Math.min(this.now + Math.round(p.intervalMs), p.expiresAt);
    p.timer = this.timers.schedule(at, () => {
      if (this.pending.get(p.key) !== p) return;
      if (this.now >= p.expiresAt) {
        this.forget(p);
        this.stats.requestsExpired++;
        this.record(AttentionLevel.lightPain, this.name, `${p.label}: no NPACK, gave up`, () => ({
          tx: p.tx,
          to: endpointKey(hopEndpoint(p.hop)),
          retransmissions: p.retransmissions,
        }));
        p.onExpire();
        return;
      }
      p.retransmissions++;
      this.stats.retransmissions++;
      if (p.retransmissions === 3) {
        this.record(AttentionLevel.lightPain, this.name, `${p.label}: retransmitted 3 times`, () => ({
          tx: p.tx,
          to: endpointKey(hopEndpoint(p.hop)),
        }));
      }
      this.sendRaw(hopEndpoint(p.hop), p.bytes);
      p.intervalMs *= this.config.retransmitBackoff;
      this.armRetransmit(p);
    });
  }

  /**
   * Stops retransmitting the request sent on `hop` with `seq` without calling its callbacks: an answer
   * further along (ACK1) already showed the hop took it, even if its NPACK was lost.
   */
  settleRequest(hop: Hop, seq: number): void {
    const key = `${this.hopKey(hop)}#${seq}`;
    const p = this.pending.get(key);
    if (p === undefined) return;
    this.forget(p);
  }

  /** Abandons the retransmission of every request sent on `link` (the link died). */
  abandonRequestsOn(link: NeighborLink): void {
    const prefix = `L${link.localToken}#`;
    for (const [key, p] of [...this.pending]) {
      if (!key.startsWith(prefix)) continue;
      this.forget(p);
      p.onExpire();
    }
  }

  private onNpack(hop: Hop, p: Npack): void {
    const key = `${this.hopKey(hop)}#${p.seq}`;
    const pending = this.pending.get(key);
    if (pending === undefined) {
      // A duplicate NPACK (its request was retransmitted), one for a request we gave up on, or a stray.
      this.drops.unexpected++;
      return;
    }
    this.forget(pending);
    pending.onNpack(p.code);
  }

  /**
   * If the request (`type`, `seq`) from `hop` was already processed, re-sends its NPACK and returns true:
   * the caller must not process it again.
   */
  answeredBefore(hop: Hop, type: number, seq: number): boolean {
    const key = `${this.hopKey(hop)}#${type}#${seq}`;
    const c = this.responseCache.get(key);
    if (c === undefined) return false;
    const expiresAt = Math.floor(c / responseCodeSpan);
    if (expiresAt < this.now) {
      this.responseCache.delete(key);
      return false;
    }
    this.sendRaw(hopEndpoint(hop), this.encodeNpack(hop, seq, c % responseCodeSpan));
    return true;
  }

  /** Answers a request with NPACK(code) and remembers the answer for its retransmissions. */
  sendNpack(hop: Hop, type: number, seq: number, code: number): void {
    this.stats.npacksSent++;
    this.sendRaw(hopEndpoint(hop), this.encodeNpack(hop, seq, code));
    this.cacheResponse(`${this.hopKey(hop)}#${type}#${seq}`, code);
  }

  private encodeNpack(hop: Hop, seq: number, code: number): Uint8Array {
    return this.encodeFor(hop, { type: PacketType.Npack, ...this.linkFields(hop), seq, code } as Npack);
  }

  /**
   * The response cache holds, per answered request, one number: its expiry × `responseCodeSpan` + the
   * NPACK code. A retransmission gets the NPACK encoded again — rare, and cheaper than keeping every
   * answer's bytes (the cache holds thousands of entries per busy engine).
   */
  private cacheResponse(key: string, code: number): void {
    // Entries expire in insertion order (every one lives `responseCacheMs`), and Map iteration is insertion
    // order: drop expired entries from the front on every insert, so the cache holds what is live — not
    // `responseCacheEntriesMax` dead entries per engine — and, at the bound, the oldest live one.
    for (const [k, v] of this.responseCache) {
      if (
        Math.floor(v / responseCodeSpan) < this.now ||
        this.responseCache.size >= this.config.responseCacheEntriesMax
      ) {
        this.responseCache.delete(k);
      } else break;
    }
    this.responseCache.set(key, (this.now + this.config.responseCacheMs) * responseCodeSpan + code);
  }

  /** Sends FAILURE(code) for the request that arrived on `hop` with `failedSeq`; retransmitted until NPACK. */
  sendFailure(hop: Hop, tx: string, failedSeq: number, code: number): void {
    this.sendRequest(
      hop,
      tx,
      'FAILURE',
      (seq) => ({ type: PacketType.Failure, ...this.linkFields(hop), seq, failedSeq, code }) as Failure,
      () => {},
      () => {},
    );
  }

  // ---------------------------------------------------------------- dispatch

  private onLinkPacket(link: NeighborLink, from: Endpoint, p: Packet): void {
    const hop = { link };
    switch (p.type) {
      case PacketType.Npack:
        this.onNpack(hop, p);
        return;
      case PacketType.Ping:
        this.upkeep.onPing(link, from, p);
        return;
      case PacketType.Pong:
        this.upkeep.onPong(link, from, p);
        return;
      case PacketType.LinkClose:
        if (this.answeredBefore(hop, p.type, p.seq)) return;
        this.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
        this.upkeep.closeLink(link, 'closed by remote', false);
        return;
      case PacketType.Failure:
        if (this.answeredBefore(hop, p.type, p.seq)) return;
        this.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
        this.onFailure(link, p);
        return;
      case PacketType.RegisterReq:
      case PacketType.RegisterAck1:
      case PacketType.RegisterAck2:
      case PacketType.RegisterCfm:
        this.register.onPacket(hop, p, from);
        return;
      case PacketType.InviteReq:
        this.invite.onRequest(link, p);
        return;
      case PacketType.InviteAck1:
        this.invite.onAck1(link, p);
        return;
      case PacketType.InviteAck2:
        this.invite.onAck2(link, p);
        return;
      case PacketType.InviteCfm:
        this.invite.onCfm(link, p);
        return;
      case PacketType.Relay:
        this.relay.onPacket(link, p);
        return;
      default:
        this.drop('unexpected', from, { type: packetTypeName(p.type) });
    }
  }

  private onEntryPacket(from: Endpoint, p: Packet): void {
    const hop = { endpoint: from };
    switch (p.type) {
      case PacketType.NatTestReq:
        this.register.onNatTestRequest(from, p);
        return;
      case PacketType.NatTestResp:
        this.register.onNatTestResponse(from, p);
        return;
      case PacketType.Pow1Request:
        this.register.onPow1Request(from, p);
        return;
      case PacketType.Pow1Response:
        this.register.onPow1Response(from, p);
        return;
      case PacketType.Npack:
        this.onNpack(hop, p);
        return;
      case PacketType.Failure:
        if (this.answeredBefore(hop, p.type, p.seq)) return;
        this.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
        this.register.onEntryFailure(hop, p);
        return;
      case PacketType.RegisterReq:
      case PacketType.RegisterAck1:
      case PacketType.RegisterAck2:
      case PacketType.RegisterCfm:
        this.register.onPacket(hop, p, from);
        return;
      default:
        this.drop('unexpected', from, { type: packetTypeName(p.type) });
    }
  }

  /** A FAILURE from a link: the request we sent there with `failedSeq` failed after being accepted. */
  private onFailure(link: NeighborLink, p: Failure): void {
    if (this.register.onFailure(link, p)) return;
    if (this.invite.onFailure(link, p)) return;
    this.record(AttentionLevel.detail, this.name, 'FAILURE for no known request', () => ({
      failedSeq: p.failedSeq,
      code: p.code,
    }));
  }
}
