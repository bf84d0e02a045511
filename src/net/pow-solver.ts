/**
 * Proof of work on real UDP: the solve loop runs in a worker thread so the node stays responsive
 * (pings answered, timers fired) while it grinds. One worker per solver, started on first use and
 * reused; jobs run one at a time in arrival order. The worker does not keep the process alive
 * while it is idle.
 *
 * The worker is loaded from compiled JavaScript next to this module (`./pow-worker.js`). When this
 * module itself runs from TypeScript sources (under vitest), the compiled worker is taken from
 * `dist/src/net/` instead, which exists once `npm run build` (part of `npm test`) has run.
 */
import { Worker } from 'node:worker_threads';
import { expectedHashes, type PowSolution, powSolveHashesExpectedMultipleMax } from '../pow/pow.js';
import type { PowJob, PowJobResult } from './pow-worker.js';

/** Jobs a solver accepts while one is running; more is a caller bug or a flood. */
export const powJobsQueuedMax = 16;

/** Where the compiled worker is: beside this module, or in dist/ when running from sources. */
export function defaultPowWorkerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/src/net/pow-worker.js', import.meta.url)
    : new URL('./pow-worker.js', import.meta.url);
}

export interface PowSolverOptions {
  readonly workerUrl?: URL;
  readonly queuedJobsMax?: number;
}

interface Pending {
  readonly resolve: (s: PowSolution | null) => void;
  readonly reject: (e: Error) => void;
}

type JobBody = PowJob extends infer J ? (J extends PowJob ? Omit<J, 'id'> : never) : never;

export class PowSolver {
  readonly workerUrl: URL;
  readonly queuedJobsMax: number;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(options: PowSolverOptions = {}) {
    this.workerUrl = options.workerUrl ?? defaultPowWorkerUrl();
    this.queuedJobsMax = options.queuedJobsMax ?? powJobsQueuedMax;
  }

  /** Finds a PoW1 nonce in the worker; null when `maxHashes` were tried without success. */
  solvePow1(
    timestampS: number,
    ipv4: Uint8Array,
    bits: number,
    startNonce: Uint8Array,
    maxHashes: number = powSolveHashesExpectedMultipleMax * expectedHashes(bits),
  ): Promise<PowSolution | null> {
    return this.submit({ kind: 'pow1', timestampS, ipv4, bits, startNonce, maxHashes });
  }

  /** Finds a PoW2 nonce in the worker; null when `maxHashes` were tried without success. */
  solvePow2(
    challenge: Uint8Array,
    regId: Uint8Array,
    bits: number,
    startNonce: Uint8Array,
    maxHashes: number = powSolveHashesExpectedMultipleMax * expectedHashes(bits),
  ): Promise<PowSolution | null> {
    return this.submit({ kind: 'pow2', challenge, regId, bits, startNonce, maxHashes });
  }

  /** Jobs submitted and not yet answered. */
  get jobsPending(): number {
    return this.pending.size;
  }

  /** Stops the worker; unanswered jobs are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new Error('pow solver closed'));
    if (w !== undefined) await w.terminate();
  }

  private submit(body: JobBody): Promise<PowSolution | null> {
    if (this.closed) return Promise.reject(new Error('pow solver closed'));
    if (this.pending.size >= this.queuedJobsMax) {
      return Promise.reject(new Error(`pow solver queue full (${this.queuedJobsMax} jobs)`));
    }
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<PowSolution | null>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...body, id } as PowJob);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(this.workerUrl);
    w.on('message', (result: PowJobResult) => this.onResult(result));
    w.on('error', (err) => {
      this.worker = undefined;
      this.failAll(err instanceof Error ? err : new Error(String(err)));
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new Error(`pow worker exited with code ${code}`));
    });
    this.worker = w;
    return w;
  }

  private onResult(result: PowJobResult): void {
    const p = this.pending.get(result.id);
    if (p === undefined) return;
    this.pending.delete(result.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (result.ok) {
      const s = result.solution;
      // Structured clone turns the nonce into a plain Uint8Array already; keep the type honest.
      p.resolve(s === null ? null : { nonce: new Uint8Array(s.nonce), hashesTried: s.hashesTried });
    } else {
      p.reject(new Error(result.error));
    }
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
