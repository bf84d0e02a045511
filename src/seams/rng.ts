/**
 * The randomness seam. The protocol core never calls `Math.random` or a CSPRNG directly: it is
 * handed an `Rng`. In the simulator the `Rng` is seeded from the run's root seed, so keys, tokens
 * and jitter replay exactly; on real UDP it is backed by the operating system's CSPRNG.
 *
 * `fork(name)` returns an independent stream whose output depends only on the parent's identity
 * and `name` — not on how much the parent has been consumed — so adding a draw in one subsystem
 * never shifts the draws of another.
 */
export interface Rng {
  /** `n` random bytes (a fresh array the caller owns). */
  bytes(n: number): Uint8Array;
  /** A uniform integer in [0, 2^32). */
  uint32(): number;
  /** A uniform float in [0, 1). */
  float(): number;
  /** A uniform integer in [0, maxExclusive); `maxExclusive` in [1, 2^32]. */
  int(maxExclusive: number): number;
  /** An independent stream named `name` (deterministic for seeded generators). */
  fork(name: string): Rng;
}

/**
 * Uniform integer in [0, maxExclusive) from a uint32 source, without modulo bias
 * (rejection sampling on the top of the range).
 */
export function uniformInt(uint32: () => number, maxExclusive: number): number {
  if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x1_0000_0000) {
    throw new RangeError(`maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
  }
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
  for (;;) {
    const x = uint32();
    if (x < limit) return x % maxExclusive;
  }
}
