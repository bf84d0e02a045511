/**
 * Proof of work: the verifier (one-shot hash over a reused scratch buffer) against a baseline that
 * concatenates the input and uses a streaming hash object per check, and the solver's hash rate —
 * the `hashesPerSec` the simulator's `modelledSolveMs` needs for this machine.
 */
import { createHash } from 'node:crypto';
import { SeededRng } from '../sim/kernel/rng.js';
import { expectedHashes, hasLeadingZeroBits, solvePow1, verifyPow1 } from '../src/pow/pow.js';
import { type BenchFigures, type BenchOptions, opsPerSec, round3 } from './lib.js';

export async function run(_opts: BenchOptions): Promise<BenchFigures> {
  const rng = new SeededRng('bench/pow');
  const ip = Uint8Array.of(192, 0, 2, 1);
  const nonces = Array.from({ length: 256 }, () => rng.bytes(16));
  const ts = 1_700_000_000;
  let sink = 0;

  const verifyOps = opsPerSec(
    () => {
      for (const n of nonces) sink += verifyPow1(ts, ip, n, 15) ? 1 : 0;
    },
    { opsPerCall: nonces.length },
  );
  const baselineOps = opsPerSec(
    () => {
      for (const n of nonces) {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(ts);
        const d = createHash('sha256')
          .update(Buffer.concat([head, ip, n]))
          .digest();
        sink += hasLeadingZeroBits(d, 15) ? 1 : 0;
      }
    },
    { opsPerCall: nonces.length },
  );

  const bits = 16;
  let hashes = 0;
  const started = performance.now();
  for (let i = 0; i < 8; i++) hashes += solvePow1(ts + i, ip, bits, rng)!.hashesTried;
  const solveMs = performance.now() - started;
  if (Number.isNaN(sink)) throw new Error('unreachable');
  const hashesPerSec = (hashes * 1000) / solveMs;
  return {
    verifyPow1OpsPerSec: round3(verifyOps),
    baselineStreamingVerifyOpsPerSec: round3(baselineOps),
    verifySpeedup: round3(verifyOps / baselineOps),
    solverHashesPerSec: round3(hashesPerSec),
    solveMsAtDefault15Bits: round3((expectedHashes(15) * 1000) / hashesPerSec),
  };
}
