/**
 * Neighbour upkeep: bringing links up (hole punching), keeping them alive, and keeping each local
 * registration's neighbourhood between its bounds and without holes.
 *
 * - Punching: both ends of a new link PING each other's public endpoint at once (first after
 *   `initialPingFirstMs`, then ×`initialPingBackoff`, for `initialPingExpiryMs`), which opens both NATs'
 *   mappings. A PING may arrive from a new port of the expected address (a NAT rebinding): the link
 *   follows it. The requester's PINGs ask for the responder's confirmation signature, which the first
 *   PONG carries; the link is up at the first verified PONG.
 * - Liveness: any MAC-verified packet from the remote proves it alive. The REGISTER requester's end
 *   PINGs after `pingIntervalMs` without hearing the remote (retrying every 2×RTT); the responder's end
 *   waits 1.5× as long, so it pings only when the leader's exchange is overdue. One PING and its PONG
 *   refresh both sides and both NAT bindings: one exchange per interval per link instead of one per side. The link dies after `linkDeadAfterMs` without a verified packet. PINGs advertise the busy-sector mask, the request budgets and, when
 *   the neighbour set changed, the local neighbours' regIDs (look-ahead routing).
 * - Neighbourhood, once a second per registration: below `neighborsMin`, register again (through a
 *   random neighbour with 0..9 random hops, or — rarely, or with no neighbour — through an entry peer),
 *   unless links still being set up make up the minimum; acceptances, extensions and gap probes stay
 *   within `neighborsHardMax` counting the links promised (`RegisterRole.linksPromised`);
 *   above `neighborsSoftMax`, drop the worst link (./policy.ts `evictionVictim`, low-rated links first);
 *   every `recycleWorstIntervalMs` at or above the minimum, drop the worst (whatever its far end's degree: a
 *   neighbour left below its minimum registers again); every `gapProbeIntervalMs`,
 *   send a direction-steered REGISTER into an empty simplex direction (backing off while probes fill
 *   nothing).
 * - Teardown: LinkClose (acknowledged by NPACK); the link stops being routable at once and its token is
 *   kept `teardownLingerMs` to absorb packets in flight.
 */
import { dimensions } from '../id/geometry.js';
import { simplexDirectionCount, simplexDirections, uncoveredDirections } from '../id/sectors.js';
import type { Endpoint } from '../seams/transport.js';
import { AttentionLevel } from '../vision/attention.js';
import {
  LinkCloseReason,
  macPlaceholder,
  PacketType,
  type Ping,
  PingFlags,
  type Pong,
} from '../wire/index.js';
import type { DrpEngine, LocalPeer } from './engine.js';
import { type NeighborLink, punchPingsRemembered } from './neighbor.js';
import { type EvictionCause, evictionVictim, routingPolicyDefault, spareAboveDegreeFor } from './policy.js';
import { pointOfRegIdCached as pointOf } from './register.js';

/** Links rated below this are the first to go when a registration has too many. */
export const ratingEvictFirstBelow = 0.5;
/** Upper bound of the PING retry interval while a PONG is overdue (ms). */
const pingRetryMaxMs = 2_000;
const pingRetryMinMs = 300;
/** The responder's end of a link pings after this multiple of `pingIntervalMs` idle (see `pingAfterMs`). */
export const followerPingDelayFactor = 1.5;

interface PeerUpkeep {
  lastAttemptMs: number;
  failures: number;
  lastRecycleMs: number;
  lastGapProbeMs: number;
  /** Empty directions counted at the last probe, and the current probe interval (backs off). */
  lastGapCount: number;
  gapIntervalMs: number;
}

/** The gap probe backs off up to this multiple of `gapProbeIntervalMs` while probes fill nothing. */
export const gapProbeBackoffMax = 16;

export class Upkeep {
  private readonly state = new Map<number, PeerUpkeep>();
  private readonly sectorScratch = new Uint8Array(dimensions + 1);
  private readonly slotSector = new Uint8Array(256);

  constructor(private readonly e: DrpEngine) {}

  start(peer: LocalPeer): void {
    const e = this.e;
    this.state.set(peer.index, {
      lastAttemptMs: Number.NEGATIVE_INFINITY,
      failures: 0,
      lastRecycleMs: e.now,
      lastGapProbeMs: e.now,
      lastGapCount: Number.POSITIVE_INFINITY,
      gapIntervalMs: e.config.gapProbeIntervalMs,
    });
    // Spread the ticks of many registrations over the second.
    const tick = (): void => {
      this.tick(peer);
      e.timers.schedule(e.now + 1_000, tick);
    };
    e.timers.schedule(e.now + 1 + e.rng.int(1_000), tick);
  }

