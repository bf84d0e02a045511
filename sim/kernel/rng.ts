/**
 * Seeded randomness for the simulator. One root seed (any string) is forked into named streams:
 * the stream for `network/loss` or `peer/17` depends only on the root seed and its path of names,
 * so adding or removing draws in one stream never perturbs another.
 *
 * Generator: seedrandom's `alea` (fast, 2^116 period) keyed by SHA-256 of the stream's path.
 */
import { createHash } from 'node:crypto';
import seedrandom from 'seedrandom';
import { type Rng, uniformInt } from '../../src/seams/rng.js';

export class SeededRng implements Rng {
  /** The stream's full name: root seed, then each fork name, joined by '/'. */
  readonly path: string;
  private readonly prng: seedrandom.PRNG;

  constructor(seed: string | number, path?: string) {
    this.path = path ?? String(seed);
    const key = createHash('sha256').update(this.path).digest('hex');
    this.prng = seedrandom.alea(key);
  }

  uint32(): number {
    return this.prng.int32() >>> 0;
  }

  float(): number {
    return this.prng.double();
  }

  int(maxExclusive: number): number {
    return uniformInt(() => this.prng.int32() >>> 0, maxExclusive);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    while (i + 4 <= n) {
      const x = this.prng.int32();
      out[i] = x & 255;
      out[i + 1] = (x >>> 8) & 255;
      out[i + 2] = (x >>> 16) & 255;
      out[i + 3] = (x >>> 24) & 255;
      i += 4;
    }
    if (i < n) {
      let x = this.prng.int32();
      while (i < n) {
        out[i++] = x & 255;
        x >>>= 8;
      }
    }
    return out;
  }

  fork(name: string): SeededRng {
    if (name.length === 0) throw new RangeError('fork name must not be empty');
    return new SeededRng(this.path, `${this.path}/${name}`);
  }
}
