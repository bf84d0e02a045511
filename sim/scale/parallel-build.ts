/**
 * Batched joins, planned on several threads (`JoinParams.joinBatchDivisor`).
 *
 * A batch of B peers (`joinBatchAt`) is planned against the network as the batch began: each newcomer's
 * REGISTER walks, its links and its own evictions (`ScaleNetwork.planJoin`) touch only its own row, so
 * the plans of one batch are independent and are computed by T threads at once — the build thread and
 * T − 1 helpers (`build-helper.ts`) over the same SharedArrayBuffers. Each plan draws from its own
 * stream (`FastRng.reseed` by join position), so a plan is a function of the network and the position
 * alone. The build thread then applies the plans in join order (`applyPlanned`): the links at both
 * ends, the evictions they cause and the re-registrations those leave.
 *
 * The result therefore depends on the batch schedule but not on the thread count: `--build-threads 1`
 * and `--build-threads 2` with one divisor give byte-identical networks. Batched joins are what a real
 * network does anyway — newcomers joining within the same moments do not see each other's links.
 *
 * Helpers are driven through a shared control array and `Atomics.wait`/`notify` (the build is one
 * synchronous loop); a helper's failure is reported back through a message port read synchronously.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { FastRng } from './fast-rng.js';
import {
  batchAt,
  type ForeseenEvictions,
  type JoinCounters,
  joinBatchAt,
  joinBatchMax,
  type ScaleNetwork,
  upkeepTickEvery,
} from './model.js';

/** Threads a build plans on by default: the cores, up to 2 (more gain little: applying the plans is serial). */
export const buildThreadsDefault = Math.max(1, Math.min(2, availableParallelism()));
/** Threads a build uses at most (the build thread and its helpers). */
export const buildThreadsMax = 16;
/** A helper silent for this long while planning is taken to be lost (ms). */
export const helperStallMs = 120_000;

/** Control words (Int32Array over a SharedArrayBuffer). */
export const Ctl = {
  /** Batch number, incremented by the build thread to start a batch (−1: stop). */
  Seq: 0,
  /** First join position of the batch. */
  Start: 1,
  /** Peers in the batch. */
  Count: 2,
  /** Peers prepared (the helpers' `count`). */
  Prepared: 3,
  /** Peers joined before the batch (the helpers' `joined`). */
  Joined: 4,
  /** What the batch plans: `BatchKind`. */
  Kind: 5,
  /** The recycling round (for `BatchKind.recycle`). */
  Round: 6,
  /** The next position in the batch no thread has taken yet (threads take `claimSize` at a time). */
  Next: 7,
  /** Per helper h (1-based): the last batch it finished, at `Done + h − 1`; −1 after a failure. */
  Done: 8,
} as const;

/** Positions a thread takes at a time from a batch (small: a late thread finds work left). */
export const claimSize = 4;

/** Batches of joins, or of the steps of a recycling round. */
export const BatchKind = { joins: 0, recycle: 1 } as const;
export type BatchKind = (typeof BatchKind)[keyof typeof BatchKind];

/** The streams of recycling round `round`: the join streams' key, changed in its first word. */
function recycleKey(
  planKey: readonly [number, number, number, number],
  round: number,
): [number, number, number, number] {
  return [(planKey[0] ^ Math.imul(round + 1, 0x5bd1_e995)) >>> 0, planKey[1], planKey[2], planKey[3]];
}

const counterNames = [
  'registers',
  'registerHops',
  'registerFailures',
  'evictions',
  'deficitDropped',
  'longLinksMade',
  'gapFills',
] as const satisfies readonly (keyof JoinCounters)[];
export const counterCount = counterNames.length;

/** What a helper is given at start (`workerData`). */
export interface HelperInput {
  readonly helper: number;
  readonly capacity: number;
  readonly params: ScaleNetwork['params'];
  readonly arrays: ReturnType<ScaleNetwork['sharedArrays']>;
  readonly planKey: readonly [number, number, number, number];
  readonly control: SharedArrayBuffer;
  /** Plans: `joinBatchMax` × slot stride words, and their lengths. */
  readonly plans: SharedArrayBuffer;
  readonly planLengths: SharedArrayBuffer;
  /** The far ends' evictions foreseen per planned link (`ForeseenEvictions`). */
  readonly foreseen: ForeseenBuffers;
  /** Per helper, the counters its plans of the last batch added (Float64, `counterCount` each). */
  readonly counters: SharedArrayBuffer;
  readonly port: MessagePort;
}

export interface ForeseenBuffers {
  readonly victims: SharedArrayBuffer;
  readonly masks: SharedArrayBuffer;
  readonly spares: SharedArrayBuffer;
}

