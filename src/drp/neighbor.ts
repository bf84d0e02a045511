/**
 * A neighbour link: one authenticated UDP association between a local registration and a remote peer,
 * created by a REGISTER exchange. It owns the link's keys (one HMAC key per direction), both sides' link
 * tokens, the remote endpoint (which may change port while NATs rebind), liveness (last PONG, RTT) and
 * what the remote peer advertised in its PINGs (busy sectors, rates, its own neighbours' regIDs for
 * look-ahead routing). It also keeps the per-neighbour request budgets and a rating that routing and
 * eviction read. The engine drives it; the link performs no I/O.
 */
import { pointOfRegId } from '../id/geometry.js';
import type { Endpoint } from '../seams/transport.js';
import { TokenBucket } from './rate-limit.js';
import type { TimerId } from './timers.js';

export type LinkState = 'punching' | 'up' | 'closing';

/** Which side of the REGISTER exchange this end was. */
export type LinkRole = 'requester' | 'responder';

/**
 * PINGs whose PONG a punching link still accepts. Punch PINGs start 200 ms apart (×1.05 each), so with 8 a
 * PONG may come back up to ~1.9 s after its PING, where only the latest would need a round trip under
 * the current interval (links with round trips above ~450 ms never came up).
 */
export const punchPingsRemembered = 8;

export class NeighborLink {
  state: LinkState = 'punching';
  remoteEndpoint: Endpoint;
  /** The remote's point (coordinates of SHA-256(remote regID)). */
  readonly remotePoint: Uint32Array;
  remoteBusySectors = 0;
  /** Points of the remote's own neighbours, as last advertised (look-ahead routing). */
  remoteNeighbourPoints: Uint32Array[] = [];
  /** Next seq this end uses for requests it sends on the link. */
  nextSeq: number;
  /** Outstanding PING: its id and when it was sent. */
  pingId = 0;
  pingSentMs = -1;
  /**
   * While punching, the ids and send times of the latest PINGs (up to `punchPingsRemembered` pairs, oldest
   * first): the PINGs go out faster than a long round trip, so a PONG answers an earlier one. Null once up.
   */
  punchPings: number[] | null = null;
  /** When a MAC-verified packet from the remote last arrived (liveness: any packet, not only PONGs). */
  lastHeardMs: number;
  rttMs = 200;
  readonly createdMs: number;
  upSinceMs = -1;
  /** The REGISTER confirmation signatures have been exchanged (CFM verified or sent). */
  confirmed = false;
  timer: TimerId | undefined;
  /** Version of the local neighbour set last advertised to this link and acknowledged by a PONG. */
  advertisedVersion = -1;
  pendingAdvertVersion = -1;
  readonly registerBudget: TokenBucket;
  readonly inviteBudget: TokenBucket;
  // Rating inputs.
  forwardedOk = 0;
  forwardedFailed = 0;
  pingsSent = 0;
  pongsReceived = 0;
  /** Signature the responder sends in PONGs (set on the responder's side). */
  responderConfirmationSignature: Uint8Array | null = null;
  /**
   * On the requester's side until the first PONG: the bytes the responder's confirmation signature must
   * cover, and what to do once it verified (send CFM).
   */
  pendingConfirmation: {
    readonly signedBytes: Uint8Array;
    readonly onConfirmed: (sig: Uint8Array) => void;
  } | null = null;
  /** Deadline by which a punching link must come up, or a responder's link must be confirmed. */
  setupDeadlineMs = 0;
  /** Called once when a punching link comes up (true) or is abandoned (false). */
  setupDone: ((ok: boolean) => void) | undefined;
  /** Why the link was closed, once it is. */
  closeReason = '';
  /**
   * A PING arrived from another port of the neighbour's address: maybe its NAT rebound the mapping, maybe
   * a captured PING is being replayed. The link moves only when a probe PING sent to that port is
   * answered by a PONG from there (which only the neighbour can MAC with a fresh pingId).
   */
  candidatePort = -1;
  probePingId = 0;
  probeSentMs = -1;

  constructor(
    /** Index of the local registration this link belongs to. */
    readonly localPeerIndex: number,
    readonly role: LinkRole,
    readonly remoteRegId: Uint8Array,
    readonly remoteRegIdHex: string,
    readonly localToken: number,
    readonly remoteToken: number,
    readonly txKey: Uint8Array,
    readonly rxKey: Uint8Array,
    remoteEndpoint: Endpoint,
    nowMs: number,
    initialSeq: number,
    rates: {
      registerRatePerSec: number;
      registerBurst: number;
      inviteRatePerSec: number;
      inviteBurst: number;
    },
  ) {
    this.remoteEndpoint = remoteEndpoint;
    this.remotePoint = pointOfRegId(remoteRegId);
    this.createdMs = nowMs;
    this.lastHeardMs = nowMs;
    this.nextSeq = initialSeq;
    this.registerBudget = new TokenBucket(rates.registerRatePerSec, rates.registerBurst, nowMs);
    this.inviteBudget = new TokenBucket(rates.inviteRatePerSec, rates.inviteBurst, nowMs);
  }

  /** Usable for routing: up, not closing. */
  get usable(): boolean {
    return this.state === 'up';
  }

  takeSeq(): number {
    const s = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    return s;
  }

  /**
   * A rating in [0, 1]: the share of requests this neighbour accepted and carried on (with a prior of
   * 2 successes in 2, so a new link starts trusted) times the share of PINGs it answered.
   */
  rating(): number {
    const delivery = (this.forwardedOk + 2) / (this.forwardedOk + this.forwardedFailed + 2);
    const liveness = this.pingsSent < 4 ? 1 : Math.min(1, (this.pongsReceived + 1) / (this.pingsSent + 1));
    return delivery * liveness;
  }

  /** The remote exceeded a request budget recently: routing avoids it while in flood state. */
  flooding(nowMs: number): boolean {
    return this.registerBudget.exhausted(nowMs) || this.inviteBudget.exhausted(nowMs);
  }
}
