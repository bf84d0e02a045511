/**
 * REGISTER: how a registration gets neighbours.
 *
 * Requester A (./register.ts `startViaEntry`, `startViaNeighbor`):
 *   entry:    NatTest → PoW1 → Pow1Request → (challenge) → PoW2 → REQ in entry mode to the entry peer
 *   neighbour: REQ over an existing link (no PoW), 0..9 random hops, optionally steered by a direction
 *   then: NPACK(accepted) → wait ACK1 (signed by N, N's link parameters encrypted to A) → NPACK →
 *   ACK2 (A's parameters encrypted to N, signed over REQ‖ACK1‖ACK2) → both sides derive the link keys →
 *   simultaneous PINGs (hole punching) → N's first PONG carries N's confirmation signature → CFM with
 *   both signatures travels the REGISTER path to N.
 *
 * Every hop (entry peer, proxies, N) checks the timestamp window, the rate budget of the link it came
 * from, the requester's signature (proxies verify: a neighbour must not be able to register someone
 * else's regID), and loops/replays; then either accepts (it is better for A than all its neighbours —
 * `registerStep` of ./policy.ts), forwards, or refuses with NPACK. A hop that already NPACKed and
 * later runs out of next hops sends FAILURE upstream. Relays remember the path by the transaction id
 * (requester regID, timestamp) to carry ACK1 back and ACK2/CFM forward.
 *
 * Transactions are objects with a `state`; each holds only what its state needs and its own deadline.
 */
import { dimensions, pointOfRegId } from '../id/geometry.js';
import { verifyPow1 } from '../pow/pow.js';
import type { Endpoint } from '../seams/transport.js';
import { AttentionLevel } from '../vision/attention.js';
import {
  decodeLinkParams,
  encodeDatagram,
  encodeLinkParams,
  endpointFromWire,
  endpointToWire,
  type Failure,
  keyLabel,
  NatFlags,
  type NatTestReq,
  type NatTestResp,
  PacketType,
  type Pow1Request,
  type Pow1Response,
  Pow1Status,
  type RegisterAck1,
  type RegisterAck2,
  type RegisterCfm,
  RegisterFlags,
  type RegisterReq,
  ResultCode,
  regIdBytes,
  registerAck1KdfTranscript,
  registerAck1SignedBytes,
  registerAck2KdfTranscript,
  registerAck2SignedBytes,
  registerLinkKdfTranscript,
  registerReqSignedBytes,
  registerRequesterCfmSignedBytes,
  registerResponderCfmSignedBytes,
} from '../wire/index.js';
import { checkTimestamp, regIdTimestampKey } from '../wire/replay.js';
import {
  type DrpEngine,
  endpointKey,
  type Hop,
  hex,
  hopEndpoint,
  isLinkHop,
  type LocalPeer,
} from './engine.js';
import { NeighborLink } from './neighbor.js';
import { registerAcceptHere, registerNoRoute, registerStep, routingPolicyDefault } from './policy.js';
import type { TimerId } from './timers.js';
import type { RegistrationFailure } from './types.js';

const zeroNonce = new Uint8Array(12);
const empty = new Uint8Array(0);
const natTestRetryMs = 500;
/** Close reasons that end a registration as `alreadyConnected` rather than as a failure. */
const crossingRegistration = 'crossing registration';
const ack2Declined = 'ACK2 declined';
const natTestExpiryMs = 5_000;

export type RegisterPurpose = 'entry' | 'extension' | 'gap';

/** A registration in flight at the requester. */
interface Attempt {
  readonly tx: string;
  readonly peer: LocalPeer;
  readonly purpose: RegisterPurpose;
  readonly startedMs: number;
  state:
    | 'natTest'
    | 'pow1'
    | 'awaitPow1Response'
    | 'pow2'
    | 'awaitNpack'
    | 'awaitAck1'
    | 'punching'
    | 'done'
    | 'failed';
  via: Hop | undefined;
  entry: Endpoint | undefined;
  ephPriv: Uint8Array;
  req: RegisterReq | undefined;
  reqSeq: number;
  timer: TimerId | undefined;
  requestId: number;
  /** An entry REGISTER the entry peer itself is asked to accept (hopsRemaining 1). */
  entryDirect: boolean;
}

/** A REGISTER this engine relays: where it came from and where it went. */
interface Relay {
  readonly tx: string;
  readonly upstream: Hop;
  readonly upstreamSeq: number;
  readonly req: RegisterReq;
  readonly peer: LocalPeer;
  downstream: NeighborLink | undefined;
  downstreamSeq: number;
  readonly tried: Set<NeighborLink>;
  tries: number;
  timer: TimerId | undefined;
  /** ACK1 came back through `downstream`: the relay is bound to that branch. */
  answered: boolean;
}

/** A REGISTER this engine accepted (it is N). */
interface Accepting {
  readonly tx: string;
  readonly peer: LocalPeer;
  readonly upstream: Hop;
  readonly req: RegisterReq;
  readonly ack1: RegisterAck1;
  readonly dh: Uint8Array;
  readonly localToken: number;
  state: 'awaitAck2' | 'awaitCfm';
  ack2: RegisterAck2 | undefined;
  link: NeighborLink | undefined;
  timer: TimerId | undefined;
}

export function registerTxId(regId: Uint8Array, timestampMs: number): string {
  return `R${hex(regId)}:${timestampMs}`;
}

/**
 * Acceptances awaiting their ACK2 that one upstream hop may hold at a peer. Each holds a place under the
 * neighbour maximum until its ACK2 or its timeout (`ack2TimeoutMs` + `requestExpiryMs`), and the ACK2 is
 * the requester's to send: a neighbour forwarding REGISTERs under regIDs of its own making and never
 * finishing them could otherwise fill a peer's table with places nobody takes.
 */
export const acceptsAwaitingAck2PerHopMax = 2;

export class RegisterRole {
  private readonly attempts = new Map<string, Attempt>();
  /** Attempts by (hop, seq) of their REQ, for FAILURE. */
  private readonly attemptsBySeq = new Map<string, Attempt>();
  /** Entry attempts by entry endpoint, for NatTest and PoW1 responses. */
  private readonly attemptsByEntry = new Map<string, Attempt>();
  /** Attempts in flight per local peer (at most one). */
  readonly inFlight = new Map<number, Attempt>();
  private readonly relays = new Map<string, Relay>();
  private readonly relaysByDownstream = new Map<string, Relay>();
  private readonly accepting = new Map<string, Accepting>();
  /**
   * Acceptances awaiting their ACK2, per registration (local peer index): their links are not among its
   * neighbours yet, but they will be, so they count towards `neighborsHardMax` when the next REGISTER is
   * offered. Without them a much-asked peer (an entry peer) accepted a burst past its maximum.
   */
  private readonly acceptsAwaitingAck2 = new Map<number, number>();
  private requestIdSeq: number;
  private lastTimestampMs = 0;
  /**
   * Punching failures in a row (`punchTimeout`) per registration (local peer index). An entry REGISTER
   * walks greedily to the same acceptor every time; when that acceptor's NAT and ours cannot punch
   * (RFC 4787: symmetric ↔ port-restricted or symmetric) or our ISP drops UDP between consumers, the
   * walk must end elsewhere. A registration that failed to punch asks an entry peer it has no link with
   * to accept it itself (an entry peer is a public server: reachable through any NAT or ISP); with a link
   * to every entry peer, its entry REGISTERs start with random hops instead. After two failures in a row
   * its extensions through neighbours go to an unlinked entry peer too.
   */
  private readonly punchFailures = new Map<number, number>();

