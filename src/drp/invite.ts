/**
 * INVITE: finding a callee by its regID and exchanging session descriptions with it.
 *
 *   REQ  A → … → B   routed greedily towards B's point (./policy.ts `inviteNextHop`: look-ahead over
 *                    the neighbours' advertised neighbours, fail fast at a local minimum unless the
 *                    policy backtracks); every hop verifies A's signature and its timestamp, charges the
 *                    upstream link's INVITE budget, and refuses loops and replays.
 *   ACK1 B → … → A   B's session description, AEAD-encrypted to A, signed by B (so A knows it reached
 *                    the holder of the regID it targeted).
 *   ACK2 A → … → B   A's session description encrypted to B, signed by A over the whole transcript.
 *   CFM  B → … → A   B's signature over the whole transcript.
 *
 * The requester retries through its next-best neighbour (a fresh transaction: new timestamp, new
 * ephemeral key) when a first hop refuses, fails or stays silent, up to `inviteAttemptsMax` attempts.
 * Each hop records its decision (distance to the target, candidates considered, choice) at detail level
 * with the transaction id, so a failed INVITE's route can be rebuilt from the records.
 */
import { AttentionLevel } from '../vision/attention.js';
import {
  dmpPingKdfTranscript,
  type Failure,
  type InviteAck1,
  type InviteAck2,
  type InviteCfm,
  type InviteReq,
  inviteAck1KdfTranscript,
  inviteAck1SignedBytes,
  inviteAck2KdfTranscript,
  inviteAck2SignedBytes,
  inviteCfmSignedBytes,
  inviteReqSignedBytes,
  keyLabel,
  PacketType,
  ResultCode,
} from '../wire/index.js';
import { checkTimestamp, regIdTimestampKey } from '../wire/replay.js';
import type { DrpEngine, LocalPeer } from './engine.js';
import { hex, visionRouteModule } from './engine.js';
import type { NeighborLink } from './neighbor.js';
import {
  distanceSquaredToPoint,
  inviteExplorationHops,
  inviteNextHop,
  inviteSearchesMax,
  routingPolicyDefault,
} from './policy.js';
import { pointOfRegIdCached } from './register.js';
import type { TimerId } from './timers.js';
import type { InviteFailure } from './types.js';

const zeroNonce = new Uint8Array(12);
const empty = new Uint8Array(0);
/** Links rated below this are avoided by INVITE routing while others remain. */
export const ratingRouteMin = 0.25;

export function inviteTxId(requester: Uint8Array, responder: Uint8Array, timestampMs: number): string {
  return `I${hex(requester).slice(0, 16)}${hex(responder).slice(0, 16)}:${timestampMs}`;
}

/** An INVITE this engine sent (it is A). */
interface Outgoing {
  readonly inviteId: number;
  readonly peer: LocalPeer;
  readonly responderRegId: Uint8Array;
  readonly target: Uint32Array;
  readonly sessionDescription: Uint8Array;
  readonly contactInvitationToken: Uint8Array | null;
  readonly startedMs: number;
  readonly tried: Set<NeighborLink>;
  readonly attemptTxIds: string[];
  state: 'awaitNpack' | 'awaitAck1' | 'awaitCfm' | 'done' | 'failed';
  tx: string;
  ephPriv: Uint8Array;
  req: InviteReq | undefined;
  link: NeighborLink | undefined;
  reqSeq: number;
  ack1: InviteAck1 | undefined;
  ack2: InviteAck2 | undefined;
  remoteSd: Uint8Array | undefined;
  /** X25519 of the two ephemerals (from ACK1 on): handed to the application with `inviteCompleted`. */
  dh: Uint8Array | undefined;
  timer: TimerId | undefined;
  lastFailure: InviteFailure;
  /** Attempts whose search came back exhausted (FAILURE routeUnavailable after the first hop accepted). */
  searches: number;
}

/** An INVITE relayed by this engine. */
interface Relay {
  readonly tx: string;
  readonly peer: LocalPeer;
  readonly upstream: NeighborLink;
  readonly upstreamSeq: number;
  readonly req: InviteReq;
  readonly target: Uint32Array;
  downstream: NeighborLink | undefined;
  downstreamSeq: number;
  readonly tried: Set<NeighborLink>;
  tries: number;
  /**
   * This relay met a local minimum and steps past it (the fallback): a FAILURE from such a step is
   * answered by its next option. Elsewhere a FAILURE routeUnavailable means the search below was
   * exhausted, and it goes upstream at once (only refusals and silence are retried there).
   */
  atMinimum: boolean;
  /** Received with an exploration budget (`exploreHopsRemaining`): the search is past a local minimum. */
  readonly exploring: boolean;
  /** `exploreHopsRemaining` of what this relay forwards: null, or the budget left past a minimum. */
  forwardExplore: number | null;
  timer: TimerId | undefined;
  /** ACK1 came back through `downstream`: the relay is bound to that branch. */
  answered: boolean;
}