  /** The registration of `peer` failed (for back-off of the next attempt). */
  noteFailure(peerIndex: number): void {
    const s = this.state.get(peerIndex);
    if (s !== undefined) s.failures = Math.min(s.failures + 1, 16);
  }

  private tick(peer: LocalPeer): void {
    const e = this.e;
    const c = e.config;
    const s = this.state.get(peer.index)!;
    const usable = peer.usableLinks();
    if (usable.length > 0) s.failures = 0;
    // Too many: drop the worst (one per tick).
    if (peer.neighbors.size > c.neighborsHardMax || usable.length > c.neighborsSoftMax) {
      this.evictWorst(peer, 'above the neighbour maximum', 'aboveMaximum');
      return;
    }
    if (e.register.inFlight.has(peer.index)) return;
    if (usable.length < c.neighborsMin) {
      // Links still being set up (punching) count: they come up within a few round trips or time out.
      // Registering again past them would take the table over its maximum when they do come up. Accepted
      // REGISTERs awaiting their ACK2 do not: whether those finish is up to their requesters.
      if (peer.neighbors.size >= c.neighborsMin) return;
      const backoff = Math.min(c.extensionRetryMaxMs, c.extensionMinIntervalMs * 2 ** s.failures);
      if (e.now - s.lastAttemptMs < backoff) return;
      s.lastAttemptMs = e.now;
      const viaEntry = usable.length === 0 || e.rng.float() < c.extensionViaEntryRatio;
      if (viaEntry) {
        if (peer.entryPeers.length > 0)
          e.register.startViaEntry(peer, usable.length === 0 ? 'entry' : 'extension');
      } else {
        const link = usable[e.rng.int(usable.length)]!;
        e.register.startViaNeighbor(peer, link, e.rng.int(c.randomHopsMax + 1), null, 'extension');
      }
      return;
    }
    if (e.now - s.lastRecycleMs >= c.recycleWorstIntervalMs) {
      s.lastRecycleMs = e.now;
      this.evictWorst(peer, 'periodic recycling of the worst link', 'recycling');
      return;
    }
    if (e.now - s.lastGapProbeMs >= s.gapIntervalMs && e.register.linksPromised(peer) < c.neighborsHardMax) {
      s.lastGapProbeMs = e.now;
      this.probeGaps(peer, usable, s);
    }
  }

  /**
   * One direction-steered REGISTER into a random empty simplex direction. Where probes stop filling
   * directions (the neighbourhood is as good as the peers around allow), the interval doubles, up to
   * `gapProbeBackoffMax` × `gapProbeIntervalMs`; any progress resets it.
   */
  private probeGaps(peer: LocalPeer, usable: NeighborLink[], s: PeerUpkeep): void {
    const e = this.e;
    const coords = new Uint32Array(usable.length * dimensions);
    const offsets: number[] = [];
    usable.forEach((l, i) => {
      coords.set(l.remotePoint, i * dimensions);
      offsets.push(i * dimensions);
    });
    const gaps = uncoveredDirections(peer.point, 0, coords, offsets);
    const base = e.config.gapProbeIntervalMs;
    s.gapIntervalMs =
      gaps.length < s.lastGapCount ? base : Math.min(base * gapProbeBackoffMax, s.gapIntervalMs * 2);
    s.lastGapCount = gaps.length;
    if (gaps.length === 0 || usable.length === 0) return;
    const d = gaps[e.rng.int(gaps.length)]!;
    if (d < 0 || d >= simplexDirectionCount) return;
    const dir = new Int8Array(dimensions);
    let maxAbs = 0;
    for (let i = 0; i < dimensions; i++)
      maxAbs = Math.max(maxAbs, Math.abs(simplexDirections[d * dimensions + i]!));
    for (let i = 0; i < dimensions; i++)
      dir[i] = Math.round((127 * simplexDirections[d * dimensions + i]!) / maxAbs);
    e.record(AttentionLevel.detail, peer.name, 'empty simplex direction: direction-steered REGISTER', () => ({
      direction: d,
      gaps: gaps.length,
    }));
    const link = usable[e.rng.int(usable.length)]!;
    e.register.startViaNeighbor(peer, link, 0, dir, 'gap');
  }