  constructor(private readonly e: DrpEngine) {
    this.requestIdSeq = e.rng.uint32();
  }

  get relayCount(): number {
    return this.relays.size;
  }

  // ============================================================ requester

  /** Registers `peer` through one of its entry peers (NatTest, PoW1, PoW2, REQ). */
  startViaEntry(peer: LocalPeer, purpose: RegisterPurpose = 'entry'): boolean {
    const e = this.e;
    if (this.inFlight.has(peer.index)) return false;
    if (this.linksPromised(peer) >= e.config.neighborsHardMax) {
      e.emit({ type: 'registrationFailed', peer: peer.name, reason: 'neighbourTableFull' });
      return false;
    }
    if (peer.entryPeers.length === 0) {
      e.emit({ type: 'registrationFailed', peer: peer.name, reason: 'noEntryPeer' });
      return false;
    }
    const unlinked = this.punchFailures.has(peer.index) ? this.unlinkedEntryPeers(peer) : [];
    const entry =
      unlinked.length > 0
        ? unlinked[e.rng.int(unlinked.length)]!
        : peer.entryPeers[e.rng.int(peer.entryPeers.length)]!;
    const a = this.newAttempt(peer, purpose);
    a.entryDirect = unlinked.length > 0;
    a.entry = entry;
    a.via = { endpoint: entry };
    this.attemptsByEntry.set(endpointKey(entry), a);
    e.record(AttentionLevel.higherLevelDetail, peer.name, 'registering through entry peer', () => ({
      tx: a.tx,
      entry: endpointKey(entry),
    }));
    if (e.publicEndpoint === undefined) this.natTest(a, entry);
    else this.solvePow1(a);
    return true;
  }

  /**
   * Registers `peer` again through its neighbour `link`: the REQ takes `randomHops` random hops, then
   * walks greedily back towards `peer`'s point (optionally steered by `direction`) to a new neighbour.
   */
  startViaNeighbor(
    peer: LocalPeer,
    link: NeighborLink,
    randomHops: number,
    direction: Int8Array | null,
    purpose: RegisterPurpose,
  ): boolean {
    if (this.inFlight.has(peer.index) || this.linksPromised(peer) >= this.e.config.neighborsHardMax)
      return false;
    if ((this.punchFailures.get(peer.index) ?? 0) >= 2 && this.unlinkedEntryPeers(peer).length > 0) {
      return this.startViaEntry(peer, purpose);
    }
    const a = this.newAttempt(peer, purpose);
    a.via = { link };
    this.sendReq(a, randomHops, direction, null);
    return true;
  }

  private newAttempt(peer: LocalPeer, purpose: RegisterPurpose): Attempt {
    const e = this.e;
    // Timestamps identify transactions (with the regID): strictly increasing, so an attempt started in
    // the same millisecond as a failed one is a new transaction everywhere.
    const ts = Math.max(e.now, this.lastTimestampMs + 1);
    this.lastTimestampMs = ts;
    const a: Attempt = {
      tx: registerTxId(peer.regId, ts),
      peer,
      purpose,
      startedMs: e.now,
      state: 'natTest',
      via: undefined,
      entry: undefined,
      ephPriv: e.rng.bytes(32),
      req: undefined,
      reqSeq: -1,
      timer: undefined,
      requestId: this.requestIdSeq++ >>> 0,
      entryDirect: false,
    };
    this.inFlight.set(peer.index, a);
    return a;
  }

  private fail(a: Attempt, reason: RegistrationFailure): void {
    if (a.state === 'failed' || a.state === 'done') return;
    a.state = 'failed';
    this.finish(a);
    const e = this.e;
    e.upkeep.noteFailure(a.peer.index);
    if (reason === 'punchTimeout') {
      this.punchFailures.set(a.peer.index, (this.punchFailures.get(a.peer.index) ?? 0) + 1);
    }
    // A walk that finds no acceptor, or a peer that became a neighbour meanwhile, is the normal end of
    // some extensions in a dense neighbourhood; the other reasons are failures of the protocol or network.
    const benign = reason === 'alreadyConnected' || (reason === 'rejected' && a.purpose !== 'entry');
    e.record(
      benign ? AttentionLevel.needsAttention : AttentionLevel.lightPain,
      a.peer.name,
      `registration failed: ${reason}`,
      () => ({
        tx: a.tx,
        purpose: a.purpose,
        reason,
        elapsedMs: e.now - a.startedMs,
      }),
    );
    e.emit({ type: 'registrationFailed', peer: a.peer.name, reason });
  }

  private finish(a: Attempt): void {
    this.e.timers.cancel(a.timer);
    a.timer = undefined;
    if (this.inFlight.get(a.peer.index) === a) this.inFlight.delete(a.peer.index);
    if (a.entry !== undefined && this.attemptsByEntry.get(endpointKey(a.entry)) === a) {
      this.attemptsByEntry.delete(endpointKey(a.entry));
    }
    // Keep the tx entry a little longer so late ACK1s are recognised as stale, not as strangers.
    const tx = a.tx;
    this.e.timers.schedule(this.e.now + this.e.config.responseCacheMs, () => {
      if (this.attempts.get(tx) === a) this.attempts.delete(tx);
    });
    if (a.via !== undefined && a.reqSeq >= 0) this.attemptsBySeq.delete(this.seqKey(a.via, a.reqSeq));
  }

  private seqKey(hop: Hop, seq: number): string {
    return isLinkHop(hop) ? `L${hop.link.localToken}#${seq}` : `E${endpointKey(hop.endpoint)}#${seq}`;
  }

  private natTest(a: Attempt, entry: Endpoint): void {
    const e = this.e;
    a.state = 'natTest';
    const started = e.now;
    const bytes = encodeNatTestReq(a.requestId);
    const send = (): void => {
      if (a.state !== 'natTest') return;
      if (e.now - started >= natTestExpiryMs) {
        this.fail(a, 'natTestTimeout');
        return;
      }
      e.sendRaw(entry, bytes);
      a.timer = e.timers.schedule(e.now + natTestRetryMs, send);
    };
    send();
  }

  onNatTestResponse(from: Endpoint, p: NatTestResp): void {
    const a = this.attemptsByEntry.get(endpointKey(from));
    if (a === undefined || a.state !== 'natTest' || p.requestId !== a.requestId) {
      this.e.drop('unexpected', from, { type: 'NatTestResp' });
      return;
    }
    this.e.timers.cancel(a.timer);
    this.e.publicEndpoint = endpointFromWire(p.requesterEndpoint);
    this.solvePow1(a);
  }

