/**
 * The scale model's random stream: xoshiro128** seeded from a named `Rng` stream. The model draws
 * ~1e8 numbers per 1e6-peer run; the seam's generic `Rng.int` allocates a closure per call, which
 * costs more than the join itself, so the model keeps its own allocation-free generator, seeded
 * deterministically from the run's seed.
 */
import type { Rng } from '../../src/seams/rng.js';

export class FastRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seedFrom: Pick<Rng, 'uint32'>) {
    this.s0 = seedFrom.uint32() | 1;
    this.s1 = seedFrom.uint32();
    this.s2 = seedFrom.uint32();
    this.s3 = seedFrom.uint32();
  }

  /** The generator's state, to replay a stretch of draws with `restore`. */
  save(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  restore(state: readonly [number, number, number, number]): void {
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /**
   * Sets the state to stream `index` of the family `key` (four words): splitmix32 over the key mixed with
   * the index, so every index gets its own well-spread state without drawing from any other stream. The
   * batched build gives each join its own stream this way, so a join's draws do not depend on which
   * thread plans it or on what was planned before it.
   */
  reseed(key: readonly [number, number, number, number], index: number): void {
    // Every key word and the index go through the hash before any state word is drawn from it.
    let x = mix32((key[0] ^ index) >>> 0);
    x = mix32((x + key[1]) >>> 0);
    x = mix32((x ^ key[2]) >>> 0);
    x = mix32((x + key[3]) >>> 0);
    // splitmix32 steps: the state words are the hashes of x + k·φ for k = 1..4.
    this.s0 = mix32((x + 0x9e37_79b9) >>> 0) | 1;
    this.s1 = mix32((x + 2 * 0x9e37_79b9) >>> 0);
    this.s2 = mix32((x + 3 * 0x9e37_79b9) >>> 0);
    this.s3 = mix32((x + 4 * 0x9e37_79b9) >>> 0);
  }

  /** A uniform u32. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.uint32() * 2.3283064365386963e-10;
  }

  /** A uniform integer in [0, n) for n in [1, 2^32] (multiply-shift; bias below 2^-32 · n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A standard normal deviate (Box–Muller; one of the pair). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** MurmurHash3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function mix32(z: number): number {
  let h = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
