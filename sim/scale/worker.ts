/**
 * A scale run in a worker thread. The run is one long synchronous loop; in the main thread it would
 * keep Node from ever delivering SIGINT. Here the main thread stays free: it prints progress and, on
 * Ctrl-C, sets a shared flag that the run checks at every progress tick.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PainSnapshot } from '../../src/vision/snapshot.js';
import { type CheckpointOptions, runScale, type ScaleOptions } from './run.js';

export interface WorkerInput {
  readonly opts: ScaleOptions;
  /** Pain snapshots wanted (sent back as messages); 0 for none. */
  readonly snapshotsMax: number;
  /** Int32Array(1) over a SharedArrayBuffer: 1 = stop. */
  readonly stop: SharedArrayBuffer;
  readonly checkpoint?: CheckpointOptions;
}

export type WorkerMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'snapshot'; snapshot: PainSnapshot }
  | { type: 'note'; text: string }
  | { type: 'result'; result: ReturnType<typeof runScale> };

const input = workerData as WorkerInput;
const stop = new Int32Array(input.stop);
const result = runScale(input.opts, {
  progress: (phase, done, total) => {
    parentPort?.postMessage({ type: 'progress', phase, done, total } satisfies WorkerMessage);
    return Atomics.load(stop, 0) === 0;
  },
  note: (text) => parentPort?.postMessage({ type: 'note', text } satisfies WorkerMessage),
  ...(input.checkpoint !== undefined ? { checkpoint: input.checkpoint } : {}),
  ...(input.snapshotsMax > 0
    ? {
        snapshots: {
          max: input.snapshotsMax,
          onSnapshot: (snapshot: PainSnapshot) =>
            parentPort?.postMessage({ type: 'snapshot', snapshot } satisfies WorkerMessage),
        },
      }
    : {}),
});
parentPort?.postMessage({ type: 'result', result } satisfies WorkerMessage);