  /**
   * Drops one link: a badly rated one first, else the policy's eviction victim, which prefers neighbours
   * that can spare the link above the maximum but not in recycling (`spareAboveDegreeFor`).
   */
  private evictWorst(peer: LocalPeer, why: string, cause: EvictionCause): void {
    const usable = peer.usableLinks();
    if (usable.length === 0) {
      // Only links still punching: nothing to evict among usable ones; let setup finish or time out.
      return;
    }
    let victim: NeighborLink | undefined;
    let worstRating = ratingEvictFirstBelow;
    for (const l of usable) {
      const r = l.rating();
      if (r < worstRating) {
        worstRating = r;
        victim = l;
      }
    }
    if (victim === undefined) {
      const view = peer.currentView();
      const j = evictionVictim(
        view,
        0,
        routingPolicyDefault.sectorBonus,
        routingPolicyDefault.occlusionWeight,
        this.sectorScratch,
        this.slotSector,
        spareAboveDegreeFor(cause, routingPolicyDefault, this.e.config.neighborsMin),
      );
      if (j < 0) return;
      victim = view.links[view.slots[j]!];
    }
    if (victim === undefined) return;
    this.e.record(AttentionLevel.higherLevelDetail, peer.name, `dropping a neighbour: ${why}`, () => ({
      remote: victim.remoteRegIdHex.slice(0, 16),
      rating: Math.round(victim.rating() * 100) / 100,
    }));
    this.closeLink(victim, why, true, LinkCloseReason.evicted);
  }

  // ---------------------------------------------------------------- link lifecycle

  /** Registers a new link and starts hole punching; `done(true)` once up, `done(false)` on timeout. */
  startPunching(link: NeighborLink, done: (ok: boolean) => void): void {
    const e = this.e;
    const peer = e.localPeers[link.localPeerIndex]!;
    e.links.set(link.localToken, link);
    peer.neighbors.set(link.remoteRegIdHex, link);
    link.setupDeadlineMs = e.now + e.config.initialPingExpiryMs;
    link.setupDone = done;
    let interval = e.config.initialPingFirstMs;
    const punch = (): void => {
      if (link.state !== 'punching') return;
      if (e.now >= link.setupDeadlineMs) {
        e.record(
          AttentionLevel.lightPain,
          peer.name,
          'failed neighbour addition: hole punching timed out',
          () => ({
            remote: link.remoteRegIdHex.slice(0, 16),
            endpoint: `${link.remoteEndpoint.address}:${link.remoteEndpoint.port}`,
            role: link.role,
          }),
        );
        this.closeLink(link, 'hole punching timed out', false);
        return;
      }
      this.sendPing(link);
      link.timer = e.timers.schedule(e.now + Math.round(interval), punch);
      interval *= e.config.initialPingBackoff;
    };
    punch();
  }

  /** Sends a PING to the link's endpoint, or a probe PING (`probeId`) to `to`. */
  private sendPing(link: NeighborLink, to?: Endpoint, probeId?: number): void {
    const e = this.e;
    const peer = e.localPeers[link.localPeerIndex]!;
    if (probeId === undefined) {
      link.pingId = e.rng.uint32();
      link.pingSentMs = e.now;
      // Punch PINGs are one exchange for the rating (`markUp` counts it): only the PONG that brings the
      // link up is kept, and counting the others as unanswered would rate a long round trip as a bad link.
      if (link.state !== 'punching') link.pingsSent++;
      if (link.state === 'punching') {
        link.punchPings ??= [];
        if (link.punchPings.length >= 2 * punchPingsRemembered) link.punchPings.splice(0, 2);
        link.punchPings.push(link.pingId, link.pingSentMs);
      }
    }
    let neighbourRegIds: Uint8Array[] | null = null;
    if (link.advertisedVersion !== peer.neighborSetVersion && link.state === 'up') {
      neighbourRegIds = [];
      for (const l of peer.neighbors.values()) {
        if (l !== link && l.usable && neighbourRegIds.length < 20) neighbourRegIds.push(l.remoteRegId);
      }
      link.pendingAdvertVersion = peer.neighborSetVersion;
    }
    const flags =
      link.role === 'requester' && link.pendingConfirmation !== null
        ? PingFlags.confirmationSignatureRequested
        : 0;
    const ping: Ping = {
      type: PacketType.Ping,
      linkToken: link.remoteToken,
      pingId: probeId ?? link.pingId,
      flags,
      busySectors: peer.busySectors(),
      registerRateMaxPerMinute: Math.min(0xffff, Math.round(e.config.registerRatePerSec * 60)),
      inviteRateMaxPerMinute: Math.min(0xffff, Math.round(e.config.inviteRatePerSec * 60)),
      neighbourRegIds,
      linkMac: macPlaceholder,
    };
    e.sendRaw(to ?? link.remoteEndpoint, e.encodeFor({ link }, ping));
  }

