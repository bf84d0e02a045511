/**
 * The entry peer's PoW2 challenges (DESIGN §5), sans-I/O: every method takes `nowMs`, challenges
 * are drawn from the caller's `Rng`.
 *
 * A challenge is 16 random bytes bound to the requester's IP:port (`endpointKey`, formatted by the
 * caller from the datagram's source address). Challenges live in two generations: the current one
 * receives new challenges; every `generationMs` (5 s) the current becomes the previous and the
 * previous is dropped. Generation boundaries sit on a fixed grid from the first call, so a challenge
 * issued at any moment stays valid for more than one and at most two generations: 5–10 s, whatever
 * the pattern of calls. The whole table costs two maps; expiry costs nothing per entry.
 *
 * Bound: a generation holds at most `pow2ChallengesPerGenerationMax` challenges. When the current
 * generation is full, `issue` refuses (`tableFull`) instead of rotating early: an early rotation
 * would let whoever fills the table (each challenge costs only one PoW1) cut the lifetime of every
 * honest challenge below the time its requester needs to solve PoW2, silently; a refusal is visible
 * to the requester (the entry peer answers "try again / try another entry peer") and lasts at most
 * one generation. Memory is bounded by 2 × the per-generation bound.
 */
import type { Rng } from '../seams/rng.js';
import { pow2ChallengeBytes, verifyPow2 } from './pow.js';

/** A generation's length; a challenge lives between one and two generations. */
export const pow2ChallengeGenerationMs = 5000;
/** Challenges one generation may hold (the original's 100 000). */
export const pow2ChallengesPerGenerationMax = 100_000;

export interface Pow2ChallengeTableOptions {
  readonly generationMs?: number;
  readonly challengesPerGenerationMax?: number;
}

export type Pow2IssueResult =
  | { readonly ok: true; readonly challenge: Uint8Array; readonly reused: boolean }
  /** `tableFull`: the current generation holds its maximum; try again after the next rotation. */
  | { readonly ok: false; readonly code: 'tableFull' };

export class Pow2ChallengeTable {
  readonly generationMs: number;
  readonly challengesPerGenerationMax: number;
  private current = new Map<string, Uint8Array>();
  private previous = new Map<string, Uint8Array>();
  /** Start of the current generation on the rotation grid; undefined before the first call. */
  private currentStartMs: number | undefined;
  private refusedCount = 0;

  constructor(options: Pow2ChallengeTableOptions = {}) {
    this.generationMs = options.generationMs ?? pow2ChallengeGenerationMs;
    this.challengesPerGenerationMax = options.challengesPerGenerationMax ?? pow2ChallengesPerGenerationMax;
    if (!(this.generationMs > 0)) throw new RangeError('generationMs must be > 0');
    if (!(this.challengesPerGenerationMax >= 1))
      throw new RangeError('challengesPerGenerationMax must be ≥ 1');
  }

  /**
   * The challenge for `endpointKey`: the one already issued in the current generation (a
   * retransmitted PoW1 request gets the same answer), else a fresh one drawn from `rng`.
   * Challenges are shared with the table: callers must not modify them.
   */
  issue(endpointKey: string, nowMs: number, rng: Rng): Pow2IssueResult {
    this.rotate(nowMs);
    const existing = this.current.get(endpointKey);
    if (existing !== undefined) return { ok: true, challenge: existing, reused: true };
    if (this.current.size >= this.challengesPerGenerationMax) {
      this.refusedCount++;
      return { ok: false, code: 'tableFull' };
    }
    const challenge = rng.bytes(pow2ChallengeBytes);
    this.current.set(endpointKey, challenge);
    return { ok: true, challenge, reused: false };
  }

  /** The newest live challenge issued to `endpointKey`, if any. */
  lookup(endpointKey: string, nowMs: number): Uint8Array | undefined {
    this.rotate(nowMs);
    return this.current.get(endpointKey) ?? this.previous.get(endpointKey);
  }

  /**
   * Whether `nonce` is a valid PoW2 for `regId` under a live challenge of `endpointKey` (at most two
   * hashes: a requester who asked again across a rotation holds one of two challenges).
   * Untrusted input gives false, never throws.
   */
  verify(endpointKey: string, nowMs: number, regId: Uint8Array, nonce: Uint8Array, bits: number): boolean {
    this.rotate(nowMs);
    const a = this.current.get(endpointKey);
    if (a !== undefined && verifyPow2(a, regId, nonce, bits)) return true;
    const b = this.previous.get(endpointKey);
    return b !== undefined && verifyPow2(b, regId, nonce, bits);
  }

  /** Drops the challenges of `endpointKey` (e.g. once its REGISTER was accepted). */
  forget(endpointKey: string): void {
    this.current.delete(endpointKey);
    this.previous.delete(endpointKey);
  }

  /** Live challenges held (both generations). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** How many `issue` calls were refused because the table was full. */
  get refused(): number {
    return this.refusedCount;
  }

  private rotate(nowMs: number): void {
    if (this.currentStartMs === undefined) {
      this.currentStartMs = nowMs;
      return;
    }
    const elapsed = nowMs - this.currentStartMs;
    if (elapsed < this.generationMs) return; // also a clock that went backwards: keep everything
    const generations = Math.floor(elapsed / this.generationMs);
    if (generations === 1) {
      this.previous = this.current;
    } else {
      this.previous = new Map();
    }
    this.current = new Map();
    this.currentStartMs += generations * this.generationMs;
  }
}
