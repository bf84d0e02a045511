/**
 * The direct channel's bounds and knobs.
 *
 * Two kinds of numbers live here. *Protocol bounds* are part of the contract between the two sides of a
 * channel (a receiver refuses what an honest sender never sends): the largest message, how many parts it
 * splits into, how many messages may be outstanding at once. *Engine knobs* (`DmpConfig`) are local
 * policy — timers, window sizes, table bounds — that each side may tune or a simulated scenario may
 * randomise per seed.
 */
import { aeadTagBytes, dmpCiphertextMaxBytes, selectiveAckMaxBytes } from '../wire/constants.js';

// ---- protocol bounds ----

/** Largest message the application can send in one `send` (bytes). */
export const messageSizeMaxBytes = 64 * 1024;
/** Largest plaintext of one MessageStart/MessagePart (its ciphertext carries a 16-byte tag). */
export const messagePlaintextMaxBytes = dmpCiphertextMaxBytes - aeadTagBytes;
/**
 * Worst-case msgpack overhead of a part's plaintext around its chunk: fixarray header (1), ackFloor and
 * messageId as uint64 (9 + 9), partCount/partIndex (≤ 3), bin16 header (3).
 */
export const messagePlaintextOverheadMaxBytes = 1 + 9 + 9 + 3 + 3;
/** Bytes of message carried by one part: every part but the last carries exactly this many. */
export const messageChunkMaxBytes = messagePlaintextMaxBytes - messagePlaintextOverheadMaxBytes;
/** Parts of the largest message. */
export const messagePartCountMax = Math.ceil(messageSizeMaxBytes / messageChunkMaxBytes);
/**
 * Messages a sender may have started but not yet seen fully acknowledged: message m is sent only while
 * m < (oldest unacknowledged message) + this. The receiver reassembles ids in [next to deliver, next to
 * deliver + this) and refuses ids beyond, so its buffers hold at most this many messages.
 */
export const messagesInFlightMax = 16;
/** Counters one MessageAck can acknowledge beyond its cumulative ack (the selective bitmap's bits). */
export const selectiveAckCounters = selectiveAckMaxBytes * 8;

// ---- engine knobs ----

export interface DmpConfig {
  // Hole punching (DmpPing/DmpPong carrying the channel keys)
  /** First punch ping interval; then ×`punchBackoff` up to `punchIntervalMaxMs`. */
  readonly punchFirstMs: number;
  readonly punchBackoff: number;
  readonly punchIntervalMaxMs: number;
  /** No channel key from the peer within this long after start (or a path switch): closed `punchTimeout`. */
  readonly punchTimeoutMs: number;

  // Relay fallback (only when the driver offers a relay: DmpChannelOptions.relay)
  /** A direct path without confirmed keys this long after it was adopted: fall back to the relay. */
  readonly relayFallbackMs: number;
  /** A confirmed direct path with no fresh packet from a direct endpoint for this long: the relay. */
  readonly relaySilenceMs: number;
  /** A part timed out this many times on a direct path: the relay (our direction is blocked). */
  readonly relayTimeoutsMax: number;
  /** While relayed, the first probe of the direct endpoint comes this long after the fallback… */
  readonly directProbeFirstMs: number;
  /** …and later ones at doubling intervals up to this. */
  readonly directProbeMaxMs: number;

  // Liveness
  /** A keep-alive DmpPing is sent after this long without fresh traffic from the peer… */
  readonly keepAliveIntervalMs: number;
  /** …and repeated this often while the silence lasts (a lost ping or pong is not yet a dead peer). */
  readonly keepAliveRetryMs: number;
  /** Nothing fresh from the peer for this long: closed `peerSilent`. */
  readonly peerSilentMs: number;
  /** No message sent or received (and none outstanding) for this long: closed `idle`. */
  readonly idleTimeoutMs: number;

  // Reliability
  readonly rtoInitialMs: number;
  readonly rtoMinMs: number;
  readonly rtoMaxMs: number;
  /**
   * Retransmissions of one part after a timeout before the channel gives up (messages `failed`). Fast
   * retransmissions do not count: they happen only while later packets are being acknowledged.
   */
  readonly retransmissionsMax: number;
  /** A part is presumed lost once this many data packets sent after it are acknowledged. */
  readonly fastRetransmitPackets: number;
  /** An ack waits at most this long for a second data packet to acknowledge together. */
  readonly ackDelayMs: number;
  /** Data packets in flight (sent, not acknowledged) at most. */
  readonly packetsInFlightMax: number;

  // Bounds
  /** Messages accepted by `send` and not yet acknowledged, at most (`queueFull` beyond). */
  readonly sendQueueMessagesMax: number;
  /** Counters the receiver's replay window remembers below the highest seen (multiple of 32). */
  readonly replayWindowPackets: number;
  /** Our pings awaiting their pong. */
  readonly pingsOutstandingMax: number;
  /** The peer's recent ping ids remembered to refuse replayed pings. */
  readonly seenPingIdsMax: number;
  /** Pongs answered per second (and burst): a replayed-ping flood cannot make us a reflector. */
  readonly pongRatePerSec: number;
  readonly pongBurst: number;
  /** Datagrams queued for the driver; more are shed (counted), like a full socket buffer. */
  readonly outgoingDatagramsMax: number;
  /** Events queued for the driver. `rejected` events beyond it are only counted; others throw. */
  readonly eventsQueuedMax: number;
}

