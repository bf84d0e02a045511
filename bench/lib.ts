/**
 * Benchmark helpers. A benchmark measures the project's code and a baseline in the same run and
 * reports both, so the ratio survives a shared, noisy machine. Benchmarks never assert a time.
 */

export interface BenchOptions {
  /** Print one JSON object as the last line of output. */
  readonly json: boolean;
  /** Extra arguments after the benchmark's name. */
  readonly args: readonly string[];
}

export type BenchFigures = Record<string, unknown>;

export type Bench = (opts: BenchOptions) => Promise<BenchFigures>;

/**
 * Calls `fn` (which performs `opsPerCall` operations) repeatedly for about `minMs` of wall time after a
 * warm-up, and returns operations per second. Takes the best of `rounds` rounds: on a shared machine the
 * best round is the least disturbed one.
 */
export function opsPerSec(
  fn: () => void,
  opts: { minMs?: number; rounds?: number; opsPerCall?: number } = {},
): number {
  const minMs = opts.minMs ?? 300;
  const rounds = opts.rounds ?? 3;
  const opsPerCall = opts.opsPerCall ?? 1;
  const warmupEnd = performance.now() + Math.min(100, minMs / 2);
  while (performance.now() < warmupEnd) fn();
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < 16; i++) fn();
      calls += 16;
      elapsed = performance.now() - start;
    } while (elapsed < minMs);
    best = Math.max(best, (calls * opsPerCall * 1000) / elapsed);
  }
  return best;
}

/** Sets an ops/s figure to three significant digits for printing. */
export function round3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Prints figures as an aligned two-column table. */
export function printTable(title: string, figures: BenchFigures): void {
  console.log(title);
  const keys = Object.keys(figures);
  const width = Math.max(...keys.map((k) => k.length));
  for (const k of keys) {
    const v = figures[k];
    const shown = typeof v === 'number' ? round3(v).toLocaleString('en-US') : JSON.stringify(v);
    console.log(`  ${k.padEnd(width)}  ${shown}`);
  }
}
