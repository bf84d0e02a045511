/**
 * The real implementations of the Clock and Rng seams: the wall clock and the operating system's CSPRNG.
 * Only drivers under src/net (and the CLIs) construct these; the protocol core receives them.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import type { Clock } from '../seams/clock.js';
import { type Rng, uniformInt } from '../seams/rng.js';

/** Unix milliseconds, made non-decreasing (a wall clock stepped backwards holds still instead). */
export class WallClock implements Clock {
  private last = 0;
  now(): number {
    const t = Date.now();
    if (t > this.last) this.last = t;
    return this.last;
  }
}

/** Draws every value from `crypto.randomFillSync`, through a refilled pool to amortise the call. */
export class CryptoRng implements Rng {
  private static readonly poolBytes = 4096;
  private readonly pool = new Uint32Array(CryptoRng.poolBytes / 4);
  private next = this.pool.length;

  uint32(): number {
    if (this.next === this.pool.length) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }

  float(): number {
    // 53 random bits -> [0, 1)
    const hi = this.uint32() >>> 5;
    const lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  int(maxExclusive: number): number {
    return uniformInt(() => this.uint32(), maxExclusive);
  }

  bytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }

  /** CSPRNG streams are independent by construction; the name only documents intent. */
  fork(_name: string): Rng {
    return new CryptoRng();
  }
}
