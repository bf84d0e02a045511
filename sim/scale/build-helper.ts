/**
 * A build helper thread (`parallel-build.ts`): waits for a batch, plans its share of the batch's joins
 * against the shared network, reports its counters and the batch number, and waits again. It writes
 * only the rows of the peers it plans and its share of the plan arrays.
 */
import { workerData } from 'node:worker_threads';
import { FastRng } from './fast-rng.js';
import { ScaleNetwork } from './model.js';
import {
  type BatchKind,
  Ctl,
  counterCount,
  foreseenOf,
  type HelperInput,
  planShare,
  resetCounters,
  writeCounters,
} from './parallel-build.js';

const input = workerData as HelperInput;
const control = new Int32Array(input.control);
const doneAt = Ctl.Done + input.helper - 1;
let seen = 0;
try {
  // Set-up inside the try too: a failure here is reported like one while planning.
  const plans = new Uint32Array(input.plans);
  const lengths = new Uint8Array(input.planLengths);
  const counters = new Float64Array(input.counters);
  const foreseen = foreseenOf(input.foreseen);
  const rng = new FastRng({ uint32: () => 1 });
  const model = new ScaleNetwork(input.capacity, input.params, rng, input.arrays);
  for (;;) {
    Atomics.wait(control, Ctl.Seq, seen);
    const seq = Atomics.load(control, Ctl.Seq);
    if (seq === -1) break;
    if (seq === seen) continue;
    seen = seq;
    const batch = {
      kind: Atomics.load(control, Ctl.Kind) as BatchKind,
      start: Atomics.load(control, Ctl.Start),
      count: Atomics.load(control, Ctl.Count),
      round: Atomics.load(control, Ctl.Round),
    };
    model.follow(Atomics.load(control, Ctl.Prepared), Atomics.load(control, Ctl.Joined));
    resetCounters(model.counters);
    planShare(model, rng, input.planKey, batch, control, plans, lengths, foreseen);
    writeCounters(model.counters, counters, input.helper * counterCount);
    Atomics.store(control, doneAt, seq);
    Atomics.notify(control, doneAt);
  }
} catch (err) {
  input.port.postMessage(err instanceof Error ? (err.stack ?? err.message) : String(err));
  Atomics.store(control, doneAt, -1);
  Atomics.notify(control, doneAt);
}
input.port.close();