function foreseenBuffers(slots: number): ForeseenBuffers {
  return {
    victims: new SharedArrayBuffer(slots),
    masks: new SharedArrayBuffer(2 * slots),
    spares: new SharedArrayBuffer(4 * slots),
  };
}

export function foreseenOf(b: ForeseenBuffers): ForeseenEvictions {
  return {
    victims: new Int8Array(b.victims),
    masks: new Uint16Array(b.masks),
    spares: new Uint32Array(b.spares),
  };
}

/** Writes counters to `out[at..)` (a helper's share of a batch). */
export function writeCounters(c: JoinCounters, out: Float64Array, at: number): void {
  counterNames.forEach((k, i) => {
    out[at + i] = c[k];
  });
}

export function resetCounters(c: JoinCounters): void {
  for (const k of counterNames) c[k] = 0;
}

/** A batch to plan: its kind, first position, size and (recycling) round. */
export interface Batch {
  readonly kind: BatchKind;
  readonly start: number;
  readonly count: number;
  readonly round: number;
}

/**
 * Plans positions of a batch until none is left: `control` null plans them all on this thread; otherwise
 * positions are taken `claimSize` at a time from `Ctl.Next`, so threads that run faster plan more. A
 * plan depends on its position alone, so who plans what does not matter to the result.
 */
export function planShare(
  model: ScaleNetwork,
  rng: FastRng,
  planKey: readonly [number, number, number, number],
  batch: Batch,
  control: Int32Array | null,
  plans: Uint32Array,
  lengths: Uint8Array,
  foreseen: ForeseenEvictions,
): void {
  const stride = model.slotStride;
  const { start, count } = batch;
  const recycle = batch.kind === BatchKind.recycle;
  const key = recycle ? recycleKey(planKey, batch.round) : planKey;
  for (let from = 0; ; from += claimSize) {
    if (control !== null) from = Atomics.add(control, Ctl.Next, claimSize);
    if (from >= count) return;
    const to = Math.min(count, from + claimSize);
    for (let k = from; k < to; k++) {
      rng.reseed(key, start + k);
      const p = model.joinOrder[start + k]!;
      if (recycle) {
        model.planRecycle(p, rng, plans, k * stride, foreseen);
        continue;
      }
      const length = model.planJoin(p, rng, plans, k * stride);
      lengths[k] = length;
      model.foreseeEvictions(p, plans, k * stride, length, foreseen);
    }
  }
}

export class BatchedJoins {
  private readonly control: Int32Array;
  private readonly plans: Uint32Array;
  private readonly lengths: Uint8Array;
  private readonly foreseen: ForeseenEvictions;
  private readonly helperCounters: Float64Array;
  private readonly rng: FastRng;
  private readonly helpers: { worker: Worker; port: MessagePort }[] = [];
  private seq = 0;

  /**
   * `threads` − 1 helpers are started when the compiled helper exists and the network is in shared memory
   * (a run from TypeScript sources plans every batch on this thread, with the same result). `foresee`
   * false makes every far end choose its eviction when the link is applied (a check that foresight
   * changes nothing).
   */
  constructor(
    private readonly model: ScaleNetwork,
    private readonly planKey: readonly [number, number, number, number],
    threads: number,
    private readonly foresee = true,
  ) {
    const controlBuffer = new SharedArrayBuffer(4 * (Ctl.Done + buildThreadsMax));
    this.control = new Int32Array(controlBuffer);
    const plansBuffer = new SharedArrayBuffer(4 * joinBatchMax * model.slotStride);
    const lengthsBuffer = new SharedArrayBuffer(joinBatchMax);
    const countersBuffer = new SharedArrayBuffer(8 * counterCount * buildThreadsMax);
    this.plans = new Uint32Array(plansBuffer);
    this.lengths = new Uint8Array(lengthsBuffer);
    const foreseen = foreseenBuffers(joinBatchMax * model.slotStride);
    this.foreseen = foreseenOf(foreseen);
    this.helperCounters = new Float64Array(countersBuffer);
    this.rng = new FastRng({ uint32: () => 1 });
    const url = new URL('./build-helper.js', import.meta.url);
    const helperCount = Math.min(threads, buildThreadsMax) - 1;
    if (helperCount <= 0 || !model.shared || !existsSync(fileURLToPath(url))) return;
    for (let h = 1; h <= helperCount; h++) {
      const { port1, port2 } = new MessageChannel();
      const input: HelperInput = {
        helper: h,
        capacity: model.capacity,
        params: model.params,
        arrays: model.sharedArrays(),
        planKey,
        control: controlBuffer,
        plans: plansBuffer,
        planLengths: lengthsBuffer,
        foreseen,
        counters: countersBuffer,
        port: port2,
      };
      const worker = new Worker(url, { workerData: input, transferList: [port2] });
      worker.unref();
      // A helper that cannot even start (its module fails to load) gives no answer: the build's wait for
      // it times out (`helperStallMs`) and says so; its error is kept for that message.
      worker.on('error', (err) => {
        this.helperError ??= err.message;
      });
      this.helpers.push({ worker, port: port1 });
    }
  }