export const dmpConfigDefault: DmpConfig = {
  punchFirstMs: 200,
  punchBackoff: 1.5,
  punchIntervalMaxMs: 2_000,
  punchTimeoutMs: 15_000,

  // Punch pings go out at 0, 200, 500, 950, 1625 ms…: five chances before the fallback, so a punchable
  // pair falls back only if about five round trips in a row are lost.
  relayFallbackMs: 2_500,
  // Keep-alives start after 3 s of silence and repeat every second: five lost in a row before the
  // fallback, and still well before `peerSilentMs` closes the channel.
  relaySilenceMs: 8_000,
  relayTimeoutsMax: 3,
  directProbeFirstMs: 15_000,
  directProbeMaxMs: 300_000,

  // As DRP links: the 2019 field test found 3 s keeps consumer NAT bindings open.
  keepAliveIntervalMs: 3_000,
  keepAliveRetryMs: 1_000,
  peerSilentMs: 15_000,
  idleTimeoutMs: 120_000,

  rtoInitialMs: 1_000,
  rtoMinMs: 200,
  rtoMaxMs: 10_000,
  // With the RTO doubling up to rtoMaxMs, 12 retransmissions span about 80 s.
  retransmissionsMax: 12,
  fastRetransmitPackets: 3,
  ackDelayMs: 20,
  packetsInFlightMax: 64,

  sendQueueMessagesMax: 256,
  replayWindowPackets: 1_024,
  pingsOutstandingMax: 8,
  seenPingIdsMax: 32,
  pongRatePerSec: 10,
  pongBurst: 20,
  outgoingDatagramsMax: 512,
  eventsQueuedMax: 4_096,
};

/** Checks a configuration; returns the first problem as a message naming the parameter, or undefined. */
export function validateDmpConfig(c: DmpConfig): string | undefined {
  for (const [k, v] of Object.entries(c) as [keyof DmpConfig, number][]) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      return `${k} must be a finite non-negative number, got ${String(v)}`;
    }
  }
  const positive: (keyof DmpConfig)[] = [
    'punchFirstMs',
    'punchIntervalMaxMs',
    'punchTimeoutMs',
    'relayFallbackMs',
    'relaySilenceMs',
    'relayTimeoutsMax',
    'directProbeFirstMs',
    'directProbeMaxMs',
    'keepAliveIntervalMs',
    'keepAliveRetryMs',
    'peerSilentMs',
    'idleTimeoutMs',
    'rtoInitialMs',
    'rtoMinMs',
    'rtoMaxMs',
    'fastRetransmitPackets',
    'packetsInFlightMax',
    'sendQueueMessagesMax',
    'replayWindowPackets',
    'pingsOutstandingMax',
    'seenPingIdsMax',
    'pongRatePerSec',
    'pongBurst',
    'outgoingDatagramsMax',
    'eventsQueuedMax',
  ];
  for (const k of positive) if (!(c[k] > 0)) return `${k} must be positive, got ${c[k]}`;
  if (c.punchBackoff < 1) return `punchBackoff must be >= 1, got ${c.punchBackoff}`;
  if (!(c.rtoMinMs <= c.rtoInitialMs && c.rtoInitialMs <= c.rtoMaxMs)) {
    return `RTO bounds must satisfy rtoMinMs <= rtoInitialMs <= rtoMaxMs, got ${c.rtoMinMs}/${c.rtoInitialMs}/${c.rtoMaxMs}`;
  }
  if (c.peerSilentMs <= c.keepAliveIntervalMs) {
    return `peerSilentMs (${c.peerSilentMs}) must exceed keepAliveIntervalMs (${c.keepAliveIntervalMs})`;
  }
  if (!Number.isInteger(c.retransmissionsMax)) return `retransmissionsMax must be an integer`;
  if (!(c.relaySilenceMs > c.keepAliveIntervalMs && c.relaySilenceMs < c.peerSilentMs)) {
    return `relaySilenceMs (${c.relaySilenceMs}) must lie between keepAliveIntervalMs (${c.keepAliveIntervalMs}) and peerSilentMs (${c.peerSilentMs})`;
  }
  if (c.directProbeFirstMs > c.directProbeMaxMs) {
    return `directProbeFirstMs (${c.directProbeFirstMs}) must be <= directProbeMaxMs (${c.directProbeMaxMs})`;
  }
  if (!Number.isInteger(c.replayWindowPackets) || c.replayWindowPackets % 32 !== 0) {
    return `replayWindowPackets must be a multiple of 32, got ${c.replayWindowPackets}`;
  }
  if (c.replayWindowPackets < selectiveAckCounters) {
    return `replayWindowPackets (${c.replayWindowPackets}) must be >= ${selectiveAckCounters} (selectiveAckCounters)`;
  }
  if (c.packetsInFlightMax > selectiveAckCounters / 2) {
    return `packetsInFlightMax must be <= ${selectiveAckCounters / 2} (half the selective-ack range), got ${c.packetsInFlightMax}`;
  }
  return undefined;
}

/** Defaults overridden by `overrides`; throws RangeError naming the first bad parameter. */
export function dmpConfig(overrides: Partial<DmpConfig> = {}): DmpConfig {
  const c: DmpConfig = { ...dmpConfigDefault, ...overrides };
  const bad = validateDmpConfig(c);
  if (bad !== undefined) throw new RangeError(`DmpConfig: ${bad}`);
  return c;
}
