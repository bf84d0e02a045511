/**
 * Relaying direct-channel datagrams through DRP neighbours (Relay, PacketType 36).
 *
 * When two users' endpoints cannot reach each other (RFC 4787: symmetric ↔ symmetric, port-restricted ↔
 * symmetric; an ISP that drops peer-to-peer UDP), their channel's datagrams travel along the DRP
 * overlay instead. Theory of operation:
 *
 * - **Along the route the INVITE proved.** `send` wraps a DMP datagram in a Relay packet addressed to the
 *   other user's regID and every hop decrements `hopsRemaining` and decides, in this order:
 *   1. the target is a local registration: the payload goes to the driver's handler
 *      (`DrpEngine.onRelayed`: the direct-channel layer);
 *   2. the target is a neighbour, or a neighbour advertises it: that neighbour (a shortcut);
 *   3. a *pin*: every hop an INVITE passed on its way to completion (its CFM came back through here)
 *      remembers, for packets to the responder arriving from the requester's side, the link towards
 *      the responder, and the reverse (`pin`); at the two ends the first hop is pinned (`hint`: the
 *      requester's first hop, the responder's link back). Greedy routing alone dead-ends where the
 *      INVITE needed a second try (its requester retries through the next-best neighbour, its relays
 *      through other links), notably towards users linked only to entry peers;
 *   4. greedy towards the target's point with the INVITE policy (./policy.ts `inviteNextHop`,
 *      look-ahead over the neighbours' neighbours), dropping at a local minimum.
 *   Pins and hints are bounded (`relayPinsMax`, `relayHintsMax`; least recently used forgotten) and only
 *   followed while their link is up. No acknowledgement: the channel retransmits end to end.
 * - **Copies on lossy links.** Loss compounds over a relayed path (each hop is another uplink), and the
 *   channel's end-to-end retransmission pays it twice per round trip. While this engine's links lose
 *   more than `relayLossyBelowPongRatio` of their pings (measured over all links, so mostly our own
 *   uplink), each Relay packet it sends goes out twice, back to back; every hop drops a copy it has
 *   already handled within `relayRecentMs` (`relayRecentMax` remembered, keyed by the payload's first
 *   bytes: its type, channel token and packet counter or ping id), so copies never multiply.
 * - **Hop by hop authentication.** A Relay packet is a link packet: the receiver's link token and the
 *   link MAC, checked by the engine's receive path before it gets here. The payload is end-to-end
 *   authenticated and encrypted by the channel (no relay holds its keys), so a relay can drop or delay
 *   datagrams but not forge, read or replay them into the channel undetected.
 * - **Rate limits.** Each neighbour link has a token bucket (`relayRatePerSec`, burst `relayBurst`) charged
 *   for every Relay packet it hands us, whether for us or for forwarding; packets beyond it are dropped
 *   and counted. Only DMP datagrams (PacketType 50..54) are carried: anything else is dropped at the
 *   first hop that sees it.
 */
import { Buffer } from 'node:buffer';
import { dimensions } from '../id/geometry.js';
import type { Endpoint } from '../seams/transport.js';
import { AttentionLevel } from '../vision/attention.js';
import {
  macPlaceholder,
  PacketType,
  protocolVersion,
  type Relay,
  relayPayloadMaxBytes,
} from '../wire/index.js';
import type { DrpEngine, LocalPeer } from './engine.js';
import { endpointKey, hex } from './engine.js';
import { ratingRouteMin } from './invite.js';
import type { NeighborLink } from './neighbor.js';
import { inviteNextHop, routingPolicyDefault, slotPeerMask } from './policy.js';
import { TokenBucket } from './rate-limit.js';
import { pointOfRegIdCached } from './register.js';
import type { Outgoing } from './types.js';