  onPing(link: NeighborLink, from: Endpoint, p: Ping): void {
    const e = this.e;
    const peer = e.localPeers[link.localPeerIndex]!;
    const knownPort = from.port === link.remoteEndpoint.port;
    if (!knownPort) {
      // Probe the new port (at most one probe per port per second); switch on its PONG.
      if (link.candidatePort !== from.port || e.now - link.probeSentMs >= 1_000) {
        link.candidatePort = from.port;
        link.probePingId = e.rng.uint32();
        link.probeSentMs = e.now;
        this.sendPing(link, { address: from.address, port: from.port }, link.probePingId);
      }
    } else {
      // What a neighbour advertises is taken only from its known endpoint (a replay cannot plant it).
      if (link.remoteBusySectors !== p.busySectors) {
        link.remoteBusySectors = p.busySectors;
        peer.version++;
      }
      if (p.neighbourRegIds !== null) {
        link.remoteNeighbourPoints = p.neighbourRegIds.map((r) => pointOf(r));
        peer.version++;
      }
    }
    const wantsSig = (p.flags & PingFlags.confirmationSignatureRequested) !== 0;
    const pong: Pong = {
      type: PacketType.Pong,
      linkToken: link.remoteToken,
      pingId: p.pingId,
      confirmationSignature: wantsSig ? link.responderConfirmationSignature : null,
      linkMac: macPlaceholder,
    };
    // Answer where the PING came from: a neighbour behind a rebound NAT listens there now.
    e.sendRaw(from, e.encodeFor({ link }, pong));
  }

  onPong(link: NeighborLink, from: Endpoint, p: Pong): void {
    const e = this.e;
    if (from.port !== link.remoteEndpoint.port) {
      if (from.port !== link.candidatePort || p.pingId !== link.probePingId) return;
      e.record(
        AttentionLevel.detail,
        this.peerOf(link).name,
        'neighbour port changed (probe answered)',
        () => ({
          remote: link.remoteRegIdHex.slice(0, 16),
          from: `${from.address}:${from.port}`,
          was: link.remoteEndpoint.port,
        }),
      );
      link.remoteEndpoint = { address: from.address, port: from.port };
      link.candidatePort = -1;
      link.lastHeardMs = e.now;
      return;
    }
    let sentMs = link.pingSentMs;
    if (p.pingId !== link.pingId || sentMs < 0) {
      // A punching link takes the PONG of an earlier PING too (the round trip may exceed the interval).
      const earlier = link.state === 'punching' ? link.punchPings : null;
      sentMs = -1;
      for (let i = 0; earlier !== null && i < earlier.length; i += 2) {
        if (earlier[i] === p.pingId) sentMs = earlier[i + 1]!;
      }
      if (sentMs < 0) return;
    }
    const peer = e.localPeers[link.localPeerIndex]!;
    if (link.pendingConfirmation !== null) {
      const sig = p.confirmationSignature;
      if (
        sig === null ||
        !e.crypto.ed25519Verify(link.remoteRegId, link.pendingConfirmation.signedBytes, sig)
      ) {
        e.drop('badSignature', link.remoteEndpoint, { type: 'Pong', reason: 'confirmation signature' });
        return;
      }
      const confirm = link.pendingConfirmation.onConfirmed;
      link.pendingConfirmation = null;
      this.markUp(link, peer);
      confirm(sig);
    }
    const rtt = e.now - sentMs;
    link.rttMs = link.pongsReceived === 0 ? rtt : Math.round(0.8 * link.rttMs + 0.2 * rtt);
    link.pingSentMs = -1;
    link.lastHeardMs = e.now;
    link.pongsReceived++;
    if (link.pendingAdvertVersion >= 0) {
      link.advertisedVersion = link.pendingAdvertVersion;
      link.pendingAdvertVersion = -1;
    }
    if (link.state === 'punching') this.markUp(link, peer);
  }