  /** Threads planning each batch. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  /** Joins the batch that starts at the next join position; returns how many peers joined. */
  joinBatch(): number {
    const model = this.model;
    const start = model.joined;
    const count = Math.min(joinBatchAt(start, model.params.joinBatchDivisor), model.count - start);
    if (count <= 1) {
      model.joinNext();
      return 1;
    }
    this.plan({ kind: BatchKind.joins, start, count, round: 0 });
    const stride = model.slotStride;
    model.beginBatch();
    for (let k = 0; k < count; k++)
      model.applyPlanned(this.plans, k * stride, this.lengths[k]!, this.foresee ? this.foreseen : undefined);
    return count;
  }

  /**
   * Recycling round `round` from join position `start` (`ScaleNetwork.recycle`, in batches: each peer's
   * step planned against the network as its batch began, `planRecycle`, then applied in join order).
   * `onProgress` is asked at the same positions as `recycle` asks it; false stops the round there.
   */
  recycleRound(onProgress: ((done: number) => boolean) | undefined, start: number, round: number): void {
    const model = this.model;
    const n = model.joined;
    const bound = n / model.params.joinBatchDivisor;
    const stride = model.slotStride;
    for (let i = start; i < n; ) {
      if (onProgress !== undefined && i % upkeepTickEvery === 0 && !onProgress(i)) return;
      const count = Math.min(batchAt(i, bound), n - i);
      this.plan({ kind: BatchKind.recycle, start: i, count, round });
      model.beginBatch();
      const foreseen = this.foresee ? this.foreseen : undefined;
      for (let k = 0; k < count; k++)
        model.applyRecycle(model.joinOrder[i + k]!, this.plans, k * stride, foreseen);
      i += count;
    }
  }

  /** The first error a helper thread raised outside its own reporting (see the constructor). */
  private helperError: string | undefined;

  /** Batches planned so far. */
  batches = 0;

  /** Plans a batch on every thread (on this one alone when it is small) and gathers the helpers' counters. */
  private plan(batch: Batch): void {
    const model = this.model;
    this.batches++;
    const threads = this.helpers.length > 0 && batch.count >= 4 * this.threads ? this.threads : 1;
    const c = this.control;
    if (threads > 1) {
      this.seq++;
      Atomics.store(c, Ctl.Start, batch.start);
      Atomics.store(c, Ctl.Count, batch.count);
      Atomics.store(c, Ctl.Prepared, model.count);
      Atomics.store(c, Ctl.Joined, model.joined);
      Atomics.store(c, Ctl.Kind, batch.kind);
      Atomics.store(c, Ctl.Round, batch.round);
      Atomics.store(c, Ctl.Next, 0);
      Atomics.store(c, Ctl.Seq, this.seq);
      Atomics.notify(c, Ctl.Seq);
    }
    const claims = threads > 1 ? c : null;
    planShare(model, this.rng, this.planKey, batch, claims, this.plans, this.lengths, this.foreseen);
    if (threads === 1) return;
    for (let h = 1; h < threads; h++) this.awaitHelper(h);
    const counters = model.counters;
    for (let h = 1; h < threads; h++) {
      counterNames.forEach((k, i) => {
        counters[k] += this.helperCounters[h * counterCount + i]!;
      });
    }
  }

  private awaitHelper(h: number): void {
    const c = this.control;
    const at = Ctl.Done + h - 1;
    let waited = 0;
    for (;;) {
      const done = Atomics.load(c, at);
      if (done === this.seq) return;
      if (done === -1) {
        const m = receiveMessageOnPort(this.helpers[h - 1]!.port);
        throw new Error(
          `build helper ${h} failed: ${m === undefined ? 'no reason given' : String(m.message)}`,
        );
      }
      if (waited >= helperStallMs) {
        const why = this.helperError === undefined ? '' : ` (${this.helperError})`;
        throw new Error(`build helper ${h} gave no answer for ${helperStallMs} ms${why}`);
      }
      if (Atomics.wait(c, at, done, 1_000) === 'timed-out') waited += 1_000;
    }
  }

  /** Stops the helpers (they are unref'd; nothing waits for them to exit). */
  close(): void {
    Atomics.store(this.control, Ctl.Seq, -1);
    Atomics.notify(this.control, Ctl.Seq);
    for (const h of this.helpers) {
      h.port.close();
      void h.worker.terminate();
    }
    this.helpers.length = 0;
  }
}
