/**
 * Shrinking a failing run (`drp-sim shrink <trace> [--pain N]`): search smaller variants of its replay key
 * that still end in the same kind of pain, and keep the smallest found.
 *
 * Greedy, like delta debugging over the scenario's knobs: the scenario proposes smaller configurations
 * (fewer peers, shorter phases, fewer faults and side activities); each is run from scratch, and the
 * first that still raises a pain of the same kind (module and message with numbers masked) becomes the
 * current case, and the search starts over from it. A variant that does not fail with the recorded seed
 * is also tried with a few other seeds (another fault schedule and another draw of keys). The search stops
 * when no variant fails, or at `runsMax` runs or `wallMsMax`. The smallest case is then recorded as a new
 * trace, with its replay command.
 */
import type { PainSnapshot } from '../../src/vision/snapshot.js';
import type { JsonObject } from '../../src/vision/trace.js';
import type { ReplayScenario } from './replay.js';

/** The kind of a pain: what must recur for a smaller case to count (numbers masked). */
export function painKind(p: PainSnapshot): string {
  return `${p.pain.module}: ${p.pain.message.replace(/\d+(\.\d+)?/g, '#')}`;
}

export interface ShrinkOptions {
  /** Runs at most (each a whole scenario run). */
  readonly runsMax?: number;
  readonly wallMsMax?: number;
  /** Further seeds tried for a variant that does not fail with the current one. */
  readonly seedsPerVariant?: number;
  readonly onStep?: (text: string) => void;
}

export interface ShrinkStep {
  readonly label: string;
  readonly seed: string;
  readonly size: number;
  readonly reproduced: boolean;
  readonly wallMs: number;
}

export interface ShrinkResult {
  readonly kind: string;
  readonly seed: string;
  readonly config: JsonObject;
  readonly size: number;
  readonly originalSize: number;
  readonly steps: readonly ShrinkStep[];
  readonly runs: number;
}

/**
 * Runs `config` from scratch up to its first pain snapshot of `kind` (any kind when omitted) and returns
 * it, or undefined when the run ends without one. The run stops there: a large case that fails early
 * costs only the time to its failure.
 */
export function firstPain(
  scenario: ReplayScenario,
  seed: string,
  config: JsonObject,
  kind?: string,
): PainSnapshot | undefined {
  const b = scenario.build(seed, config);
  const capture = b.capture;
  if (capture === undefined) return undefined;
  const k = b.kernel;
  let seen = 0;
  while (k.nextEventTime() <= b.endMs) {
    k.step();
    const n = capture.snapshots.length;
    if (n === seen) continue;
    for (let i = seen; i < n; i++) {
      const s = capture.snapshots[i]!;
      if (kind === undefined || painKind(s) === kind) return s;
    }
    seen = n;
  }
  return undefined;
}

/** Runs `config` from scratch and says whether it raises a pain of `kind` (stopping at the first). */
export function failsWith(scenario: ReplayScenario, seed: string, config: JsonObject, kind: string): boolean {
  return firstPain(scenario, seed, config, kind) !== undefined;
}

export function shrink(
  scenario: ReplayScenario,
  seed: string,
  config: JsonObject,
  pain: PainSnapshot,
  opts: ShrinkOptions = {},
): ShrinkResult {
  if (scenario.shrinkVariants === undefined || scenario.size === undefined) {
    throw new RangeError(`scenario '${scenario.name}' cannot be shrunk (it proposes no smaller variants)`);
  }
  const runsMax = opts.runsMax ?? 40;
  const wallMsMax = opts.wallMsMax ?? 10 * 60_000;
  const seedsPerVariant = opts.seedsPerVariant ?? 2;
  const kind = painKind(pain);
  const started = Date.now();
  const steps: ShrinkStep[] = [];
  let current = scenario.normalize(config);
  let currentSeed = seed;
  const originalSize = scenario.size(current);
  let runs = 0;
  const budgetLeft = (): boolean => runs < runsMax && Date.now() - started < wallMsMax;
  let progress = true;
  while (progress && budgetLeft()) {
    progress = false;
    for (const v of scenario.shrinkVariants(current)) {
      if (!budgetLeft()) break;
      const seeds = [
        currentSeed,
        ...Array.from({ length: seedsPerVariant }, (_, i) => `${seed}.shrink${i + 1}`),
      ];
      for (const s of seeds) {
        if (!budgetLeft()) break;
        const t0 = Date.now();
        runs++;
        const reproduced = failsWith(scenario, s, v.config, kind);
        const step = {
          label: v.label,
          seed: s,
          size: scenario.size(v.config),
          reproduced,
          wallMs: Date.now() - t0,
        };
        steps.push(step);
        opts.onStep?.(
          `shrink: ${v.label} (size ${step.size}, seed ${s}): ${reproduced ? 'still fails' : 'passes'} (${(step.wallMs / 1000).toFixed(1)} s)`,
        );
        if (reproduced) {
          current = v.config;
          currentSeed = s;
          progress = true;
          break;
        }
      }
      if (progress) break;
    }
  }
  return {
    kind,
    seed: currentSeed,
    config: current,
    size: scenario.size(current),
    originalSize,
    steps,
    runs,
  };
}
