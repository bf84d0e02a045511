/**
 * The DRP engine's knobs and their defaults. Defaults follow the original protocol's constants except
 * where the field test or our measurements found better values (noted). Everything is configurable so a
 * simulated scenario can shrink or randomise them per seed.
 */

export interface DrpConfig {
  /** Proof of work at the entry peer, leading zero bits of SHA-256 (PoW1 and PoW2). */
  readonly powBits: number;
  /** Requests' timestamps must lie within ± this of the receiver's clock. */
  readonly timestampToleranceMs: number;

  // Hop-by-hop reliability
  readonly retransmitFirstMs: number;
  readonly retransmitBackoff: number;
  readonly requestExpiryMs: number;
  /** After NPACK(accepted), how long to wait for ACK1 or FAILURE. */
  readonly ack1TimeoutMs: number;
  /** How long to wait for ACK2 (responder) / CFM. */
  readonly ack2TimeoutMs: number;
  readonly cfmTimeoutMs: number;
  /** Cached answers to retransmitted requests. */
  readonly responseCacheMs: number;
  readonly responseCacheEntriesMax: number;

  // Routing
  readonly hopsMax: number;
  readonly randomHopsMax: number;
  /** Alternative next hops tried at one hop before giving up with routeUnavailable. */
  readonly routeTriesPerHopMax: number;
  /** Requester-side INVITE attempts through different first hops. */
  readonly inviteAttemptsMax: number;

  // Neighbours
  readonly neighborsMin: number;
  readonly neighborsSoftMax: number;
  readonly neighborsHardMax: number;
  readonly pingIntervalMs: number;
  readonly linkDeadAfterMs: number;
  readonly initialPingFirstMs: number;
  readonly initialPingBackoff: number;
  readonly initialPingExpiryMs: number;
  readonly teardownLingerMs: number;
  readonly recycleWorstIntervalMs: number;
  readonly gapProbeIntervalMs: number;
  readonly extensionMinIntervalMs: number;
  readonly extensionRetryMaxMs: number;
  /** Share of neighbourhood extensions sent through an entry peer instead of a neighbour. */
  readonly extensionViaEntryRatio: number;

  // Rate limits (per neighbour, token buckets)
  readonly registerRatePerSec: number;
  readonly registerBurst: number;
  readonly inviteRatePerSec: number;
  readonly inviteBurst: number;
  /** Relay packets (relayed direct-channel datagrams) a neighbour may hand us per second, and burst. */
  readonly relayRatePerSec: number;
  readonly relayBurst: number;

  // Bounds
  readonly transactionsMax: number;
  readonly pendingRegistersMax: number;
  readonly replaySetEntriesMax: number;
  readonly outboxDatagramsMax: number;
}

export const drpConfigDefault: DrpConfig = {
  powBits: 15,
  timestampToleranceMs: 20 * 60_000,

  retransmitFirstMs: 350,
  retransmitBackoff: 1.5,
  requestExpiryMs: 8_000,
  ack1TimeoutMs: 15_000,
  ack2TimeoutMs: 8_000,
  cfmTimeoutMs: 10_000,
  responseCacheMs: 15_000,
  responseCacheEntriesMax: 10_000,

  hopsMax: 30,
  randomHopsMax: 9,
  routeTriesPerHopMax: 4,
  inviteAttemptsMax: 5,

  neighborsMin: 12,
  neighborsSoftMax: 14,
  neighborsHardMax: 18,
  // The 2019 field test found 3 s keeps consumer NAT bindings open where 5 s did not.
  pingIntervalMs: 3_000,
  linkDeadAfterMs: 12_000,
  initialPingFirstMs: 200,
  initialPingBackoff: 1.05,
  initialPingExpiryMs: 5_000,
  teardownLingerMs: 15_000,
  recycleWorstIntervalMs: 120_000,
  gapProbeIntervalMs: 30_000,
  extensionMinIntervalMs: 500,
  extensionRetryMaxMs: 20_000,
  extensionViaEntryRatio: 0.01,

  // The 2019 design asked for about 3 requests/s per neighbour; bursts absorb a neighbour's catch-up.
  registerRatePerSec: 3,
  registerBurst: 10,
  inviteRatePerSec: 3,
  inviteBurst: 10,
  // A relayed channel sends at most 64 data packets in flight plus acks and keep-alives; a neighbour
  // carries a few such channels at full speed, and a flood from one neighbour costs at most this much.
  relayRatePerSec: 200,
  relayBurst: 400,

  transactionsMax: 4_096,
  pendingRegistersMax: 256,
  replaySetEntriesMax: 65_536,
  outboxDatagramsMax: 4_096,
};

/** Checks a configuration; returns the first problem as a message naming the parameter, or undefined. */
export function validateDrpConfig(c: DrpConfig): string | undefined {
  const positive: (keyof DrpConfig)[] = [
    'timestampToleranceMs',
    'retransmitFirstMs',
    'requestExpiryMs',
    'ack1TimeoutMs',
    'ack2TimeoutMs',
    'cfmTimeoutMs',
    'responseCacheMs',
    'responseCacheEntriesMax',
    'hopsMax',
    'routeTriesPerHopMax',
    'inviteAttemptsMax',
    'neighborsMin',
    'neighborsSoftMax',
    'neighborsHardMax',
    'pingIntervalMs',
    'linkDeadAfterMs',
    'initialPingFirstMs',
    'initialPingExpiryMs',
    'teardownLingerMs',
    'recycleWorstIntervalMs',
    'gapProbeIntervalMs',
    'extensionMinIntervalMs',
    'extensionRetryMaxMs',
    'registerRatePerSec',
    'registerBurst',
    'inviteRatePerSec',
    'inviteBurst',
    'relayRatePerSec',
    'relayBurst',
    'transactionsMax',
    'pendingRegistersMax',
    'replaySetEntriesMax',
    'outboxDatagramsMax',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      return `${k} must be a positive number, got ${v}`;
  }
  if (!Number.isInteger(c.powBits) || c.powBits < 0 || c.powBits > 40)
    return `powBits must be in 0..40, got ${c.powBits}`;
  if (c.retransmitBackoff < 1) return `retransmitBackoff must be >= 1, got ${c.retransmitBackoff}`;
  if (c.initialPingBackoff < 1) return `initialPingBackoff must be >= 1, got ${c.initialPingBackoff}`;
  if (c.hopsMax > 255) return `hopsMax must be <= 255, got ${c.hopsMax}`;
  if (!Number.isInteger(c.randomHopsMax) || c.randomHopsMax < 0 || c.randomHopsMax >= c.hopsMax) {
    return `randomHopsMax must be an integer in [0, hopsMax), got ${c.randomHopsMax}`;
  }
  if (!(c.neighborsMin <= c.neighborsSoftMax && c.neighborsSoftMax <= c.neighborsHardMax)) {
    return `neighbour bounds must satisfy neighborsMin <= neighborsSoftMax <= neighborsHardMax, got ${c.neighborsMin}/${c.neighborsSoftMax}/${c.neighborsHardMax}`;
  }
  if (c.linkDeadAfterMs <= c.pingIntervalMs) {
    return `linkDeadAfterMs (${c.linkDeadAfterMs}) must exceed pingIntervalMs (${c.pingIntervalMs})`;
  }
  if (!(c.extensionViaEntryRatio >= 0 && c.extensionViaEntryRatio <= 1)) {
    return `extensionViaEntryRatio must be in [0, 1], got ${c.extensionViaEntryRatio}`;
  }
  return undefined;
}
