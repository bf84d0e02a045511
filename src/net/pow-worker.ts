/**
 * The proof-of-work worker thread: receives one job at a time from `pow-solver.ts`, runs the core
 * solver loop (`src/pow`) and posts the result back, so the node's event loop keeps serving
 * datagrams and timers while a newcomer grinds 2^bits hashes.
 */
import { parentPort } from 'node:worker_threads';
import { type PowSolution, solvePow1, solvePow2 } from '../pow/pow.js';

/** A solve request, as posted to the worker. */
export type PowJob =
  | {
      readonly id: number;
      readonly kind: 'pow1';
      readonly timestampS: number;
      readonly ipv4: Uint8Array;
      readonly bits: number;
      readonly startNonce: Uint8Array;
      readonly maxHashes: number;
    }
  | {
      readonly id: number;
      readonly kind: 'pow2';
      readonly challenge: Uint8Array;
      readonly regId: Uint8Array;
      readonly bits: number;
      readonly startNonce: Uint8Array;
      readonly maxHashes: number;
    };

/** The worker's answer to job `id`. */
export type PowJobResult =
  | { readonly id: number; readonly ok: true; readonly solution: PowSolution | null }
  | { readonly id: number; readonly ok: false; readonly error: string };

function run(job: PowJob): PowJobResult {
  try {
    const solution =
      job.kind === 'pow1'
        ? solvePow1(job.timestampS, job.ipv4, job.bits, job.startNonce, job.maxHashes)
        : solvePow2(job.challenge, job.regId, job.bits, job.startNonce, job.maxHashes);
    return { id: job.id, ok: true, solution };
  } catch (err) {
    return { id: job.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

const port = parentPort;
if (port !== null) {
  port.on('message', (job: PowJob) => {
    port.postMessage(run(job));
  });
}