/** Remembered first hops (local registration, remote regID) → link. */
export const relayHintsMax = 1024;
/** Remembered INVITE routes through this engine: (incoming link, target regID) → outgoing link. */
export const relayPinsMax = 8192;
/** Relayed payloads remembered to drop a second copy, and for how long. */
export const relayRecentMax = 4096;
export const relayRecentMs = 5_000;
/** Links answering fewer than this share of our pings (over all links) count as lossy: send two copies. */
export const relayLossyBelowPongRatio = 0.95;
/** Pings sent over all links before the loss estimate counts. */
const relayLossPingsMin = 20;
/** Bytes of a payload that identify it: version, type, and the fields after it up to a packet counter. */
const relayKeyBytes = 20;

/** Why a relayed datagram went no further (counted in `RelayRole.stats`). */
export type RelayDropReason = 'noRoute' | 'hopsExhausted' | 'rateLimited' | 'notDmp';

/** Whether `bytes` is a direct-channel datagram (the only thing a Relay packet carries). */
export function isRelayablePayload(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 3 &&
    bytes[0] === protocolVersion &&
    bytes[1]! >= PacketType.DmpPing &&
    bytes[1]! <= PacketType.MessageAck
  );
}

export class RelayRole {
  readonly stats = {
    /** Datagrams this engine's registrations sent through the relay. */
    originated: 0,
    /** Relay packets passed on for others. */
    forwarded: 0,
    /** Relay packets that reached a local registration. */
    delivered: 0,
    noRoute: 0,
    hopsExhausted: 0,
    rateLimited: 0,
    notDmp: 0,
    /** Second copies dropped (see `copies`). */
    duplicates: 0,
    /** Relay packets sent twice because the links are lossy. */
    doubled: 0,
  };
  private readonly budgets = new WeakMap<NeighborLink, TokenBucket>();
  private readonly hints = new Map<string, NeighborLink>();
  private readonly pins = new Map<string, NeighborLink>();
  /** Payload keys handled recently → when forgotten. Insertion order is time order. */
  private readonly recent = new Map<string, number>();
  private copiesNow = 1;
  private copiesCheckedMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly e: DrpEngine) {}

  /**
   * Wraps a DMP datagram from local registration `peer` for the registration `targetRegId` and returns
   * the Relay packet for its first hop — the caller sends it (the driver's attachment, in order with its
   * other datagrams) — or null when it cannot leave (no neighbour, not a DMP datagram; counted). A target
   * hosted by this engine gets the payload at once (`onRelayed`) and null is returned.
   */
  send(
    peer: LocalPeer,
    targetRegId: Uint8Array,
    payload: Uint8Array,
  ): (Outgoing & { readonly copies: number }) | null {
    const e = this.e;
    if (!isRelayablePayload(payload) || payload.length > relayPayloadMaxBytes) {
      this.dropped('notDmp', peer.name, undefined);
      return null;
    }
    this.stats.originated++;
    const local = this.localPeerOf(targetRegId);
    if (local !== undefined) {
      this.stats.delivered++;
      e.onRelayed({ peer: local, payload });
      return null;
    }
    let next = this.adjacent(peer, targetRegId, undefined);
    next ??= this.live(this.hints.get(hintKey(peer, targetRegId)));
    next ??= this.chooseNext(peer, targetRegId, undefined, true);
    if (next === undefined) {
      this.dropped('noRoute', peer.name, undefined);
      return null;
    }
    const copies = this.copies();
    if (copies > 1) this.stats.doubled++;
    return {
      to: next.remoteEndpoint,
      bytes: this.packetFor(next, targetRegId, e.config.hopsMax, payload),
      copies,
    };
  }

  /** A Relay packet that arrived on `link` (its MAC and source already checked). */
  onPacket(link: NeighborLink, p: Relay): void {
    const e = this.e;
    const peer = e.localPeers[link.localPeerIndex]!;
    let bucket = this.budgets.get(link);
    if (bucket === undefined) {
      bucket = new TokenBucket(e.config.relayRatePerSec, e.config.relayBurst, e.now);
      this.budgets.set(link, bucket);
    }
    if (!bucket.take(e.now)) {
      e.drops.rateLimited++;
      this.dropped('rateLimited', peer.name, link.remoteEndpoint);
      return;
    }
    if (!isRelayablePayload(p.payload)) {
      e.drops.unexpected++;
      this.dropped('notDmp', peer.name, link.remoteEndpoint);
      return;
    }
    if (this.seenRecently(p.payload)) {
      this.stats.duplicates++;
      return;
    }
    const local = this.localPeerOf(p.targetRegId);
    if (local !== undefined) {
      this.stats.delivered++;
      e.onRelayed({ peer: local, payload: p.payload });
      return;
    }
    if (p.hopsRemaining <= 1) {
      this.dropped('hopsExhausted', peer.name, link.remoteEndpoint);
      return;
    }
    let next = this.adjacent(peer, p.targetRegId, link);
    next ??= this.live(this.pins.get(pinKey(link, p.targetRegId)));
    next ??= this.chooseNext(peer, p.targetRegId, link, false);
    if (next === undefined || next === link) {
      this.dropped('noRoute', peer.name, link.remoteEndpoint);
      return;
    }
    this.stats.forwarded++;
    const bytes = this.packetFor(next, p.targetRegId, p.hopsRemaining - 1, p.payload);
    const copies = this.copies();
    if (copies > 1) this.stats.doubled++;
    for (let i = 0; i < copies; i++) e.sendRaw(next.remoteEndpoint, bytes);
  }

  /** The first hop of a completed INVITE between `peer` and `remoteRegId` (see the module comment). */
  hint(peer: LocalPeer, remoteRegId: Uint8Array, link: NeighborLink): void {
    remember(this.hints, hintKey(peer, remoteRegId), link, relayHintsMax);
  }

  /**
   * An INVITE between `requesterRegId` (on `upstream`'s side) and `responderRegId` (on `downstream`'s)
   * completed through this engine: relayed datagrams between the two follow the same links.
   */
  pin(
    upstream: NeighborLink,
    requesterRegId: Uint8Array,
    downstream: NeighborLink,
    responderRegId: Uint8Array,
  ): void {
    remember(this.pins, pinKey(upstream, responderRegId), downstream, relayPinsMax);
    remember(this.pins, pinKey(downstream, requesterRegId), upstream, relayPinsMax);
  }

  /** Copies of each Relay packet to send now: 2 while our links are lossy (re-estimated once a second). */
  private copies(): number {
    const e = this.e;
    if (e.now - this.copiesCheckedMs >= 1_000) {
      this.copiesCheckedMs = e.now;
      let pings = 0;
      let pongs = 0;
      for (const l of e.links.values()) {
        pings += l.pingsSent;
        pongs += l.pongsReceived;
      }
      this.copiesNow = pings >= relayLossPingsMin && pongs < relayLossyBelowPongRatio * pings ? 2 : 1;
    }
    return this.copiesNow;
  }

  /** Whether this payload was handled within `relayRecentMs` (and remembers it if not). */
  private seenRecently(payload: Uint8Array): boolean {
    const now = this.e.now;
    for (const [k, until] of this.recent) {
      if (until > now && this.recent.size < relayRecentMax) break;
      this.recent.delete(k);
    }
    const n = Math.min(relayKeyBytes, payload.length);
    const key = `${payload.length}:${Buffer.from(payload.buffer, payload.byteOffset, n).toString('latin1')}`;
    if (this.recent.has(key)) return true;
    this.recent.set(key, now + relayRecentMs);
    return false;
  }

  /** `link` while it is up and still this engine's, else undefined. */
  private live(link: NeighborLink | undefined): NeighborLink | undefined {
    return link?.usable && this.e.links.get(link.localToken) === link ? link : undefined;
  }

  /**
   * A neighbour (not `upstream`) that is the target or advertises it among its neighbours: the next hop is
   * then the last but one.
   */
  private adjacent(
    peer: LocalPeer,
    targetRegId: Uint8Array,
    upstream: NeighborLink | undefined,
  ): NeighborLink | undefined {
    const view = peer.currentView();
    const target = pointOfRegIdCached(targetRegId);
    const coords = view.coords;
    const same = (n: number): boolean => {
      const o = n * dimensions;
      for (let k = 0; k < dimensions; k++) if (coords[o + k] !== target[k]) return false;
      return true;
    };
    let viaAdvert: NeighborLink | undefined;
    for (let i = 1; i < view.links.length; i++) {
      const l = view.links[i]!;
      if (l === upstream) continue;
      if (same(i)) return l;
      if (viaAdvert !== undefined) continue;
      const base = i * view.slotStride;
      for (let k = 0; k < view.degree[i]!; k++) {
        if (same(view.slots[base + k]! & slotPeerMask)) {
          viaAdvert = l;
          break;
        }
      }
    }
    return viaAdvert;
  }

  private packetFor(
    link: NeighborLink,
    targetRegId: Uint8Array,
    hopsRemaining: number,
    payload: Uint8Array,
  ): Uint8Array {
    const packet: Relay = {
      type: PacketType.Relay,
      linkToken: link.remoteToken,
      targetRegId,
      hopsRemaining,
      payload,
      linkMac: macPlaceholder,
    };
    return this.e.encodeFor({ link }, packet);
  }

  /**
   * The next hop towards `targetRegId` from `peer`, never back on `upstream`, avoiding flooding links and
   * (while others remain) low-rated ones, as INVITE routing does. `origin`: the first hop may be any
   * neighbour (there is no closer one to insist on).
   */
  private chooseNext(
    peer: LocalPeer,
    targetRegId: Uint8Array,
    upstream: NeighborLink | undefined,
    origin: boolean,
  ): NeighborLink | undefined {
    const e = this.e;
    const target = pointOfRegIdCached(targetRegId);
    const view = peer.currentView();
    for (const strict of [true, false]) {
      const epoch = view.nextEpoch();
      let candidates = 0;
      for (let i = 1; i < view.links.length; i++) {
        const l = view.links[i]!;
        const skip = l === upstream || l.flooding(e.now) || (strict && l.rating() < ratingRouteMin);
        if (skip) view.mark[i] = epoch;
        else candidates++;
      }
      if (candidates === 0) continue;
      const next = inviteNextHop(
        view,
        0,
        target,
        0,
        routingPolicyDefault.lookAhead,
        view.mark,
        epoch,
        origin || routingPolicyDefault.backtrack,
      );
      if (next > 0 && next < view.links.length) return view.links[next];
      if (next < 0) return undefined;
    }
    return undefined;
  }

  private localPeerOf(regId: Uint8Array): LocalPeer | undefined {
    for (const lp of this.e.localPeers) {
      const r = lp.regId;
      let same = r.length === regId.length;
      for (let i = 0; same && i < r.length; i++) if (r[i] !== regId[i]) same = false;
      if (same) return lp;
    }
    return undefined;
  }

  private dropped(reason: RelayDropReason, peer: string, from: Endpoint | undefined): void {
    this.stats[reason]++;
    this.e.record(
      AttentionLevel.detail,
      peer,
      `relayed datagram dropped: ${reason}`,
      () => ({ reason, ...(from !== undefined ? { from: endpointKey(from) } : {}) }),
      visionRelayModule,
    );
  }
}

/** Vision module of relay decisions. */
export const visionRelayModule = 'drp.relay';

function hintKey(peer: LocalPeer, regId: Uint8Array): string {
  return `${peer.index}:${hex(regId)}`;
}

function pinKey(from: NeighborLink, regId: Uint8Array): string {
  return `${from.localToken}:${hex(regId)}`;
}

/** Sets `key` as the most recently used entry of a bounded map, forgetting the least recently used. */
function remember(map: Map<string, NeighborLink>, key: string, link: NeighborLink, max: number): void {
  map.delete(key);
  map.set(key, link);
  if (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
}