  private solvePow1(a: Attempt): void {
    const e = this.e;
    a.state = 'pow1';
    const ip = endpointToWire(e.publicEndpoint!).ipv4;
    const timestampS = Math.floor(e.now / 1000);
    e.requestPow({ kind: 'pow1', timestampS, ipv4: ip, bits: e.config.powBits }, (nonce) => {
      if (a.state !== 'pow1') return;
      if (nonce === null) {
        this.fail(a, 'powFailed');
        return;
      }
      a.state = 'awaitPow1Response';
      const req: Pow1Request = { type: PacketType.Pow1Request, timestampS, nonce, requestId: a.requestId };
      const bytes = encodeDatagram(req);
      let interval = e.config.retransmitFirstMs;
      const started = e.now;
      const send = (): void => {
        if (a.state !== 'awaitPow1Response') return;
        if (e.now - started >= e.config.requestExpiryMs) {
          this.fail(a, 'pow1Timeout');
          return;
        }
        e.sendRaw(a.entry!, bytes);
        a.timer = e.timers.schedule(e.now + Math.round(interval), send);
        interval *= e.config.retransmitBackoff;
      };
      send();
    });
  }

  onPow1Response(from: Endpoint, p: Pow1Response): void {
    const e = this.e;
    const a = this.attemptsByEntry.get(endpointKey(from));
    if (a === undefined || a.state !== 'awaitPow1Response' || p.requestId !== a.requestId) {
      e.drop('unexpected', from, { type: 'Pow1Response' });
      return;
    }
    e.timers.cancel(a.timer);
    if (p.status !== Pow1Status.ok || p.pow2Challenge === null) {
      this.fail(a, 'rejected');
      return;
    }
    a.state = 'pow2';
    const challenge = p.pow2Challenge;
    e.requestPow({ kind: 'pow2', challenge, regId: a.peer.regId, bits: e.config.powBits }, (nonce) => {
      if (a.state !== 'pow2') return;
      if (nonce === null) {
        this.fail(a, 'powFailed');
        return;
      }
      if (a.entryDirect) this.sendReq(a, 0, null, nonce, 1);
      else {
        const stuck = this.punchFailures.has(a.peer.index);
        this.sendReq(a, stuck ? 1 + e.rng.int(e.config.randomHopsMax) : 0, null, nonce);
      }
    });
  }

  private sendReq(
    a: Attempt,
    randomHops: number,
    direction: Int8Array | null,
    pow2Nonce: Uint8Array | null,
    hopsRemaining = this.e.config.hopsMax,
  ): void {
    const e = this.e;
    const hop = a.via!;
    a.state = 'awaitNpack';
    const ephPub = e.crypto.x25519PublicKey(a.ephPriv);
    e.seenEphemeralKeys.seen(ephPub, e.now);
    const epEndpoint = endpointToWire(hopEndpoint(hop));
    const signed = {
      requesterRegId: a.peer.regId,
      requesterEphemeralKey: ephPub,
      timestampMs: Number(a.tx.slice(a.tx.indexOf(':') + 1)),
      busySectors: a.peer.busySectors(),
      requesterFlags: a.peer.neighbors.size === 0 ? RegisterFlags.allowSameRegId : 0,
      directionVector: direction,
      epEndpoint,
    };
    const requesterSignature = e.crypto.ed25519Sign(a.peer.regKey, registerReqSignedBytes(signed));
    this.attempts.set(a.tx, a);
    a.reqSeq = e.sendRequest(
      hop,
      a.tx,
      'REGISTER',
      (seq) => {
        const req: RegisterReq = {
          type: PacketType.RegisterReq,
          ...e.linkFields(hop),
          ...signed,
          requesterSignature,
          pow2Nonce,
          hopsRemaining,
          randomHopsRemaining: randomHops,
          seq,
        } as RegisterReq;
        a.req = req;
        return req;
      },
      (code) => {
        if (a.state !== 'awaitNpack') return;
        if (code !== ResultCode.accepted) {
          this.fail(a, 'rejected');
          return;
        }
        a.state = 'awaitAck1';
        a.timer = e.timers.schedule(e.now + e.config.ack1TimeoutMs, () => this.fail(a, 'ack1Timeout'));
      },
      () => this.fail(a, 'noResponse'),
    );
    this.attemptsBySeq.set(this.seqKey(hop, a.reqSeq), a);
  }

  /** FAILURE (entry mode) from our entry peer for our REQ. */
  onEntryFailure(hop: Hop, p: Failure): void {
    const a = this.attemptsBySeq.get(this.seqKey(hop, p.failedSeq));
    if (a !== undefined) this.fail(a, 'rejected');
    else this.e.drops.unexpected++;
  }

  /** FAILURE on a link: ours (an attempt) or a relayed REQ's. Returns whether it was a REGISTER's. */
  onFailure(link: NeighborLink, p: Failure): boolean {
    const key = `L${link.localToken}#${p.failedSeq}`;
    const a = this.attemptsBySeq.get(key);
    if (a !== undefined) {
      this.fail(a, 'rejected');
      return true;
    }
    const r = this.relaysByDownstream.get(key);
    if (r !== undefined) {
      this.relaysByDownstream.delete(key);
      link.forwardedFailed++;
      if (p.code === ResultCode.hopsExhausted) this.failRelay(r, p.code);
      else this.forward(r);
      return true;
    }
    return false;
  }

  // ============================================================ entry peer

  onNatTestRequest(from: Endpoint, p: NatTestReq): void {
    this.e.sendRaw(from, encodeNatTestResp(p.requestId, from));
  }

  onPow1Request(from: Endpoint, p: Pow1Request): void {
    const e = this.e;
    if (!this.isEntryPeer()) {
      e.drop('notEntryPeer', from, { type: 'Pow1Request' });
      return;
    }
    if (checkTimestamp(p.timestampS * 1000, e.now, e.config.timestampToleranceMs) !== 'ok') {
      e.drop('badTimestamp', from, { type: 'Pow1Request' });
      return;
    }
    const ip = endpointToWire(from).ipv4;
    if (!verifyPow1(p.timestampS, ip, p.nonce, e.config.powBits)) {
      e.drop('badPow', from, { type: 'Pow1Request' });
      return;
    }
    const issued = e.challenges.issue(endpointKey(from), e.now, e.rng);
    if (!issued.ok) {
      e.drop('tableFull', from, { type: 'Pow1Request' });
      return;
    }
    // A solved PoW1 may be replayed by its solver to renew its challenge (lost response), never by others:
    // the challenge table is keyed by the source endpoint, so a replay from elsewhere buys nothing.
    e.sendRaw(from, encodePow1Response(p.requestId, issued.challenge));
  }

  /** Whether this engine accepts newcomers: it hosts a registration with a known public endpoint. */
  private isEntryPeer(): boolean {
    return this.e.localPeers.length > 0 && this.e.publicEndpoint !== undefined;
  }

  /** The REGISTER family, from a link or in entry mode. */
  onPacket(hop: Hop, p: RegisterReq | RegisterAck1 | RegisterAck2 | RegisterCfm, from: Endpoint): void {
    if (p.type === PacketType.RegisterReq) this.onRequest(hop, p, from);
    else if (p.type === PacketType.RegisterAck1) this.onAck1(hop, p, from);
    else if (p.type === PacketType.RegisterAck2) this.onAck2(hop, p);
    else this.onCfm(hop, p);
  }

  // ============================================================ every hop