/** An INVITE this engine answers (it is B). */
interface Answering {
  readonly tx: string;
  readonly peer: LocalPeer;
  readonly upstream: NeighborLink;
  readonly req: InviteReq;
  readonly ack1: InviteAck1;
  readonly dh: Uint8Array;
  timer: TimerId | undefined;
}

export class InviteRole {
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly outgoingBySeq = new Map<string, Outgoing>();
  private readonly relays = new Map<string, Relay>();
  private readonly relaysByDownstream = new Map<string, Relay>();
  private readonly answering = new Map<string, Answering>();
  private inviteSeq = 1;
  private lastTimestampMs = 0;

  constructor(private readonly e: DrpEngine) {}

  get relayCount(): number {
    return this.relays.size;
  }

  // ============================================================ requester

  start(
    peer: LocalPeer,
    responderRegId: Uint8Array,
    sessionDescription: Uint8Array,
    contactInvitationToken: Uint8Array | null,
  ): number {
    const o: Outgoing = {
      inviteId: this.inviteSeq++,
      peer,
      responderRegId,
      target: pointOfRegIdCached(responderRegId),
      sessionDescription,
      contactInvitationToken,
      startedMs: this.e.now,
      tried: new Set(),
      attemptTxIds: [],
      state: 'awaitNpack',
      tx: '',
      ephPriv: new Uint8Array(0),
      req: undefined,
      link: undefined,
      reqSeq: -1,
      ack1: undefined,
      ack2: undefined,
      remoteSd: undefined,
      dh: undefined,
      timer: undefined,
      lastFailure: 'noNeighbours',
      searches: 0,
    };
    this.attempt(o);
    return o.inviteId;
  }

  private attempt(o: Outgoing): void {
    const e = this.e;
    this.clearAttempt(o);
    if (o.attemptTxIds.length >= e.config.inviteAttemptsMax) {
      this.fail(o, o.lastFailure);
      return;
    }
    const link = this.chooseNext(o.peer, o.target, o.tried, undefined, true);
    // The requester itself at a local minimum: the first hop explores past it.
    const explore = this.choseFallback ? inviteExplorationHops + 1 : null;
    if (link === undefined) {
      this.fail(o, o.attemptTxIds.length === 0 ? 'noNeighbours' : o.lastFailure);
      return;
    }
    o.tried.add(link);
    // One timestamp per transaction, strictly increasing: (A, B, timestamp) names it on every hop.
    const ts = Math.max(e.now, this.lastTimestampMs + 1);
    this.lastTimestampMs = ts;
    o.tx = inviteTxId(o.peer.regId, o.responderRegId, ts);
    o.attemptTxIds.push(o.tx);
    o.ephPriv = e.rng.bytes(32);
    o.link = link;
    o.state = 'awaitNpack';
    const ephPub = e.crypto.x25519PublicKey(o.ephPriv);
    e.seenEphemeralKeys.seen(ephPub, e.now);
    const signed = {
      timestampMs: ts,
      requesterRegId: o.peer.regId,
      responderRegId: o.responderRegId,
      requesterEphemeralKey: ephPub,
      contactInvitationToken: o.contactInvitationToken,
    };
    const requesterSignature = e.crypto.ed25519Sign(o.peer.regKey, inviteReqSignedBytes(signed));
    this.outgoing.set(o.tx, o);
    this.recordHop(o.peer, o.tx, o.target, link, 'INVITE sent', e.config.hopsMax);
    o.reqSeq = e.sendRequest(
      { link },
      o.tx,
      'INVITE',
      (seq) => {
        const req: InviteReq = {
          type: PacketType.InviteReq,
          linkToken: link.remoteToken,
          ...signed,
          requesterSignature,
          hopsRemaining: e.config.hopsMax,
          exploreHopsRemaining: explore,
          seq,
          linkMac: new Uint8Array(32),
        };
        o.req = req;
        return req;
      },
      (code) => {
        if (o.state !== 'awaitNpack' || o.link !== link) return;
        if (code !== ResultCode.accepted) {
          link.forwardedFailed++;
          // A first hop with no neighbour closer to the callee than this peer refuses: nobody nearer.
          o.lastFailure = code === ResultCode.routeUnavailable ? 'notFound' : 'rejected';
          this.attempt(o);
          return;
        }
        o.state = 'awaitAck1';
        o.timer = e.timers.schedule(e.now + e.config.ack1TimeoutMs, () => {
          o.lastFailure = 'ack1Timeout';
          this.attempt(o);
        });
      },
      () => {
        if (o.state !== 'awaitNpack' || o.link !== link) return;
        link.forwardedFailed++;
        o.lastFailure = 'noResponse';
        this.attempt(o);
      },
    );
    this.outgoingBySeq.set(`${link.localToken}#${o.reqSeq}`, o);
  }

