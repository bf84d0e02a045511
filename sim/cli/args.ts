/**
 * Argument parsing shared by the command-line tools: numbers in `1e6` notation, bounded integers, and a
 * `UsageError` that the entry point turns into one line on stderr and exit code 2 — never a stack trace.
 */
import { InvalidArgumentError } from 'commander';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses a count such as `200`, `1e6`, `2.5e5` or `1_000_000` into a safe integer within [min, max]. */
export function parseCount(name: string, text: string, min: number, max: number): number {
  const cleaned = text.replaceAll('_', '').trim();
  if (!/^\d+(\.\d+)?(e\d+)?$/i.test(cleaned)) {
    throw new InvalidArgumentError(`${name} must be a number like 200 or 1e6, got '${text}'`);
  }
  const n = Number(cleaned);
  if (!Number.isSafeInteger(n))
    throw new InvalidArgumentError(`${name} must be a whole number, got '${text}'`);
  if (n < min || n > max)
    throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Parses a non-negative decimal (minutes, rates) within [min, max]. */
export function parseDecimal(name: string, text: string, min: number, max: number): number {
  const cleaned = text.trim();
  if (!/^\d+(\.\d+)?(e-?\d+)?$/i.test(cleaned)) {
    throw new InvalidArgumentError(`${name} must be a number, got '${text}'`);
  }
  const n = Number(cleaned);
  if (!(n >= min && n <= max))
    throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A commander argument parser bound to a name and range. */
export function countOption(name: string, min: number, max: number): (text: string) => number {
  return (text) => parseCount(name, text, min, max);
}

export function decimalOption(name: string, min: number, max: number): (text: string) => number {
  return (text) => parseDecimal(name, text, min, max);
}

/** A random-looking default seed for a run that was not given one; printed so it can be replayed. */
export function defaultSeed(): string {
  return String(Math.floor(Math.random() * 1e9));
}

/** Ctrl-C: the first press asks long loops to stop at their next check; the second exits at once. */
export class Interrupt {
  requested = false;
  private readonly onSignal = (): void => {
    if (this.requested) process.exit(130);
    this.requested = true;
    process.stderr.write('\ninterrupted: stopping (press Ctrl-C again to quit at once)\n');
  };
  constructor() {
    process.on('SIGINT', this.onSignal);
  }
  dispose(): void {
    process.off('SIGINT', this.onSignal);
  }
}

/** Progress on stderr for long runs: a line at most every `intervalMs`, with an ETA. */
export class Progress {
  private lastPrint = 0;
  private readonly start = Date.now();
  /** The first count reported: a resumed phase starts part-way, and the ETA counts from there. */
  private first = -1;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly intervalMs = 2000,
  ) {}
  update(done: number): void {
    if (this.first < 0) this.first = done;
    const now = Date.now();
    if (now - this.lastPrint < this.intervalMs && done < this.total) return;
    this.lastPrint = now;
    const frac = this.total > 0 ? done / this.total : 1;
    const elapsed = (now - this.start) / 1000;
    // No rate yet on the first line (nothing done since it): no ETA rather than a false 0 s.
    const eta =
      done > this.first ? `${((elapsed * (this.total - done)) / (done - this.first)).toFixed(0)} s` : '–';
    process.stderr.write(
      `${this.label}: ${(frac * 100).toFixed(1)}% (${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}), ` +
        `${elapsed.toFixed(0)} s elapsed, ETA ${eta}\n`,
    );
  }
}

/** Formats rows as an aligned text table. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [header, ...rows].map((r) =>
    r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c)),
  );
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r, ri) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}
