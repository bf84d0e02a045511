/**
 * Token buckets for per-neighbour request budgets. A neighbour that spends its budget is in "flood"
 * state: its excess requests are dropped at the first hop (answered with NPACK rateLimited), and routing
 * avoids forwarding through it until it refills. Time is the caller's `now`; nothing here reads a clock.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.ratePerSec) / 1000);
      this.lastMs = nowMs;
    }
  }

  /** Takes one token if available. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** True while the bucket holds less than one token (the sender is over its budget). */
  exhausted(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens < 1;
  }

  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }
}