  private markUp(link: NeighborLink, peer: LocalPeer): void {
    const e = this.e;
    if (link.state !== 'punching') return;
    link.state = 'up';
    link.punchPings = null;
    link.pingsSent = 1;
    const done = link.setupDone;
    link.setupDone = undefined;
    done?.(true);
    link.upSinceMs = e.now;
    link.lastHeardMs = e.now;
    peer.version++;
    peer.neighborSetVersion++;
    e.timers.cancel(link.timer);
    this.armKeepalive(link);
    e.record(AttentionLevel.higherLevelDetail, peer.name, 'neighbour up', () => ({
      remote: link.remoteRegIdHex.slice(0, 16),
      role: link.role,
      neighbours: peer.usableLinks().length,
    }));
    e.emit({
      type: 'neighborUp',
      peer: peer.name,
      remoteRegId: link.remoteRegId,
      remoteEndpoint: link.remoteEndpoint,
    });
  }

  private armKeepalive(link: NeighborLink): void {
    const e = this.e;
    const tick = (): void => {
      if (link.state !== 'up') return;
      if (e.now - link.lastHeardMs >= e.config.linkDeadAfterMs) {
        e.record(
          AttentionLevel.needsAttention,
          e.localPeers[link.localPeerIndex]!.name,
          'neighbour link died',
          () => ({
            remote: link.remoteRegIdHex.slice(0, 16),
            silentMs: e.now - link.lastHeardMs,
          }),
        );
        this.closeLink(link, 'silent neighbour', false);
        return;
      }
      const idle = e.now - link.lastHeardMs;
      const pingAfterMs = this.pingAfterMs(link);
      let next: number;
      if (
        idle >= pingAfterMs ||
        (link.advertisedVersion !== this.peerOf(link).neighborSetVersion && link.pingSentMs < 0)
      ) {
        this.sendPing(link);
        next = e.now + Math.max(pingRetryMinMs, Math.min(pingRetryMaxMs, 2 * link.rttMs));
      } else {
        next = link.lastHeardMs + pingAfterMs;
      }
      link.timer = e.timers.schedule(Math.max(next, e.now + 1), tick);
    };
    link.timer = e.timers.schedule(e.now + this.pingAfterMs(link), tick);
  }

  /**
   * Idle time after which this end PINGs. The REGISTER requester's end leads at `pingIntervalMs`; the
   * responder's end waits `followerPingDelayFactor` times longer, so it pings only when the leader's
   * exchange is overdue. With equal timers both ends would fire together about half the time (each
   * re-arms from the last packet it heard, and those are one one-way delay apart).
   */
  private pingAfterMs(link: NeighborLink): number {
    const interval = this.e.config.pingIntervalMs;
    return link.role === 'requester' ? interval : Math.round(interval * followerPingDelayFactor);
  }

  private peerOf(link: NeighborLink): LocalPeer {
    return this.e.localPeers[link.localPeerIndex]!;
  }

  /**
   * Takes `link` out of service: not routable, its requests abandoned, `neighborDown` emitted (if it was
   * up). With `notify`, the remote is told with LinkClose. The token stays `teardownLingerMs`.
   */
  closeLink(
    link: NeighborLink,
    why: string,
    notify: boolean,
    reason: number = LinkCloseReason.shuttingDown,
  ): void {
    const e = this.e;
    if (link.state === 'closing') return;
    const wasUp = link.state === 'up';
    link.state = 'closing';
    link.closeReason = why;
    const setupDone = link.setupDone;
    link.setupDone = undefined;
    link.pendingConfirmation = null;
    e.timers.cancel(link.timer);
    const peer = this.peerOf(link);
    if (peer.neighbors.get(link.remoteRegIdHex) === link) peer.neighbors.delete(link.remoteRegIdHex);
    peer.version++;
    if (wasUp) peer.neighborSetVersion++;
    e.abandonRequestsOn(link);
    if (notify && wasUp) {
      e.sendRequest(
        { link },
        `close:${link.localToken}`,
        'LinkClose',
        (seq) => ({
          type: PacketType.LinkClose,
          linkToken: link.remoteToken,
          seq,
          reason,
          linkMac: new Uint8Array(32),
        }),
        (code) => void code,
        () => {},
      );
    }
    e.timers.schedule(e.now + e.config.teardownLingerMs, () => {
      if (e.links.get(link.localToken) === link) e.links.delete(link.localToken);
    });
    if (wasUp) {
      e.emit({ type: 'neighborDown', peer: peer.name, remoteRegId: link.remoteRegId, reason: why });
    }
    setupDone?.(false);
  }
}
