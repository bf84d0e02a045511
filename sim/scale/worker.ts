/**
 * A scale run in a worker thread. The run is one long synchronous loop; in the main thread it would
 * keep Node from ever delivering SIGINT. Here the main thread stays free: it prints progress and, on
 * Ctrl-C, sets a shared flag that the run checks at every progress tick.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runScale, type ScaleOptions } from './run.js';

export interface WorkerInput {
  readonly opts: ScaleOptions;
  /** Int32Array(1) over a SharedArrayBuffer: 1 = stop. */
  readonly stop: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'result'; result: ReturnType<typeof runScale> };

const input = workerData as WorkerInput;
const stop = new Int32Array(input.stop);
const result = runScale(input.opts, {
  progress: (phase, done, total) => {
    parentPort?.postMessage({ type: 'progress', phase, done, total } satisfies WorkerMessage);
    return Atomics.load(stop, 0) === 0;
  },
});
parentPort?.postMessage({ type: 'result', result } satisfies WorkerMessage);