  private clearAttempt(o: Outgoing): void {
    this.e.timers.cancel(o.timer);
    o.timer = undefined;
    // An attempt's ephemeral secrets die with it (on success the application owns `dh`).
    o.ephPriv.fill(0);
    if (o.state !== 'done') o.dh?.fill(0);
    o.dh = undefined;
    if (o.tx !== '') this.outgoing.delete(o.tx);
    if (o.link !== undefined) this.outgoingBySeq.delete(`${o.link.localToken}#${o.reqSeq}`);
  }

  private fail(o: Outgoing, reason: InviteFailure): void {
    const e = this.e;
    if (o.state === 'failed' || o.state === 'done') return;
    o.state = 'failed';
    this.clearAttempt(o);
    e.record(AttentionLevel.strongPain, o.peer.name, `INVITE failed: ${reason}`, () => ({
      inviteId: o.inviteId,
      reason,
      responder: hex(o.responderRegId).slice(0, 16),
      attempts: o.attemptTxIds.length,
      txs: o.attemptTxIds.join(' '),
    }));
    e.emit({
      type: 'inviteFailed',
      peer: o.peer.name,
      inviteId: o.inviteId,
      responderRegId: o.responderRegId,
      reason,
      attemptTxIds: [...o.attemptTxIds],
      elapsedMs: e.now - o.startedMs,
    });
  }

  // ============================================================ routing

  /** Whether the last `chooseNext` stepped past a local minimum (the fallback). */
  private choseFallback = false;

  /**
   * The next hop towards `target` from `peer`, skipping `tried` links, flooding links and (while others
   * remain) low-rated ones. `origin`: at the requester any neighbour may start the walk.
   *
   * A relay knows where the request came from (its upstream neighbour's point), and that is enough to
   * keep a search from wandering. Entered by a step that came closer to the target, it routes by
   * look-ahead and, at a local minimum, may step to its best other neighbour (the fallback: one hop
   * past the closest peer). Entered by a step that did not come closer (a look-ahead reach through it,
   * or a fallback step), it forwards only to a neighbour closer than the upstream peer — the point the
   * reach was for — and otherwise refuses, so its upstream tries its next option. The distance of the
   * closer of a relay and its upstream never grows along a path and shrinks at least every second hop:
   * no cycles, and a search for a regID nobody holds ends near the target's point.
   */
  private chooseNext(
    peer: LocalPeer,
    target: Uint32Array,
    tried: Set<NeighborLink>,
    upstream: NeighborLink | undefined,
    origin: boolean,
    exploring = false,
  ): NeighborLink | undefined {
    const e = this.e;
    const view = peer.currentView();
    this.choseFallback = false;
    // Squared distances: below `promise` is where a relay entered without progress must go.
    let promise = Number.POSITIVE_INFINITY;
    let fallback = origin || routingPolicyDefault.backtrack;
    if (upstream !== undefined && !origin && !exploring) {
      const up = distanceSquaredToPoint(upstream.remotePoint, 0, target, 0);
      if (distanceSquaredToPoint(view.coords, 0, target, 0) >= up) {
        promise = up;
        fallback = false;
      }
    }
    const pick = (promise: number, fallback: boolean): NeighborLink | undefined => {
      for (const strict of [true, false]) {
        const epoch = view.nextEpoch();
        let candidates = 0;
        for (let i = 1; i < view.links.length; i++) {
          const l = view.links[i]!;
          const skip =
            tried.has(l) ||
            l === upstream ||
            l.flooding(e.now) ||
            (strict && l.rating() < ratingRouteMin) ||
            (promise !== Number.POSITIVE_INFINITY &&
              distanceSquaredToPoint(view.coords, i, target, 0) >= promise);
          if (skip) view.mark[i] = epoch;
          else candidates++;
        }
        if (candidates === 0) continue;
        const lookAhead = routingPolicyDefault.lookAhead;
        let next = inviteNextHop(view, 0, target, 0, lookAhead, view.mark, epoch, false);
        if (next < 0 && fallback) {
          next = inviteNextHop(view, 0, target, 0, lookAhead, view.mark, epoch, true);
          this.choseFallback = next > 0;
        }
        if (next > 0 && next < view.links.length) return view.links[next];
        if (next < 0) return undefined;
      }
      return undefined;
    };
    const chosen = pick(promise, fallback);
    if (chosen !== undefined || promise === Number.POSITIVE_INFINITY || !routingPolicyDefault.backtrack)
      return chosen;
    // Entered for a reach that is not there (an advert out of date, a link down or flooded): this relay
    // is where the search stands still, so it explores from here as from a local minimum.
    const explored = pick(Number.POSITIVE_INFINITY, true);
    if (explored !== undefined) this.choseFallback = true;
    return explored;
  }

