/**
 * Replay protection: a timestamp window and bounded sets of recently seen requests.
 *
 * A signed request carries a timestamp; `checkTimestamp` accepts it within ±`timestampWindowMs`
 * (20 min, as the original) of the receiver's clock. Inside that window a captured request could be
 * sent again, so its identity — (regID, timestamp) for REGISTER, the ephemeral X25519 public key of
 * a handshake — goes into a `ReplayFilter`, which answers "seen before" for a repeat.
 *
 * How long to remember: a request stamped up to one window in the future is first seen at
 * ts − window and still passes the timestamp check until ts + window, so an entry must outlive its
 * first sighting by 2 × window: `replayRetentionMs`. The filter keeps two generations of
 * `retentionMs` each; the current one receives new keys, and at each rotation the previous one is
 * dropped whole. An entry therefore lives between one and two retention periods, never less, and
 * expiry costs nothing per entry.
 *
 * Keys are SHA-256 of the caller's bytes truncated to 128 bits (the original XOR-folded 32-bit words,
 * which anyone can collide to plant a false "seen" or dodge a true one). Fixed-size keys also make
 * memory per entry independent of the input.
 *
 * Bound: each generation holds at most `entriesMax` keys (`replaySetEntriesMax`). When the current
 * one is full, new keys are rejected as a flood (`check` says `full`, `seen` says true) rather than
 * rotating early. Early rotation would forget keys whose requests are still inside the timestamp
 * window, so an attacker able to produce many fresh entries could flush the filter and then replay
 * captured requests; failing closed costs availability for at most one generation while rate limits
 * upstream (per neighbour) shed the flood. Size `entriesMax` to the legitimate rate × retention.
 * Memory is bounded by 2 × `entriesMax` keys.
 */
import { hash } from 'node:crypto';

/** A request's timestamp may differ from the receiver's clock by at most this much. */
export const timestampWindowMs = 20 * 60_000;
/** How long a seen key must be remembered: first seen at ts − window, replayable until ts + window. */
export const replayRetentionMs = 2 * timestampWindowMs;
/** Keys one generation of a `ReplayFilter` holds (≈ 27 new keys/s sustained over a retention). */
export const replaySetEntriesMax = 65_536;
/** Bytes of the hash a key is stored as. */
export const replayKeyHashBytes = 16;

export type TimestampCheck = 'ok' | 'tooOld' | 'tooNew';

/**
 * Whether a request stamped `tsMs` is acceptable at `nowMs`: within ±`windowMs` inclusive.
 * A timestamp that is not a finite number is `tooOld` (it can never become acceptable).
 */
export function checkTimestamp(
  tsMs: number,
  nowMs: number,
  windowMs: number = timestampWindowMs,
): TimestampCheck {
  if (!Number.isFinite(tsMs)) return 'tooOld';
  if (tsMs < nowMs - windowMs) return 'tooOld';
  if (tsMs > nowMs + windowMs) return 'tooNew';
  return 'ok';
}

/** The bytes identifying a REGISTER for replay purposes: regID ‖ timestamp (u64 big-endian, ms). */
export function regIdTimestampKey(regId: Uint8Array, tsMs: number): Uint8Array {
  const out = new Uint8Array(regId.length + 8);
  out.set(regId, 0);
  new DataView(out.buffer).setBigUint64(regId.length, BigInt(Math.max(0, Math.floor(tsMs))));
  return out;
}

/** `new`: recorded now; `replay`: seen within the retention; `full`: rejected, the filter is flooded. */
export type ReplayCheck = 'new' | 'replay' | 'full';

export interface ReplayFilterOptions {
  /** Keys per generation. */
  readonly entriesMax?: number;
  /** Generation length; keys live between one and two of these. */
  readonly retentionMs?: number;
}

export class ReplayFilter {
  readonly entriesMax: number;
  readonly retentionMs: number;
  private current = new Set<string>();
  private previous = new Set<string>();
  /** Start of the current generation on the rotation grid; undefined before the first call. */
  private currentStartMs: number | undefined;
  private floodRejectCount = 0;

  constructor(options: ReplayFilterOptions = {}) {
    this.entriesMax = options.entriesMax ?? replaySetEntriesMax;
    this.retentionMs = options.retentionMs ?? replayRetentionMs;
    if (!(this.entriesMax >= 1)) throw new RangeError('entriesMax must be ≥ 1');
    if (!(this.retentionMs > 0)) throw new RangeError('retentionMs must be > 0');
  }

  /** Looks `key` up and records it if new. */
  check(key: Uint8Array, nowMs: number): ReplayCheck {
    this.rotate(nowMs);
    const k = keyOf(key);
    if (this.current.has(k) || this.previous.has(k)) return 'replay';
    if (this.current.size >= this.entriesMax) {
      this.floodRejectCount++;
      return 'full';
    }
    this.current.add(k);
    return 'new';
  }

  /**
   * True when the request identified by `key` must be dropped: seen before within the retention, or
   * the filter is full (flood). Records `key` when it is new.
   */
  seen(key: Uint8Array, nowMs: number): boolean {
    return this.check(key, nowMs) !== 'new';
  }

  /** Whether `key` was recorded within the retention (does not record it). */
  has(key: Uint8Array, nowMs: number): boolean {
    this.rotate(nowMs);
    const k = keyOf(key);
    return this.current.has(k) || this.previous.has(k);
  }

  /** Keys held (both generations); at most 2 × `entriesMax`. */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** New keys rejected because the current generation was full. */
  get floodRejects(): number {
    return this.floodRejectCount;
  }

  private rotate(nowMs: number): void {
    if (this.currentStartMs === undefined) {
      this.currentStartMs = nowMs;
      return;
    }
    const elapsed = nowMs - this.currentStartMs;
    if (elapsed < this.retentionMs) return; // also a clock that went backwards: forget nothing
    const generations = Math.floor(elapsed / this.retentionMs);
    this.previous = generations === 1 ? this.current : new Set();
    this.current = new Set();
    this.currentStartMs += generations * this.retentionMs;
  }
}

function keyOf(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'buffer').toString('latin1', 0, replayKeyHashBytes);
}
