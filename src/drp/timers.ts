/**
 * The engine's timers: a min-heap of (deadline, insertion sequence) → callback. The engine owns no clock:
 * the driver asks `next()` for the earliest deadline and calls `runDue(now)` when it is reached. Callbacks
 * due at the same millisecond run in the order they were scheduled, so a simulated run is reproducible.
 * Cancelled timers are dropped lazily when they reach the top. The number of live timers is bounded.
 */

export type TimerId = number;

interface Entry {
  readonly at: number;
  readonly seq: number;
}

export class TimerQueue {
  private readonly heap: Entry[] = [];
  private readonly callbacks = new Map<number, () => void>();
  private seq = 0;

  constructor(private readonly timersMax: number) {}

  get size(): number {
    return this.callbacks.size;
  }

  /** Live timers at most. */
  get capacity(): number {
    return this.timersMax;
  }

  /** Schedules `fn` at `at` (ms). Throws when `timersMax` live timers exist (an engine bug or a leak). */
  schedule(at: number, fn: () => void): TimerId {
    if (this.callbacks.size >= this.timersMax) {
      throw new RangeError(`timer queue full: ${this.timersMax} live timers (timersMax)`);
    }
    if (this.heap.length >= 2 * this.timersMax) this.compact();
    const id = this.seq++;
    this.callbacks.set(id, fn);
    this.push({ at, seq: id });
    return id;
  }

  cancel(id: TimerId | undefined): void {
    if (id !== undefined) this.callbacks.delete(id);
  }

  /** Earliest live deadline, or Infinity. */
  next(): number {
    this.dropCancelled();
    return this.heap.length === 0 ? Number.POSITIVE_INFINITY : this.heap[0]!.at;
  }

  /** Runs every callback due at or before `now`, including ones scheduled by callbacks for <= now. */
  runDue(now: number, onError?: (e: unknown) => void): number {
    let n = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (top === undefined || top.at > now) return n;
      this.pop();
      const fn = this.callbacks.get(top.seq);
      this.callbacks.delete(top.seq);
      if (fn === undefined) continue;
      n++;
      if (onError === undefined) fn();
      else {
        try {
          fn();
        } catch (e) {
          onError(e);
        }
      }
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.callbacks.has(this.heap[0]!.seq)) this.pop();
  }

  private compact(): void {
    const keep = this.heap.filter((e) => this.callbacks.has(e.seq));
    this.heap.length = 0;
    for (const e of keep) this.push(e);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = h[p]!;
      if (pe.at < e.at || (pe.at === e.at && pe.seq < e.seq)) break;
      h[i] = pe;
      i = p;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      let c = l;
      if (r < h.length) {
        const hr = h[r]!;
        const hl = h[l]!;
        if (hr.at < hl.at || (hr.at === hl.at && hr.seq < hl.seq)) c = r;
      }
      const hc = h[c]!;
      if (last.at < hc.at || (last.at === hc.at && last.seq < hc.seq)) break;
      h[i] = hc;
      i = c;
    }
    h[i] = last;
  }
}
