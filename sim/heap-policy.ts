/**
 * The simulator process's garbage-collection policy.
 *
 * A simulated network allocates datagrams, timers and transaction state that live for simulated
 * seconds — long enough to survive a scavenge and be promoted — and then die in the old generation.
 * V8 lets the old generation grow to up to 4× what the last full collection kept before it collects
 * again, so a simulator process's resident memory settles at 3–6× its live heap (tester 3, 1,000
 * users: 893 MB peak RSS for ~150 MB live). Capping the growth at `heapGrowingPercent` makes full
 * collections come sooner and cheaper (most of the old generation is garbage, and marking runs on the
 * other core): the same run peaks at 548 MB at the same speed (docs/ARCHITECTURE.md, "The simulation kernel and network model").
 *
 * The processes that host many engines call `applySimulatorHeapPolicy` once at their entry, before
 * building a world: `drp-tester` (on either transport: tester 3 on UDP runs its peers in one process
 * too), `drp-sim` and `npm run bench -- sim`. It changes a V8 flag of the whole process, so library
 * code never calls it. Measured on this simulator's load; a workload whose old generation is mostly
 * live would pay in collections for it.
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation may grow this many percent over the last full collection's survivors. */
export const heapGrowingPercent = 25;

let applied = false;

/** Sets the policy (idempotent). A `--heap-growing-percent` given to node on the command line wins. */
export function applySimulatorHeapPolicy(): void {
  if (applied) return;
  applied = true;
  if (process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return;
  setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
}
