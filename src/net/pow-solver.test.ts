import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { solvePow1, verifyPow1, verifyPow2 } from '../pow/pow.js';
import { defaultPowWorkerUrl, PowSolver } from './pow-solver.js';

const workerPath = fileURLToPath(defaultPowWorkerUrl());
const built = existsSync(workerPath);
if (!built) {
  console.warn(`pow-solver tests skipped: ${workerPath} is missing; run \`npm run build\` (npm test does).`);
}

const ip = Uint8Array.of(198, 51, 100, 23);
const ts = 1_700_000_123;

describe.skipIf(!built)('PowSolver (worker thread)', () => {
  const solver = new PowSolver();
  afterAll(() => solver.close());

  it('solves PoW1 and PoW2 off the main thread, same nonce as the in-thread solver', async () => {
    const rng = new SeededRng('pow-solver/solve');
    const start = rng.bytes(16);
    const s1 = await solver.solvePow1(ts, ip, 10, start);
    expect(s1).not.toBeNull();
    expect(verifyPow1(ts, ip, s1!.nonce, 10)).toBe(true);
    expect(s1).toEqual(solvePow1(ts, ip, 10, start));

    const challenge = rng.bytes(16);
    const regId = rng.bytes(32);
    const s2 = await solver.solvePow2(challenge, regId, 11, rng.bytes(16));
    expect(s2).not.toBeNull();
    expect(verifyPow2(challenge, regId, s2!.nonce, 11)).toBe(true);
  });

  it('answers null when maxHashes run out, and rejects bad arguments', async () => {
    const start = new Uint8Array(16);
    expect(await solver.solvePow1(ts, ip, 40, start, 100)).toBeNull();
    await expect(solver.solvePow1(ts, new Uint8Array(3), 8, start)).rejects.toThrow(/ipv4/);
  });

  it('keeps the event loop responsive while it solves', async () => {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 2);
    const started = performance.now();
    // ~2^18 hashes: a few hundred ms of hashing in the worker.
    const s = await solver.solvePow1(ts, ip, 18, new SeededRng('pow-solver/busy').bytes(16));
    const elapsedMs = performance.now() - started;
    clearInterval(timer);
    expect(s).not.toBeNull();
    // Had the loop run on this thread, no tick could fire until it finished.
    expect(ticks).toBeGreaterThanOrEqual(Math.min(10, Math.floor(elapsedMs / 20)));
    expect(ticks).toBeGreaterThan(1);
  });

  it('bounds its queue and rejects pending jobs on close', async () => {
    const small = new PowSolver({ queuedJobsMax: 1 });
    const first = small.solvePow1(ts, ip, 60, new Uint8Array(16), 50_000_000);
    const firstOutcome = first.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await expect(small.solvePow1(ts, ip, 8, new Uint8Array(16))).rejects.toThrow(/queue full/);
    expect(small.jobsPending).toBe(1);
    await small.close();
    expect(await firstOutcome).toMatch(/closed/);
    await expect(small.solvePow1(ts, ip, 8, new Uint8Array(16))).rejects.toThrow(/closed/);
  });
});
