/**
 * `--check-determinism`: build the same scenario twice from the same seed and run both instances in
 * lockstep, one event at a time, comparing each event's (time, kind, peer, detail) and the running hash.
 * The first difference is reported with both sides' event, so a nondeterministic line of code is found
 * at the event where it first mattered, not at the end of a long run. Lockstep needs no event log, so
 * runs of any length can be checked in constant memory.
 */
import type { EventInfo, Kernel } from './kernel.js';

export type DeterminismResult =
  | { readonly ok: true; readonly events: number; readonly hash: string }
  | {
      readonly ok: false;
      readonly index: number;
      readonly first: EventInfo | undefined;
      readonly second: EventInfo | undefined;
    };

export interface DeterminismOptions {
  /** Stop comparing after this virtual time (absolute ms). */
  readonly untilMs?: number;
  /** Stop comparing after this many events. */
  readonly eventsMax?: number;
}

function sameEvent(a: EventInfo | undefined, b: EventInfo | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.timeMs === b.timeMs &&
    a.kind === b.kind &&
    a.peer === b.peer &&
    a.detail === b.detail &&
    a.hash === b.hash
  );
}

/** Builds two kernels with `build()` and runs them in lockstep. */
export function checkDeterminism(build: () => Kernel, opts: DeterminismOptions = {}): DeterminismResult {
  const a = build();
  const b = build();
  const untilMs = opts.untilMs ?? Number.POSITIVE_INFINITY;
  const eventsMax = opts.eventsMax ?? Number.POSITIVE_INFINITY;
  let index = 0;
  while (index < eventsMax) {
    const ta = a.nextEventTime();
    const tb = b.nextEventTime();
    const aMore = ta <= untilMs && ta !== Number.POSITIVE_INFINITY;
    const bMore = tb <= untilMs && tb !== Number.POSITIVE_INFINITY;
    if (!aMore && !bMore) break;
    if (aMore) a.step();
    if (bMore) b.step();
    const ea = aMore ? a.lastEvent() : undefined;
    const eb = bMore ? b.lastEvent() : undefined;
    if (!sameEvent(ea, eb)) return { ok: false, index, first: ea, second: eb };
    index++;
  }
  return { ok: true, events: index, hash: a.eventHash };
}

/** One line naming the first diverging event. */
export function describeDivergence(r: Extract<DeterminismResult, { ok: false }>): string {
  const show = (e: EventInfo | undefined): string =>
    e === undefined
      ? 'no event (run ended)'
      : `t=${e.timeMs} kind=${e.kind} peer=${e.peer} detail=${e.detail} hash=${e.hash}`;
  return `runs diverge at event #${r.index}: first run ${show(r.first)}; second run ${show(r.second)}`;
}