  private recordHop(
    peer: LocalPeer,
    tx: string,
    target: Uint32Array,
    chosen: NeighborLink | undefined,
    message: string,
    hopsRemaining: number,
  ): void {
    const e = this.e;
    if (!e.vision.wants(visionRouteModule, AttentionLevel.detail)) return;
    const view = peer.currentView();
    const self = Math.sqrt(distanceSquaredToPoint(view.coords, 0, target, 0));
    const considered: string[] = [];
    for (let i = 1; i < view.links.length; i++) {
      const d = Math.sqrt(distanceSquaredToPoint(view.coords, i, target, 0));
      considered.push(`${view.links[i]!.remoteRegIdHex.slice(0, 8)}:${d.toFixed(4)}`);
    }
    e.record(
      AttentionLevel.detail,
      peer.name,
      message,
      () => ({
        tx,
        regId: peer.regIdHex.slice(0, 16),
        point: Array.from(peer.point.subarray(0, 3)).join(','),
        distance: Number(self.toFixed(5)),
        chosen: chosen === undefined ? '' : chosen.remoteRegIdHex.slice(0, 16),
        chosenDistance:
          chosen === undefined
            ? -1
            : Number(
                Math.sqrt(distanceSquaredToPoint(view.coords, view.indexOf(chosen), target, 0)).toFixed(5),
              ),
        neighbours: view.links.length - 1,
        considered: considered.slice(0, 20).join(' '),
        hopsRemaining,
      }),
      visionRouteModule,
    );
  }

  // ============================================================ every hop

