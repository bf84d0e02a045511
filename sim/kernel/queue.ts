/**
 * The simulator's event queue: a binary min-heap over struct-of-typed-arrays, ordered totally by
 * (time, insertion sequence). Two events at the same virtual millisecond therefore always run in the
 * order they were scheduled, on every run and every machine — the first half of determinism.
 *
 * The heap holds, per entry, its time, its sequence number and a payload slot (an integer the owner maps
 * to its event data). Sifting moves a "hole" instead of swapping, and nothing is allocated per push or
 * pop: the arrays grow by doubling up to `capacityMax` and the queue refuses to grow beyond it.
 */

export const eventQueueCapacityDefault = 1 << 12;
/** Hard bound on pending events: a run that exceeds it is broken (a storm), not slow. */
export const eventsPendingMaxDefault = 1 << 24;

export class EventQueueFullError extends Error {
  constructor(capacityMax: number) {
    super(`event queue full: ${capacityMax} events pending (eventsPendingMax)`);
    this.name = 'EventQueueFullError';
  }
}

export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private slots: Int32Array;
  private count = 0;
  private nextSeq = 0;
  readonly capacityMax: number;

  constructor(
    capacityMax: number = eventsPendingMaxDefault,
    initialCapacity: number = eventQueueCapacityDefault,
  ) {
    if (!Number.isInteger(capacityMax) || capacityMax < 1) {
      throw new RangeError(`eventsPendingMax must be a positive integer, got ${capacityMax}`);
    }
    this.capacityMax = capacityMax;
    const cap = Math.max(1, Math.min(initialCapacity, capacityMax));
    this.times = new Float64Array(cap);
    this.seqs = new Float64Array(cap);
    this.slots = new Int32Array(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Time of the earliest event; `Infinity` when empty. */
  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : this.times[0]!;
  }

  /** Sequence number the next push will receive. */
  get sequence(): number {
    return this.nextSeq;
  }

  push(time: number, slot: number): void {
    if (this.count === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    const seq = this.nextSeq++;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (pt < time || (pt === time && seqs[parent]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      slots[i] = slots[parent]!;
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    slots[i] = slot;
  }

  /** Removes the earliest event and returns its slot; -1 when empty. `lastTime` holds its time. */
  pop(): number {
    if (this.count === 0) return -1;
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    const top = slots[0]!;
    this.lastTime = times[0]!;
    this.lastSeq = seqs[0]!;
    const n = --this.count;
    if (n > 0) {
      const t = times[n]!;
      const s = seqs[n]!;
      const sl = slots[n]!;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        const r = c + 1;
        if (r < n) {
          const tc = times[c]!;
          const tr = times[r]!;
          if (tr < tc || (tr === tc && seqs[r]! < seqs[c]!)) c = r;
        }
        const tc = times[c]!;
        if (t < tc || (t === tc && s < seqs[c]!)) break;
        times[i] = tc;
        seqs[i] = seqs[c]!;
        slots[i] = slots[c]!;
        i = c;
      }
      times[i] = t;
      seqs[i] = s;
      slots[i] = sl;
    }
    return top;
  }

  /** Time of the event most recently popped. */
  lastTime = 0;
  /** Sequence number of the event most recently popped. */
  lastSeq = 0;

  private grow(): void {
    const cap = this.times.length;
    if (cap >= this.capacityMax) throw new EventQueueFullError(this.capacityMax);
    const next = Math.min(cap * 2, this.capacityMax);
    const t = new Float64Array(next);
    t.set(this.times);
    const s = new Float64Array(next);
    s.set(this.seqs);
    const sl = new Int32Array(next);
    sl.set(this.slots);
    this.times = t;
    this.seqs = s;
    this.slots = sl;
  }
}