  onRequest(hop: Hop, p: RegisterReq, from: Endpoint): void {
    const e = this.e;
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = registerTxId(p.requesterRegId, p.timestampMs);
    const refuse = (code: number, why: string): void => {
      e.sendNpack(hop, p.type, p.seq, code);
      e.record(AttentionLevel.detail, this.localNameFor(hop), `REGISTER refused: ${why}`, () => ({
        tx,
        code,
      }));
    };
    if (checkTimestamp(p.timestampMs, e.now, e.config.timestampToleranceMs) !== 'ok') {
      e.drops.badTimestamp++;
      refuse(ResultCode.badTimestamp, 'timestamp outside the window');
      return;
    }
    if (isLinkHop(hop)) {
      if (!hop.link.registerBudget.take(e.now)) {
        e.drops.rateLimited++;
        refuse(ResultCode.rateLimited, 'neighbour over its REGISTER budget');
        return;
      }
    } else {
      if (!this.isEntryPeer()) {
        e.drop('notEntryPeer', from, { type: 'RegisterReq' });
        return;
      }
      if (
        p.pow2Nonce === null ||
        !e.challenges.verify(endpointKey(from), e.now, p.requesterRegId, p.pow2Nonce, e.config.powBits)
      ) {
        e.drops.badPow++;
        refuse(ResultCode.badPow, 'no valid PoW2 for this endpoint');
        return;
      }
      // One REGISTER per solved challenge: its retransmissions are answered from the response cache,
      // and a newcomer that wants another must pay again.
      e.challenges.forget(endpointKey(from));
    }
    if (this.relays.size + this.accepting.size >= e.config.pendingRegistersMax) {
      e.drops.tableFull++;
      refuse(ResultCode.overloaded, 'too many REGISTERs pending here');
      return;
    }
    if (!e.crypto.ed25519Verify(p.requesterRegId, registerReqSignedBytes(p), p.requesterSignature)) {
      e.drop('badSignature', from, { type: 'RegisterReq', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    if (this.relays.has(tx) || this.attempts.has(tx) || this.accepting.has(tx)) {
      refuse(ResultCode.routeUnavailable, 'already pending here (loop)');
      return;
    }
    if (e.seenRequests.check(regIdTimestampKey(p.requesterRegId, p.timestampMs), e.now) !== 'new') {
      e.drops.replay++;
      refuse(ResultCode.duplicate, 'replayed or flooded request');
      return;
    }
    if (p.hopsRemaining === 0) {
      refuse(ResultCode.hopsExhausted, 'no hops left');
      return;
    }
    const peer = this.actingPeer(hop, p.requesterRegId);
    if (peer === undefined) {
      refuse(ResultCode.routeUnavailable, 'no local registration to act for');
      return;
    }
    const relay: Relay = {
      tx,
      upstream: hop,
      upstreamSeq: p.seq,
      req: p,
      peer,
      downstream: undefined,
      downstreamSeq: -1,
      tried: new Set(),
      tries: 0,
      timer: undefined,
      answered: false,
    };
    if (isLinkHop(hop)) relay.tried.add(hop.link);
    const decision = this.decide(relay, true);
    if (decision === 'none') {
      refuse(ResultCode.routeUnavailable, 'no neighbour closer and cannot accept');
      return;
    }
    e.seenRequests.seen(regIdTimestampKey(p.requesterRegId, p.timestampMs), e.now);
    if (decision === 'accept') {
      this.accept(relay);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    this.relays.set(tx, relay);
    relay.timer = e.timers.schedule(
      e.now + e.config.ack1TimeoutMs + e.config.ack2TimeoutMs + e.config.cfmTimeoutMs,
      () => this.dropRelay(relay),
    );
    this.forwardTo(relay, decision);
  }

  /** The local registration that handles a request arriving on `hop`. */
  private actingPeer(hop: Hop, requesterRegId: Uint8Array): LocalPeer | undefined {
    const e = this.e;
    if (isLinkHop(hop)) return e.localPeers[hop.link.localPeerIndex];
    const rh = hex(requesterRegId);
    // Entry mode: the registration nearest to the requester (but never the requester itself).
    let best: LocalPeer | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    const target = pointOfRegIdCached(requesterRegId);
    for (const lp of e.localPeers) {
      if (lp.regIdHex === rh) continue;
      const d = squaredDistance(lp.point, target);
      if (d < bestD) {
        bestD = d;
        best = lp;
      }
    }
    return best;
  }

  /** Entry peers `peer` holds no link with (compared by endpoint). */
  private unlinkedEntryPeers(peer: LocalPeer): Endpoint[] {
    const linked = new Set<string>();
    for (const l of peer.neighbors.values()) linked.add(endpointKey(l.remoteEndpoint));
    return peer.entryPeers.filter((ep) => !linked.has(endpointKey(ep)));
  }

  private localNameFor(hop: Hop): string {
    return isLinkHop(hop) ? (this.e.localPeers[hop.link.localPeerIndex]?.name ?? this.e.name) : this.e.name;
  }

  /**
   * Routing decision at this hop for `relay`: accept here, forward to a link, or none. `first` is true
   * for the decision made when the request arrives (accepting is allowed then only).
   */
  private decide(relay: Relay, first: boolean): 'accept' | 'none' | NeighborLink {
    const e = this.e;
    const p = relay.req;
    const peer = relay.peer;
    const requesterHex = hex(p.requesterRegId);
    const allowSame = (p.requesterFlags & RegisterFlags.allowSameRegId) !== 0;
    const mayAccept =
      first &&
      requesterHex !== peer.regIdHex &&
      !peer.neighbors.has(requesterHex) &&
      this.linksPromised(peer) < e.config.neighborsHardMax - this.ownReserve(peer) &&
      this.awaitingAck2Via(peer, relay.upstream) < acceptsAwaitingAck2PerHopMax &&
      e.localPeers.every((lp) => lp.regIdHex !== requesterHex || allowSame);
    const view = peer.currentView();
    const target = pointOfRegIdCached(p.requesterRegId);
    const epoch = view.nextEpoch();
    let candidates = 0;
    /** A neighbour this hop must not forward to: tried, flooding, the requester, or off the direction. */
    const excluded = (l: NeighborLink): boolean =>
      relay.tried.has(l) ||
      l.flooding(e.now) ||
      (l.remoteRegIdHex === requesterHex && !allowSame) ||
      (p.directionVector !== null && !inDirection(target, l.remotePoint, p.directionVector));
    for (let i = 1; i < view.links.length; i++) {
      if (excluded(view.links[i]!)) view.mark[i] = epoch;
      else candidates++;
    }
    const selfEligible =
      mayAccept && (p.directionVector === null || inDirection(target, peer.point, p.directionVector));
    if (p.randomHopsRemaining > 0) {
      const count = candidates + (selfEligible ? 1 : 0);
      if (count === 0) return 'none';
      let pick = e.rng.int(count);
      for (let i = 1; i < view.links.length; i++) {
        if (view.mark[i] === epoch) continue;
        if (pick-- === 0) return view.links[i]!;
      }
      return 'accept';
    }
    if (p.hopsRemaining <= 1) return selfEligible ? 'accept' : 'none';
    const slotsMax = selfEligible ? e.config.neighborsHardMax : 0;
    const step = (ep: number): number =>
      registerStep(
        view,
        0,
        -1,
        target,
        0,
        p.busySectors,
        routingPolicyDefault.sectorBonus,
        view.mark,
        ep,
        slotsMax,
      );
    // First pass: skip neighbours that advertise the requester among their own neighbours — they cannot
    // accept, and near the requester a walk through them only circles. If that leaves nothing, walk on
    // through them.
    const passOne = view.nextEpoch();
    let skipped = 0;
    for (let i = 1; i < view.links.length; i++) {
      const excluded = view.mark[i] === epoch;
      if (excluded || advertises(view.links[i]!, target)) {
        view.mark[i] = passOne;
        if (!excluded) skipped++;
      }
    }
    let next = step(passOne);
    if (next === registerNoRoute && skipped > 0) {
      // Second pass: the original exclusions only (the first pass overwrote them in a new epoch).
      const second = view.nextEpoch();
      for (let i = 1; i < view.links.length; i++) if (excluded(view.links[i]!)) view.mark[i] = second;
      next = step(second);
    }
    if (next === registerAcceptHere) return 'accept';
    if (next === registerNoRoute) return 'none';
    return view.links[next]!;
  }

  private forwardTo(relay: Relay, link: NeighborLink): void {
    const e = this.e;
    relay.downstream = link;
    relay.tried.add(link);
    relay.tries++;
    const p = relay.req;
    e.stats.relayed++;
    e.record(AttentionLevel.detail, relay.peer.name, 'REGISTER forwarded', () => ({
      tx: relay.tx,
      to: link.remoteRegIdHex.slice(0, 16),
      hopsRemaining: p.hopsRemaining - 1,
      randomHopsRemaining: Math.max(0, p.randomHopsRemaining - 1),
    }));
    const seq = e.sendRequest(
      { link },
      relay.tx,
      'REGISTER',
      (s) =>
        ({
          ...p,
          ...e.linkFields({ link }),
          pow2Nonce: null,
          hopsRemaining: p.hopsRemaining - 1,
          randomHopsRemaining: Math.max(0, p.randomHopsRemaining - 1),
          seq: s,
        }) as RegisterReq,
      (code) => {
        this.relaysByDownstream.delete(`L${link.localToken}#${relay.downstreamSeq}`);
        if (this.relays.get(relay.tx) !== relay) return;
        if (code === ResultCode.accepted) {
          this.relaysByDownstream.set(`L${link.localToken}#${relay.downstreamSeq}`, relay);
          return;
        }
        link.forwardedFailed++;
        e.record(AttentionLevel.detail, relay.peer.name, 'REGISTER refused by the next hop', () => ({
          tx: relay.tx,
          to: link.remoteRegIdHex.slice(0, 16),
          code,
        }));
        if (code === ResultCode.hopsExhausted) this.failRelay(relay, code);
        else this.forward(relay);
      },
      () => {
        this.relaysByDownstream.delete(`L${link.localToken}#${relay.downstreamSeq}`);
        if (this.relays.get(relay.tx) !== relay) return;
        link.forwardedFailed++;
        e.record(AttentionLevel.detail, relay.peer.name, 'REGISTER: no NPACK from the next hop', () => ({
          tx: relay.tx,
          to: link.remoteRegIdHex.slice(0, 16),
        }));
        this.forward(relay);
      },
    );
    relay.downstreamSeq = seq;
  }

  /** Tries the next candidate after a downstream refusal, or gives up with FAILURE upstream. */
  private forward(relay: Relay): void {
    if (relay.answered) return;
    if (relay.tries >= this.e.config.routeTriesPerHopMax) {
      this.failRelay(relay, ResultCode.routeUnavailable);
      return;
    }
    const d = this.decide(relay, false);
    if (d === 'accept' || d === 'none') this.failRelay(relay, ResultCode.routeUnavailable);
    else this.forwardTo(relay, d);
  }

  private failRelay(relay: Relay, code: number): void {
    this.dropRelay(relay);
    this.e.record(AttentionLevel.detail, relay.peer.name, 'REGISTER failed here: FAILURE upstream', () => ({
      tx: relay.tx,
      code,
    }));
    this.e.sendFailure(relay.upstream, relay.tx, relay.upstreamSeq, code);
  }

  private dropRelay(relay: Relay): void {
    if (this.relays.get(relay.tx) === relay) this.relays.delete(relay.tx);
    if (relay.downstream !== undefined) {
      const k = `L${relay.downstream.localToken}#${relay.downstreamSeq}`;
      if (this.relaysByDownstream.get(k) === relay) this.relaysByDownstream.delete(k);
    }
    this.e.timers.cancel(relay.timer);
  }

  // ============================================================ responder (N)

  private accept(relay: Relay): void {
    const e = this.e;
    const p = relay.req;
    const peer = relay.peer;
    const hop = relay.upstream;
    if (e.seenEphemeralKeys.check(p.requesterEphemeralKey, e.now) !== 'new') {
      e.drops.replay++;
      e.sendNpack(hop, p.type, p.seq, ResultCode.duplicate);
      return;
    }
    const ephPriv = e.rng.bytes(32);
    const dh = e.crypto.x25519(ephPriv, p.requesterEphemeralKey);
    const myEndpoint = isLinkHop(hop) ? e.publicEndpoint : endpointFromWire(p.epEndpoint);
    if (dh === null || myEndpoint === undefined) {
      e.sendNpack(hop, p.type, p.seq, ResultCode.declined);
      return;
    }
    e.seenEphemeralKeys.seen(p.requesterEphemeralKey, e.now);
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    const ephPub = e.crypto.x25519PublicKey(ephPriv);
    const localToken = this.allocateToken();
    const paramsKey = e.crypto.hkdf(
      dh,
      e.crypto.sha256(registerAck1KdfTranscript(p, peer.regId, ephPub)),
      keyLabel.registerAck1Params,
      32,
    );
    const params = encodeLinkParams({
      endpoint: endpointToWire(myEndpoint),
      linkToken: localToken,
      natFlags: isLinkHop(hop) ? 0 : NatFlags.publicAddress,
    });
    const ciphertext = e.crypto.aeadSeal(paramsKey, zeroNonce, params, empty);
    const unsigned = {
      requesterRegId: p.requesterRegId,
      timestampMs: p.timestampMs,
      responderRegId: peer.regId,
      responderEphemeralKey: ephPub,
      responderParamsCiphertext: ciphertext,
    };
    const responderSignature = e.crypto.ed25519Sign(peer.regKey, registerAck1SignedBytes(p, unsigned));
    const ack1Base = {
      type: PacketType.RegisterAck1,
      ...unsigned,
      responderSignature,
      requesterEndpoint: isLinkHop(hop) ? null : endpointToWire(hop.endpoint),
    };
    const acc: Accepting = {
      tx: relay.tx,
      peer,
      upstream: hop,
      req: p,
      ack1: { ...ack1Base, linkToken: null, linkMac: null, seq: 0 } as RegisterAck1,
      dh,
      localToken,
      state: 'awaitAck2',
      ack2: undefined,
      link: undefined,
      timer: undefined,
    };
    this.accepting.set(relay.tx, acc);
    this.countAwaitingAck2(peer, 1);
    e.record(AttentionLevel.higherLevelDetail, peer.name, 'REGISTER accepted: sending ACK1', () => ({
      tx: relay.tx,
      requester: hex(p.requesterRegId).slice(0, 16),
      hopsRemaining: p.hopsRemaining,
    }));
    e.sendRequest(
      hop,
      relay.tx,
      'ACK1',
      (seq) => ({ ...ack1Base, ...e.linkFields(hop), seq }) as RegisterAck1,
      () => {},
      () => {},
    );
    acc.timer = e.timers.schedule(e.now + e.config.ack2TimeoutMs + e.config.requestExpiryMs, () => {
      if (acc.state === 'awaitAck2') this.dropAccepting(acc, 'no ACK2');
    });
  }

  private allocateToken(): number {
    const e = this.e;
    for (;;) {
      const t = e.rng.uint32();
      if (!e.links.has(t) && !this.reservedTokens.has(t)) {
        this.reservedTokens.add(t);
        return t;
      }
    }
  }

  /**
   * The links `peer` has or has committed to: its neighbours, its acceptances awaiting their ACK2 and
   * its own REGISTER in flight until that has a link of its own (while punching, the link is among the
   * neighbours). A REGISTER is accepted only while this is below `neighborsHardMax`.
   */
  linksPromised(peer: LocalPeer): number {
    const own = this.inFlight.get(peer.index);
    return (
      peer.neighbors.size +
      (this.acceptsAwaitingAck2.get(peer.index) ?? 0) +
      (own !== undefined && own.state !== 'punching' ? 1 : 0)
    );
  }

  /**
   * Places under the hard maximum that acceptances leave for `peer`'s own REGISTER: one while it is below
   * its minimum with none in flight, so acceptances that may never finish cannot keep it from extending.
   */
  private ownReserve(peer: LocalPeer): number {
    return !this.inFlight.has(peer.index) && peer.usableLinkCount() < this.e.config.neighborsMin ? 1 : 0;
  }

  /** `peer`'s acceptances awaiting their ACK2 that came through `hop` (0 at once when it has none). */
  private awaitingAck2Via(peer: LocalPeer, hop: Hop): number {
    if (!this.acceptsAwaitingAck2.has(peer.index)) return 0;
    let n = 0;
    for (const acc of this.accepting.values()) {
      if (acc.peer === peer && acc.state === 'awaitAck2' && sameHop(acc.upstream, hop)) n++;
    }
    return n;
  }

  private countAwaitingAck2(peer: LocalPeer, delta: number): void {
    const n = (this.acceptsAwaitingAck2.get(peer.index) ?? 0) + delta;
    if (n > 0) this.acceptsAwaitingAck2.set(peer.index, n);
    else this.acceptsAwaitingAck2.delete(peer.index);
  }

  /** Tokens promised in ACK1/ACK2 but whose link does not exist yet. */
  private readonly reservedTokens = new Set<number>();

  private dropAccepting(acc: Accepting, why: string): void {
    const e = this.e;
    if (this.accepting.get(acc.tx) === acc) {
      this.accepting.delete(acc.tx);
      if (acc.state === 'awaitAck2') this.countAwaitingAck2(acc.peer, -1);
    }
    this.reservedTokens.delete(acc.localToken);
    e.timers.cancel(acc.timer);
    e.record(
      why === 'already a neighbour' ? AttentionLevel.needsAttention : AttentionLevel.lightPain,
      acc.peer.name,
      `failed neighbour addition (responder): ${why}`,
      () => ({
        tx: acc.tx,
      }),
    );
    if (acc.link !== undefined && !acc.link.confirmed) e.upkeep.closeLink(acc.link, why, true);
  }

  // ============================================================ ACK1 (towards A)

  onAck1(hop: Hop, p: RegisterAck1, from: Endpoint): void {
    const e = this.e;
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = registerTxId(p.requesterRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined) {
      if (!isLinkHop(hop) || relay.downstream !== hop.link) {
        e.drop('unexpected', from, { type: 'RegisterAck1', tx });
        return;
      }
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      // The branch answered: it took the REQ even if its NPACK was lost, and this relay is now bound to
      // it — it must never try another next hop for this transaction.
      e.settleRequest(hop, relay.downstreamSeq);
      relay.answered = true;
      hop.link.forwardedOk++;
      const up = relay.upstream;
      e.sendRequest(
        up,
        tx,
        'ACK1',
        (seq) =>
          ({
            ...p,
            ...e.linkFields(up),
            requesterEndpoint: isLinkHop(up) ? null : endpointToWire(up.endpoint),
            seq,
          }) as RegisterAck1,
        () => {},
        () => {},
      );
      return;
    }
    const a = this.attempts.get(tx);
    if (
      a === undefined ||
      (a.state !== 'awaitAck1' && a.state !== 'awaitNpack') ||
      a.req === undefined ||
      !sameHop(a.via!, hop)
    ) {
      e.drop('unexpected', from, { type: 'RegisterAck1', tx });
      return;
    }
    const req = a.req;
    if (!e.crypto.ed25519Verify(p.responderRegId, registerAck1SignedBytes(req, p), p.responderSignature)) {
      e.drop('badSignature', from, { type: 'RegisterAck1', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    // An ACK1 is also the REQ's acknowledgement if its NPACK was lost.
    e.settleRequest(hop, a.reqSeq);
    const responderHex = hex(p.responderRegId);
    if (responderHex === a.peer.regIdHex || a.peer.neighbors.has(responderHex)) {
      this.fail(a, 'alreadyConnected');
      return;
    }
    if (e.seenEphemeralKeys.check(p.responderEphemeralKey, e.now) !== 'new') {
      this.fail(a, 'badAck1');
      return;
    }
    e.seenEphemeralKeys.seen(p.responderEphemeralKey, e.now);
    const dh = e.crypto.x25519(a.ephPriv, p.responderEphemeralKey);
    if (dh === null) {
      this.fail(a, 'badAck1');
      return;
    }
    const paramsKey = e.crypto.hkdf(
      dh,
      e.crypto.sha256(registerAck1KdfTranscript(req, p.responderRegId, p.responderEphemeralKey)),
      keyLabel.registerAck1Params,
      32,
    );
    const plain = e.crypto.aeadOpen(paramsKey, zeroNonce, p.responderParamsCiphertext, empty);
    const params = plain === null ? undefined : decodeLinkParams(plain);
    if (params === undefined || !params.ok) {
      e.drops.badCiphertext++;
      this.fail(a, 'badAck1');
      return;
    }
    if (!isLinkHop(hop)) {
      if (p.requesterEndpoint === null) {
        this.fail(a, 'badAck1');
        return;
      }
      e.publicEndpoint = endpointFromWire(p.requesterEndpoint);
    }
    const myEndpoint = e.publicEndpoint;
    if (myEndpoint === undefined) {
      this.fail(a, 'badAck1');
      return;
    }
    const localToken = this.allocateToken();
    const ack2Key = e.crypto.hkdf(
      dh,
      e.crypto.sha256(registerAck2KdfTranscript(req, p)),
      keyLabel.registerAck2Params,
      32,
    );
    const ciphertext = e.crypto.aeadSeal(
      ack2Key,
      zeroNonce,
      encodeLinkParams({ endpoint: endpointToWire(myEndpoint), linkToken: localToken, natFlags: 0 }),
      empty,
    );
    const unsigned = {
      requesterRegId: req.requesterRegId,
      timestampMs: req.timestampMs,
      requesterParamsCiphertext: ciphertext,
    };
    const requesterSignature = e.crypto.ed25519Sign(a.peer.regKey, registerAck2SignedBytes(req, p, unsigned));
    const ack2: RegisterAck2 = {
      type: PacketType.RegisterAck2,
      linkToken: null,
      linkMac: null,
      seq: 0,
      ...unsigned,
      requesterSignature,
    };
    const via = a.via!;
    let link: NeighborLink | undefined;
    e.sendRequest(
      via,
      tx,
      'ACK2',
      (seq) => ({ ...ack2, ...e.linkFields(via), seq }) as RegisterAck2,
      (code) => {
        // N declines when a link between us came up meanwhile through another transaction.
        if (code === ResultCode.accepted || link === undefined || link.state !== 'punching') return;
        e.upkeep.closeLink(link, ack2Declined, false);
      },
      () => {},
    );
    // Link keys: both sides derive them from the same transcript.
    const salt = e.crypto.sha256(registerLinkKdfTranscript(req, p, ack2));
    const txKey = e.crypto.hkdf(dh, salt, keyLabel.linkKeyRequesterToResponder, 32);
    const rxKey = e.crypto.hkdf(dh, salt, keyLabel.linkKeyResponderToRequester, 32);
    e.timers.cancel(a.timer);
    a.state = 'punching';
    this.reservedTokens.delete(localToken);
    link = new NeighborLink(
      a.peer.index,
      'requester',
      p.responderRegId,
      responderHex,
      localToken,
      params.value.linkToken,
      txKey,
      rxKey,
      endpointFromWire(params.value.endpoint),
      e.now,
      e.rng.uint32(),
      e.config,
    );
    const newLink = link;
    link.pendingConfirmation = {
      signedBytes: registerResponderCfmSignedBytes(req, p, ack2),
      onConfirmed: (nSig) => this.onConfirmed(a, newLink, req, p, ack2, nSig),
    };
    e.upkeep.startPunching(link, (ok) => {
      if (ok) return;
      const why = newLink.closeReason;
      this.fail(
        a,
        why === crossingRegistration || why === ack2Declined ? 'alreadyConnected' : 'punchTimeout',
      );
    });
  }

  /** A's side: N's confirmation signature arrived in a PONG; send CFM along the REGISTER path. */
  private onConfirmed(
    a: Attempt,
    link: NeighborLink,
    req: RegisterReq,
    ack1: RegisterAck1,
    ack2: RegisterAck2,
    nSig: Uint8Array,
  ): void {
    const e = this.e;
    const requesterConfirmationSignature = e.crypto.ed25519Sign(
      a.peer.regKey,
      registerRequesterCfmSignedBytes(req, ack1, ack2, nSig),
    );
    link.confirmed = true;
    const via = a.via!;
    if (!isLinkHop(via) || via.link.state !== 'closing') {
      e.sendRequest(
        via,
        a.tx,
        'CFM',
        (seq) =>
          ({
            type: PacketType.RegisterCfm,
            ...e.linkFields(via),
            requesterRegId: req.requesterRegId,
            timestampMs: req.timestampMs,
            responderConfirmationSignature: nSig,
            requesterConfirmationSignature,
            seq,
          }) as RegisterCfm,
        () => {},
        () => {},
      );
    }
    if (a.state === 'punching') {
      a.state = 'done';
      this.finish(a);
      this.punchFailures.delete(a.peer.index);
      const elapsed = e.now - a.startedMs;
      if (elapsed > 5_000) {
        e.record(AttentionLevel.lightPain, a.peer.name, 'slow registration', () => ({
          tx: a.tx,
          elapsedMs: elapsed,
        }));
      }
      if (a.peer.registeredAtMs < 0) {
        a.peer.registeredAtMs = e.now;
        e.emit({ type: 'registered', peer: a.peer.name, elapsedMs: elapsed });
      }
    }
  }

  // ============================================================ ACK2 and CFM (towards N)

  onAck2(hop: Hop, p: RegisterAck2): void {
    const e = this.e;
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = registerTxId(p.requesterRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined && sameHop(relay.upstream, hop) && relay.downstream !== undefined) {
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      const down = { link: relay.downstream };
      e.sendRequest(
        down,
        tx,
        'ACK2',
        (seq) => ({ ...p, ...e.linkFields(down), seq }) as RegisterAck2,
        () => {},
        () => {},
      );
      return;
    }
    const acc = this.accepting.get(tx);
    if (acc === undefined || acc.state !== 'awaitAck2' || !sameHop(acc.upstream, hop)) {
      e.drop('unexpected', hopEndpoint(hop), { type: 'RegisterAck2', tx });
      return;
    }
    if (
      !e.crypto.ed25519Verify(
        p.requesterRegId,
        registerAck2SignedBytes(acc.req, acc.ack1, p),
        p.requesterSignature,
      )
    ) {
      e.drop('badSignature', hopEndpoint(hop), { type: 'RegisterAck2', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    const key = e.crypto.hkdf(
      acc.dh,
      e.crypto.sha256(registerAck2KdfTranscript(acc.req, acc.ack1)),
      keyLabel.registerAck2Params,
      32,
    );
    const plain = e.crypto.aeadOpen(key, zeroNonce, p.requesterParamsCiphertext, empty);
    const params = plain === null ? undefined : decodeLinkParams(plain);
    if (params === undefined || !params.ok) {
      e.drops.badCiphertext++;
      e.sendNpack(hop, p.type, p.seq, ResultCode.declined);
      this.dropAccepting(acc, 'undecryptable ACK2');
      return;
    }
    const requesterHex = hex(p.requesterRegId);
    const existing = acc.peer.neighbors.get(requesterHex);
    if (existing !== undefined) {
      // Two registrations crossed (each side reached the other) or one duplicated a link. Exactly one
      // survives on both sides: an established link, else the one whose requester has the lower regID.
      const crossingWins =
        existing.state === 'punching' &&
        existing.role === 'requester' &&
        compareBytes(p.requesterRegId, acc.peer.regId) < 0;
      if (!crossingWins) {
        e.sendNpack(hop, p.type, p.seq, ResultCode.declined);
        this.dropAccepting(acc, 'already a neighbour');
        return;
      }
      e.upkeep.closeLink(existing, crossingRegistration, false);
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    const salt = e.crypto.sha256(registerLinkKdfTranscript(acc.req, acc.ack1, p));
    const rxKey = e.crypto.hkdf(acc.dh, salt, keyLabel.linkKeyRequesterToResponder, 32);
    const txKey = e.crypto.hkdf(acc.dh, salt, keyLabel.linkKeyResponderToRequester, 32);
    this.reservedTokens.delete(acc.localToken);
    const link = new NeighborLink(
      acc.peer.index,
      'responder',
      p.requesterRegId,
      requesterHex,
      acc.localToken,
      params.value.linkToken,
      txKey,
      rxKey,
      endpointFromWire(params.value.endpoint),
      e.now,
      e.rng.uint32(),
      e.config,
    );
    link.responderConfirmationSignature = e.crypto.ed25519Sign(
      acc.peer.regKey,
      registerResponderCfmSignedBytes(acc.req, acc.ack1, p),
    );
    acc.ack2 = p;
    acc.link = link;
    acc.state = 'awaitCfm';
    this.countAwaitingAck2(acc.peer, -1);
    e.timers.cancel(acc.timer);
    acc.timer = e.timers.schedule(e.now + e.config.cfmTimeoutMs + e.config.requestExpiryMs, () => {
      if (acc.state === 'awaitCfm') this.dropAccepting(acc, 'no CFM');
    });
    e.upkeep.startPunching(link, () => {});
  }

  onCfm(hop: Hop, p: RegisterCfm): void {
    const e = this.e;
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = registerTxId(p.requesterRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined && sameHop(relay.upstream, hop) && relay.downstream !== undefined) {
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      const down = { link: relay.downstream };
      e.sendRequest(
        down,
        tx,
        'CFM',
        (seq) => ({ ...p, ...e.linkFields(down), seq }) as RegisterCfm,
        () => {},
        () => {},
      );
      this.dropRelay(relay);
      return;
    }
    const acc = this.accepting.get(tx);
    if (acc === undefined || acc.state !== 'awaitCfm' || acc.link === undefined || acc.ack2 === undefined) {
      e.drop('unexpected', hopEndpoint(hop), { type: 'RegisterCfm', tx });
      return;
    }
    const link = acc.link;
    const ok =
      link.responderConfirmationSignature !== null &&
      e.crypto.constantTimeEqual(p.responderConfirmationSignature, link.responderConfirmationSignature) &&
      e.crypto.ed25519Verify(
        p.requesterRegId,
        registerRequesterCfmSignedBytes(acc.req, acc.ack1, acc.ack2, p.responderConfirmationSignature),
        p.requesterConfirmationSignature,
      );
    if (!ok) {
      e.drop('badSignature', hopEndpoint(hop), { type: 'RegisterCfm', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    link.confirmed = true;
    this.accepting.delete(tx);
    e.timers.cancel(acc.timer);
    e.record(AttentionLevel.higherLevelDetail, acc.peer.name, 'REGISTER confirmed', () => ({ tx }));
  }
}

/** Lexicographic order of byte strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function sameHop(a: Hop, b: Hop): boolean {
  if (isLinkHop(a)) return isLinkHop(b) && a.link === b.link;
  return !isLinkHop(b) && a.endpoint.address === b.endpoint.address && a.endpoint.port === b.endpoint.port;
}

// ---- small helpers

/**
 * Sets of the process-wide regID → point cache, as a power of two (log2). A simulated network hosts every
 * peer in one process, and PING adverts, REQs and RELAYs name every registration in it, so the cache is
 * sized for 10,000+ users: 16,384 sets of 2 ways hold 32,768 points (about 1 MiB of keys plus the points).
 */
const pointCacheSetBits = 14;
/** Ways per set of the regID → point cache (2-way set-associative, least recently used way evicted). */
const pointCacheWays = 2;
/** Entries the regID → point cache holds at most (its bound: sets × ways). */
export const pointCacheEntriesMax = (1 << pointCacheSetBits) * pointCacheWays;
/** Cached regIDs, `regIdBytes` per entry (private copies: a caller's buffer may change later). */
const pointCacheKeys = new Uint8Array(pointCacheEntriesMax * regIdBytes);
/** Cached points by entry (undefined: empty entry). Shared with callers, which only read them. */
const pointCachePoints: (Uint32Array | undefined)[] = new Array(pointCacheEntriesMax).fill(undefined);
/** Per set: the way used least recently (the one a miss replaces). */
const pointCacheLru = new Uint8Array(1 << pointCacheSetBits);

/** The cache set of a regID of `regIdBytes` bytes: a multiplicative hash of its first 8 bytes. */
export function pointCacheSetOf(regId: Uint8Array): number {
  const w0 = regId[0]! | (regId[1]! << 8) | (regId[2]! << 16) | (regId[3]! << 24);
  const w1 = regId[4]! | (regId[5]! << 8) | (regId[6]! << 16) | (regId[7]! << 24);
  return Math.imul(w0 ^ Math.imul(w1, 0x85eb_ca6b), 0x9e37_79b1) >>> (32 - pointCacheSetBits);
}

/** Whether cache entry `entry` holds `regId` (which has `regIdBytes` bytes). */
function pointCacheHolds(entry: number, regId: Uint8Array): boolean {
  if (pointCachePoints[entry] === undefined) return false;
  const keys = pointCacheKeys;
  const o = entry * regIdBytes;
  for (let i = 0; i < regIdBytes; i++) if (keys[o + i] !== regId[i]) return false;
  return true;
}

/**
 * Point of a regID (`pointOfRegId`), memoised: requests and PING adverts carry the same regIDs many times.
 * The returned array is shared by every caller asking for that regID: read it, never write it. A regID
 * of another length than `regIdBytes` is not cached.
 */
export function pointOfRegIdCached(regId: Uint8Array): Uint32Array {
  if (regId.length !== regIdBytes) return pointOfRegId(regId);
  const set = pointCacheSetOf(regId);
  const e0 = set * pointCacheWays;
  if (pointCacheHolds(e0, regId)) {
    pointCacheLru[set] = 1;
    return pointCachePoints[e0]!;
  }
  const e1 = e0 + 1;
  if (pointCacheHolds(e1, regId)) {
    pointCacheLru[set] = 0;
    return pointCachePoints[e1]!;
  }
  const way = pointCacheLru[set]!;
  const entry = e0 + way;
  const p = pointOfRegId(regId);
  pointCacheKeys.set(regId, entry * regIdBytes);
  pointCachePoints[entry] = p;
  pointCacheLru[set] = 1 - way;
  return p;
}

/** Entries the regID → point cache holds now (at most `pointCacheEntriesMax`). */
export function pointCacheEntryCount(): number {
  let n = 0;
  for (const p of pointCachePoints) if (p !== undefined) n++;
  return n;
}

function squaredDistance(a: Uint32Array, b: Uint32Array): number {
  let s = 0;
  for (let i = 0; i < dimensions; i++) {
    const d = ((b[i]! - a[i]!) | 0) / 0x1_0000_0000;
    s += d * d;
  }
  return s;
}

/** Whether `link`'s remote advertised a neighbour at `point`. */
function advertises(link: NeighborLink, point: Uint32Array): boolean {
  for (const q of link.remoteNeighbourPoints) {
    if (q[0] === point[0] && q[1] === point[1] && q[2] === point[2] && q[3] === point[3]) return true;
  }
  return false;
}

/** Whether `point` lies in `direction` (int8 components) as seen from `from`. */
function inDirection(from: Uint32Array, point: Uint32Array, direction: Int8Array): boolean {
  let dot = 0;
  for (let i = 0; i < dimensions; i++) dot += ((point[i]! - from[i]!) | 0) * direction[i]!;
  return dot > 0;
}

function encodeNatTestReq(requestId: number): Uint8Array {
  return encodeDatagram({ type: PacketType.NatTestReq, requestId, padding: new Uint8Array(16) });
}

function encodeNatTestResp(requestId: number, from: Endpoint): Uint8Array {
  return encodeDatagram({ type: PacketType.NatTestResp, requestId, requesterEndpoint: endpointToWire(from) });
}

function encodePow1Response(requestId: number, challenge: Uint8Array): Uint8Array {
  return encodeDatagram({
    type: PacketType.Pow1Response,
    requestId,
    status: Pow1Status.ok,
    pow2Challenge: challenge,
  });
}