  onRequest(link: NeighborLink, p: InviteReq): void {
    const e = this.e;
    const hop = { link };
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = inviteTxId(p.requesterRegId, p.responderRegId, p.timestampMs);
    const peer = e.localPeers[link.localPeerIndex]!;
    const refuse = (code: number, why: string): void => {
      e.sendNpack(hop, p.type, p.seq, code);
      e.record(
        AttentionLevel.detail,
        peer.name,
        `INVITE refused: ${why}`,
        () => ({ tx, code }),
        visionRouteModule,
      );
    };
    if (checkTimestamp(p.timestampMs, e.now, e.config.timestampToleranceMs) !== 'ok') {
      e.drops.badTimestamp++;
      refuse(ResultCode.badTimestamp, 'timestamp outside the window');
      return;
    }
    if (!link.inviteBudget.take(e.now)) {
      e.drops.rateLimited++;
      refuse(ResultCode.rateLimited, 'neighbour over its INVITE budget');
      return;
    }
    if (!e.crypto.ed25519Verify(p.requesterRegId, inviteReqSignedBytes(p), p.requesterSignature)) {
      e.drop('badSignature', link.remoteEndpoint, { type: 'InviteReq', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    if (this.relays.has(tx) || this.answering.has(tx) || this.outgoing.has(tx)) {
      refuse(ResultCode.routeUnavailable, 'already pending here (loop)');
      return;
    }
    const replayKey = regIdTimestampKey(p.requesterRegId, p.timestampMs);
    // Keyed by requester and timestamp: one requester never reuses a timestamp for two INVITEs.
    if (e.seenRequests.check(inviteReplayKey(replayKey), e.now) !== 'new') {
      e.drops.replay++;
      refuse(ResultCode.duplicate, 'replayed or flooded INVITE');
      return;
    }
    const responderHex = hex(p.responderRegId);
    const local = e.localPeers.find((lp) => lp.regIdHex === responderHex);
    if (local !== undefined) {
      e.seenRequests.seen(inviteReplayKey(replayKey), e.now);
      this.answer(link, local, p, tx);
      return;
    }
    if (p.hopsRemaining <= 1) {
      refuse(ResultCode.hopsExhausted, 'no hops left');
      return;
    }
    if (p.exploreHopsRemaining !== null && p.exploreHopsRemaining <= 1) {
      refuse(ResultCode.routeUnavailable, 'no exploration hops left past the local minimum');
      return;
    }
    const target = pointOfRegIdCached(p.responderRegId);
    const relay: Relay = {
      tx,
      peer,
      upstream: link,
      upstreamSeq: p.seq,
      req: p,
      target,
      downstream: undefined,
      downstreamSeq: -1,
      tried: new Set([link]),
      tries: 0,
      atMinimum: false,
      exploring: p.exploreHopsRemaining !== null,
      forwardExplore: p.exploreHopsRemaining === null ? null : p.exploreHopsRemaining - 1,
      timer: undefined,
      answered: false,
    };
    const next = this.chooseNext(peer, target, relay.tried, link, false, relay.exploring);
    relay.atMinimum = this.choseFallback || relay.exploring;
    if (this.choseFallback && !relay.exploring) relay.forwardExplore = inviteExplorationHops + 1;
    if (next === undefined) {
      this.recordHop(peer, tx, target, undefined, 'INVITE at a local minimum: refused', p.hopsRemaining);
      refuse(ResultCode.routeUnavailable, 'local minimum: no neighbour closer to the target');
      return;
    }
    e.seenRequests.seen(inviteReplayKey(replayKey), e.now);
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    this.relays.set(tx, relay);
    relay.timer = e.timers.schedule(
      e.now + e.config.ack1TimeoutMs + e.config.ack2TimeoutMs + e.config.cfmTimeoutMs,
      () => this.dropRelay(relay),
    );
    this.forwardTo(relay, next);
  }

  private forwardTo(relay: Relay, link: NeighborLink): void {
    const e = this.e;
    relay.downstream = link;
    relay.tried.add(link);
    relay.tries++;
    e.stats.relayed++;
    const p = relay.req;
    this.recordHop(relay.peer, relay.tx, relay.target, link, 'INVITE forwarded', p.hopsRemaining - 1);
    const seq = e.sendRequest(
      { link },
      relay.tx,
      'INVITE',
      (s) => ({
        ...p,
        linkToken: link.remoteToken,
        hopsRemaining: p.hopsRemaining - 1,
        exploreHopsRemaining: relay.forwardExplore,
        seq: s,
        linkMac: new Uint8Array(32),
      }),
      (code) => {
        const key = `${link.localToken}#${relay.downstreamSeq}`;
        if (this.relays.get(relay.tx) !== relay) return;
        if (code === ResultCode.accepted) {
          this.relaysByDownstream.set(key, relay);
          return;
        }
        link.forwardedFailed++;
        if (code === ResultCode.hopsExhausted) this.failRelay(relay, code);
        else this.retry(relay);
      },
      () => {
        if (this.relays.get(relay.tx) !== relay) return;
        link.forwardedFailed++;
        this.retry(relay);
      },
    );
    relay.downstreamSeq = seq;
  }

  private retry(relay: Relay): void {
    if (relay.answered) return;
    if (relay.tries >= (relay.exploring ? 1 : this.e.config.routeTriesPerHopMax)) {
      this.failRelay(relay, ResultCode.routeUnavailable);
      return;
    }
    const next = this.chooseNext(
      relay.peer,
      relay.target,
      relay.tried,
      relay.upstream,
      false,
      relay.exploring,
    );
    if (next === undefined) this.failRelay(relay, ResultCode.routeUnavailable);
    else this.forwardTo(relay, next);
  }

  private failRelay(relay: Relay, code: number): void {
    this.dropRelay(relay);
    this.recordHop(
      relay.peer,
      relay.tx,
      relay.target,
      undefined,
      'INVITE failed here: FAILURE upstream',
      relay.req.hopsRemaining,
    );
    this.e.sendFailure({ link: relay.upstream }, relay.tx, relay.upstreamSeq, code);
  }

  private dropRelay(relay: Relay): void {
    if (this.relays.get(relay.tx) === relay) this.relays.delete(relay.tx);
    if (relay.downstream !== undefined) {
      const k = `${relay.downstream.localToken}#${relay.downstreamSeq}`;
      if (this.relaysByDownstream.get(k) === relay) this.relaysByDownstream.delete(k);
    }
    this.e.timers.cancel(relay.timer);
  }

  /** FAILURE on `link` for a request we sent there. Returns whether it was an INVITE's. */
  onFailure(link: NeighborLink, p: Failure): boolean {
    const key = `${link.localToken}#${p.failedSeq}`;
    const o = this.outgoingBySeq.get(key);
    if (o !== undefined) {
      link.forwardedFailed++;
      if (p.code === ResultCode.routeUnavailable) {
        // The first hop accepted and searched: every path it tried ended at a local minimum without
        // the callee. Another first hop searches mostly the same region, so only a few searches run.
        o.lastFailure = 'notFound';
        o.searches++;
        if (o.searches >= inviteSearchesMax) {
          this.fail(o, 'notFound');
          return true;
        }
      } else o.lastFailure = 'rejected';
      this.attempt(o);
      return true;
    }
    const relay = this.relaysByDownstream.get(key);
    if (relay !== undefined) {
      this.relaysByDownstream.delete(key);
      link.forwardedFailed++;
      if (p.code === ResultCode.hopsExhausted) this.failRelay(relay, p.code);
      else if (p.code === ResultCode.routeUnavailable && !relay.atMinimum) this.failRelay(relay, p.code);
      else this.retry(relay);
      return true;
    }
    return false;
  }

  // ============================================================ responder (B)

  private answer(link: NeighborLink, peer: LocalPeer, p: InviteReq, tx: string): void {
    const e = this.e;
    const hop = { link };
    if (e.seenEphemeralKeys.check(p.requesterEphemeralKey, e.now) !== 'new') {
      e.drops.replay++;
      e.sendNpack(hop, p.type, p.seq, ResultCode.duplicate);
      return;
    }
    e.seenEphemeralKeys.seen(p.requesterEphemeralKey, e.now);
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    const sd = e.onInvite({
      localRegId: peer.regId,
      requesterRegId: p.requesterRegId,
      contactInvitationToken: p.contactInvitationToken,
      timestampMs: p.timestampMs,
    });
    if (sd === null) {
      // Unknown requesters get no answer at all: not even a refusal that would confirm we exist.
      e.record(AttentionLevel.higherLevelDetail, peer.name, 'INVITE ignored by the application', () => ({
        tx,
      }));
      return;
    }
    const ephPriv = e.rng.bytes(32);
    const dh = e.crypto.x25519(ephPriv, p.requesterEphemeralKey);
    if (dh === null) return;
    const ephPub = e.crypto.x25519PublicKey(ephPriv);
    const key = e.crypto.hkdf(
      dh,
      e.crypto.sha256(inviteAck1KdfTranscript(p, ephPub)),
      keyLabel.inviteAck1SessionDescription,
      32,
    );
    const unsigned = {
      timestampMs: p.timestampMs,
      requesterRegId: p.requesterRegId,
      responderRegId: p.responderRegId,
      responderEphemeralKey: ephPub,
      responderSessionCiphertext: e.crypto.aeadSeal(key, zeroNonce, sd, empty),
    };
    const responderSignature = e.crypto.ed25519Sign(peer.regKey, inviteAck1SignedBytes(p, unsigned));
    const ack1: InviteAck1 = {
      type: PacketType.InviteAck1,
      linkToken: link.remoteToken,
      ...unsigned,
      responderSignature,
      seq: 0,
      linkMac: new Uint8Array(32),
    };
    const a: Answering = { tx, peer, upstream: link, req: p, ack1, dh, timer: undefined };
    this.answering.set(tx, a);
    this.recordHop(
      peer,
      tx,
      peer.point,
      undefined,
      'INVITE reached the responder: ACK1 sent',
      p.hopsRemaining,
    );
    e.sendRequest(
      hop,
      tx,
      'ACK1',
      (seq) => ({ ...ack1, linkToken: link.remoteToken, seq }),
      () => {},
      () => {},
    );
    a.timer = e.timers.schedule(e.now + e.config.ack2TimeoutMs + e.config.requestExpiryMs, () => {
      if (this.answering.get(tx) !== a) return;
      this.answering.delete(tx);
      a.dh.fill(0);
    });
  }

  // ============================================================ ACK1 / ACK2 / CFM

  onAck1(link: NeighborLink, p: InviteAck1): void {
    const e = this.e;
    const hop = { link };
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = inviteTxId(p.requesterRegId, p.responderRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined) {
      if (relay.downstream !== link) {
        e.drop('unexpected', link.remoteEndpoint, { type: 'InviteAck1', tx });
        return;
      }
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      // Bound to this branch from now on, even if the REQ's NPACK was lost.
      e.settleRequest(hop, relay.downstreamSeq);
      relay.answered = true;
      link.forwardedOk++;
      const up = relay.upstream;
      e.sendRequest(
        { link: up },
        tx,
        'ACK1',
        (seq) => ({ ...p, linkToken: up.remoteToken, seq }),
        () => {},
        () => {},
      );
      return;
    }
    const o = this.outgoing.get(tx);
    if (
      o === undefined ||
      (o.state !== 'awaitAck1' && o.state !== 'awaitNpack') ||
      o.link !== link ||
      o.req === undefined
    ) {
      e.drop('unexpected', link.remoteEndpoint, { type: 'InviteAck1', tx });
      return;
    }
    // The ACK1 must be signed by the key of the regID we invited: that is what finding B means.
    if (!e.crypto.ed25519Verify(o.responderRegId, inviteAck1SignedBytes(o.req, p), p.responderSignature)) {
      e.drop('badSignature', link.remoteEndpoint, { type: 'InviteAck1', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    e.settleRequest(hop, o.reqSeq);
    link.forwardedOk++;
    const dh = e.crypto.x25519(o.ephPriv, p.responderEphemeralKey);
    const key =
      dh === null
        ? null
        : e.crypto.hkdf(
            dh,
            e.crypto.sha256(inviteAck1KdfTranscript(o.req, p.responderEphemeralKey)),
            keyLabel.inviteAck1SessionDescription,
            32,
          );
    const remoteSd =
      key === null ? null : e.crypto.aeadOpen(key, zeroNonce, p.responderSessionCiphertext, empty);
    if (dh === null || remoteSd === null) {
      e.drops.badCiphertext++;
      o.lastFailure = 'badAck1';
      this.attempt(o);
      return;
    }
    e.timers.cancel(o.timer);
    o.ack1 = p;
    o.remoteSd = remoteSd;
    o.dh = dh;
    const ack2Key = e.crypto.hkdf(
      dh,
      e.crypto.sha256(inviteAck2KdfTranscript(o.req, p)),
      keyLabel.inviteAck2SessionDescription,
      32,
    );
    const unsigned = {
      timestampMs: o.req.timestampMs,
      requesterRegId: o.req.requesterRegId,
      responderRegId: o.req.responderRegId,
      requesterSessionCiphertext: e.crypto.aeadSeal(ack2Key, zeroNonce, o.sessionDescription, empty),
    };
    const requesterSignature = e.crypto.ed25519Sign(o.peer.regKey, inviteAck2SignedBytes(o.req, p, unsigned));
    const ack2: InviteAck2 = {
      type: PacketType.InviteAck2,
      linkToken: link.remoteToken,
      ...unsigned,
      requesterSignature,
      seq: 0,
      linkMac: new Uint8Array(32),
    };
    o.ack2 = ack2;
    o.state = 'awaitCfm';
    e.sendRequest(
      hop,
      tx,
      'ACK2',
      (seq) => ({ ...ack2, seq }),
      () => {},
      () => {},
    );
    o.timer = e.timers.schedule(e.now + e.config.cfmTimeoutMs + e.config.requestExpiryMs, () => {
      o.lastFailure = 'cfmTimeout';
      this.attempt(o);
    });
  }

  onAck2(link: NeighborLink, p: InviteAck2): void {
    const e = this.e;
    const hop = { link };
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = inviteTxId(p.requesterRegId, p.responderRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined && relay.upstream === link && relay.downstream !== undefined) {
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      const down = relay.downstream;
      e.sendRequest(
        { link: down },
        tx,
        'ACK2',
        (seq) => ({ ...p, linkToken: down.remoteToken, seq }),
        () => {},
        () => {},
      );
      return;
    }
    const a = this.answering.get(tx);
    if (a === undefined || a.upstream !== link) {
      e.drop('unexpected', link.remoteEndpoint, { type: 'InviteAck2', tx });
      return;
    }
    if (
      !e.crypto.ed25519Verify(p.requesterRegId, inviteAck2SignedBytes(a.req, a.ack1, p), p.requesterSignature)
    ) {
      e.drop('badSignature', link.remoteEndpoint, { type: 'InviteAck2', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    const key = e.crypto.hkdf(
      a.dh,
      e.crypto.sha256(inviteAck2KdfTranscript(a.req, a.ack1)),
      keyLabel.inviteAck2SessionDescription,
      32,
    );
    const sd = e.crypto.aeadOpen(key, zeroNonce, p.requesterSessionCiphertext, empty);
    if (sd === null) {
      e.drops.badCiphertext++;
      e.sendNpack(hop, p.type, p.seq, ResultCode.declined);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    this.answering.delete(tx);
    e.timers.cancel(a.timer);
    const responderSignature = e.crypto.ed25519Sign(a.peer.regKey, inviteCfmSignedBytes(a.req, a.ack1, p, p));
    const cfm: InviteCfm = {
      type: PacketType.InviteCfm,
      linkToken: link.remoteToken,
      timestampMs: p.timestampMs,
      requesterRegId: p.requesterRegId,
      responderRegId: p.responderRegId,
      responderSignature,
      seq: 0,
      linkMac: new Uint8Array(32),
    };
    e.sendRequest(
      hop,
      tx,
      'CFM',
      (seq) => ({ ...cfm, seq }),
      () => {},
      () => {},
    );
    e.relay.hint(a.peer, p.requesterRegId, link);
    e.emit({
      type: 'inviteReceived',
      peer: a.peer.name,
      requesterRegId: p.requesterRegId,
      timestampMs: p.timestampMs,
      sessionDescription: sd,
      hopsRemaining: a.req.hopsRemaining,
      tx,
      keys: { inviteSecret: a.dh, transcript: dmpPingKdfTranscript(a.req, a.ack1, p, cfm) },
    });
  }

  onCfm(link: NeighborLink, p: InviteCfm): void {
    const e = this.e;
    const hop = { link };
    if (e.answeredBefore(hop, p.type, p.seq)) return;
    const tx = inviteTxId(p.requesterRegId, p.responderRegId, p.timestampMs);
    const relay = this.relays.get(tx);
    if (relay !== undefined && relay.downstream === link) {
      e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
      const up = relay.upstream;
      // The INVITE completed through here: relayed channel datagrams between the two follow it (./relay.ts).
      e.relay.pin(up, p.requesterRegId, link, p.responderRegId);
      e.sendRequest(
        { link: up },
        tx,
        'CFM',
        (seq) => ({ ...p, linkToken: up.remoteToken, seq }),
        () => {},
        () => {},
      );
      this.dropRelay(relay);
      return;
    }
    const o = this.outgoing.get(tx);
    if (o === undefined || o.state !== 'awaitCfm' || o.link !== link || !o.req || !o.ack1 || !o.ack2) {
      e.drop('unexpected', link.remoteEndpoint, { type: 'InviteCfm', tx });
      return;
    }
    if (
      !e.crypto.ed25519Verify(
        o.responderRegId,
        inviteCfmSignedBytes(o.req, o.ack1, o.ack2, p),
        p.responderSignature,
      )
    ) {
      e.drop('badSignature', link.remoteEndpoint, { type: 'InviteCfm', tx });
      e.sendNpack(hop, p.type, p.seq, ResultCode.badSignature);
      return;
    }
    e.sendNpack(hop, p.type, p.seq, ResultCode.accepted);
    o.state = 'done';
    // Relayed channel datagrams to B take the first hop this INVITE proved (./relay.ts).
    e.relay.hint(o.peer, o.responderRegId, link);
    const keys = { inviteSecret: o.dh!, transcript: dmpPingKdfTranscript(o.req, o.ack1, o.ack2, p) };
    this.clearAttempt(o);
    const completedTx = o.tx;
    e.emit({
      type: 'inviteCompleted',
      peer: o.peer.name,
      inviteId: o.inviteId,
      responderRegId: o.responderRegId,
      sessionDescription: o.remoteSd!,
      elapsedMs: e.now - o.startedMs,
      tx: completedTx,
      keys,
    });
  }
}

/** INVITE replay keys live in the same filter as REGISTER's: a leading 0xff keeps them apart. */
function inviteReplayKey(k: Uint8Array): Uint8Array {
  const out = new Uint8Array(k.length + 1);
  out[0] = 0xff;
  out.set(k, 1);
  return out;
}
