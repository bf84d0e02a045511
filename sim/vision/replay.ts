/**
 * Replaying a trace: rebuild the run from its replay key (scenario + configuration + seed), step it one
 * event at a time up to the pain, and check it passes through the same states as the recording.
 *
 * The recording's run log holds a 16-bit fingerprint of the running event hash after every event (when
 * the recorder stepped the run itself) and full-hash checkpoints at every trace record and pain. The
 * replay compares its own fingerprint after each event with the recorded one, so the first event whose
 * hash differs is named exactly (the running hash chains every earlier event, so a difference persists;
 * a 16-bit fingerprint misses a difference only with probability 2^-16 per event, and the next event
 * catches it). Without fingerprints (a tester run stepped by `kernel.run`) the checkpoints bound the first
 * divergence to the interval between the last matching checkpoint and the first differing one.
 *
 * Scenarios are registered by whoever can build them (`ReplayScenarios`): sim/ knows none of the testers,
 * so the drp-sim entry point (testers/drp-sim.ts) passes the tester scenarios in.
 */

import {
  type EventCheckpoint,
  fingerprintAt,
  fingerprintOfHash,
  type PainSnapshot,
  type RunLog,
} from '../../src/vision/snapshot.js';
import type { JsonObject, TraceHeader } from '../../src/vision/trace.js';
import type { EventInfo, Kernel } from '../kernel/kernel.js';
import { buildDifferences, type KeyDifference } from './build-info.js';
import type { SnapshotCapture } from './capture.js';

/** A scenario's configuration that this build does not accept; the message names the key. */
export class ReplayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayConfigError';
  }
}

/** A run built and not yet started: replay steps its kernel. */
export interface ReplayBuild {
  readonly kernel: Kernel;
  readonly capture: SnapshotCapture | undefined;
  /** Virtual time at which the scenario's run ends. */
  readonly endMs: number;
}

export interface ReplayScenario {
  readonly name: string;
  /** The configuration as this build would write it (defaults filled); throws ReplayConfigError. */
  normalize(config: JsonObject): JsonObject;
  /** Builds the run (throws ReplayConfigError for a configuration it cannot build). */
  build(seed: string, config: JsonObject): ReplayBuild;
  /** The command that reruns the scenario from scratch (printed with the result). */
  command(seed: string, config: JsonObject): string;
  /** Runs the scenario to its end and writes its trace (snapshots, run log) to `path`. */
  record?(seed: string, config: JsonObject, path: string): void;
  /** Smaller configurations to try when shrinking (./shrink.ts), most promising first. */
  shrinkVariants?(config: JsonObject): { readonly label: string; readonly config: JsonObject }[];
  /** A configuration's size (peers, roughly): what shrinking makes smaller. */
  size?(config: JsonObject): number;
}

export type ReplayScenarios = ReadonlyMap<string, ReplayScenario>;

/** The scenario a trace names, or a sentence saying why there is none. */
export function scenarioOf(
  header: TraceHeader,
  scenarios: ReplayScenarios,
): { ok: true; scenario: ReplayScenario } | { ok: false; message: string } {
  const name = header.config.scenario;
  if (typeof name !== 'string') {
    return {
      ok: false,
      message: 'the trace names no scenario in its configuration (written before replay keys)',
    };
  }
  const s = scenarios.get(name);
  const rerun = header.config.rerun;
  if (s === undefined && typeof rerun === 'string') {
    return {
      ok: false,
      message:
        `scenario '${name}' has no event clock to replay step by step; the same seed rebuilds the same ` +
        `network and routes: ${rerun}`,
    };
  }
  if (s === undefined) {
    const known = [...scenarios.keys()].join(', ') || 'none';
    return { ok: false, message: `scenario '${name}' is not known to this build (known: ${known})` };
  }
  return { ok: true, scenario: s };
}

/** Differences between the trace's replay key and this build: commit, Node version, configuration. */
export function keyDifferences(header: TraceHeader, scenario: ReplayScenario): KeyDifference[] {
  const out = buildDifferences(header);
  const recorded = stableJson(header.config);
  let normalized: string;
  try {
    normalized = stableJson(scenario.normalize(header.config));
  } catch (e) {
    out.push({
      part: 'configuration',
      recorded: recorded.slice(0, 200),
      current: e instanceof Error ? e.message : String(e),
      note: 'this build cannot run this configuration',
    });
    return out;
  }
  if (normalized !== recorded) {
    out.push({
      part: 'configuration',
      recorded: recorded.slice(0, 400),
      current: normalized.slice(0, 400),
      note: 'this build fills in or changes configuration keys the recording did not have',
    });
  }
  return out;
}

/** JSON with object keys sorted, so two configurations compare by content. */
export function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x);
}

export interface Divergence {
  /** The first event (1-based count) whose hash differs, or the first event of the interval that holds it. */
  readonly eventIndex: number;
  /** Exact (fingerprints) or bounded by checkpoints (`lastMatchIndex` < first ≤ `detectedAt`). */
  readonly exact: boolean;
  /** The event at which the difference was seen. */
  readonly detectedAt: number;
  readonly lastMatchIndex: number;
  readonly lastMatchTimeMs: number;
  /** The replay's event at `eventIndex` (undefined when the replay ran out of events first). */
  readonly replayEvent: EventInfo | undefined;
  readonly recorded: string;
  readonly replayed: string;
}

export interface ReplayResult {
  readonly pain: PainSnapshot;
  readonly eventsReplayed: number;
  readonly recordedHash: string;
  readonly replayHash: string;
  /** The replay reached the pain's event with the same hash. */
  readonly hashMatches: boolean;
  readonly divergence: Divergence | undefined;
  /** The replay's own capture raised a pain with the same message at the same event. */
  readonly painReproduced: boolean;
  readonly replaySnapshot: PainSnapshot | undefined;
  readonly wallMs: number;
  readonly build: ReplayBuild;
}

export interface ReplayOptions {
  /** Called every ~2^16 events with the events done so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Reruns `build` up to `pain`'s event, comparing it with the run log (fingerprints and checkpoints) and
 * finally the pain's own hash.
 */
export function replayToPain(
  build: ReplayBuild,
  pain: PainSnapshot,
  log: RunLog | undefined,
  opts: ReplayOptions = {},
): ReplayResult {
  const started = Date.now();
  const k = build.kernel;
  const target = pain.eventIndex;
  const checkpoints: EventCheckpoint[] = [...(log?.checkpoints ?? [])].sort((a, b) => a.index - b.index);
  let ci = 0;
  while (ci < checkpoints.length && checkpoints[ci]!.index < 1) ci++;
  let lastMatchIndex = 0;
  let lastMatchTimeMs = k.now();
  let divergence: Divergence | undefined;
  const fingerprinted = log !== undefined && log.fingerprints.length > 0;
  while (k.eventsDispatched < target) {
    if (k.nextEventTime() === Number.POSITIVE_INFINITY) {
      divergence = {
        eventIndex: k.eventsDispatched + 1,
        exact: fingerprinted,
        detectedAt: k.eventsDispatched + 1,
        lastMatchIndex,
        lastMatchTimeMs,
        replayEvent: undefined,
        recorded: `event #${k.eventsDispatched + 1}`,
        replayed: 'no more events (the run ended early)',
      };
      break;
    }
    k.step();
    const i = k.eventsDispatched;
    if ((i & 0xffff) === 0) opts.onProgress?.(i, target);
    const rec = fingerprinted ? fingerprintAt(log, i) : undefined;
    const cp = checkpoints[ci]?.index === i ? checkpoints[ci] : undefined;
    if (rec === undefined && cp === undefined) continue;
    const hash = k.eventHash;
    if (cp !== undefined) ci++;
    if (rec !== undefined && fingerprintOfHash(hash) !== rec) {
      divergence = {
        eventIndex: i,
        exact: true,
        detectedAt: i,
        lastMatchIndex,
        lastMatchTimeMs,
        replayEvent: k.lastEvent(),
        recorded: `fingerprint ${rec.toString(16).padStart(4, '0')}`,
        replayed: `fingerprint ${fingerprintOfHash(hash).toString(16).padStart(4, '0')} (hash ${hash})`,
      };
      break;
    }
    if (cp !== undefined && cp.hash !== hash) {
      divergence = {
        eventIndex: fingerprinted ? i : lastMatchIndex + 1,
        exact: fingerprinted,
        detectedAt: i,
        lastMatchIndex,
        lastMatchTimeMs,
        replayEvent: k.lastEvent(),
        recorded: `hash ${cp.hash} at event #${i} t=${cp.timeMs}`,
        replayed: `hash ${hash} at event #${i} t=${k.now()}`,
      };
      break;
    }
    lastMatchIndex = i;
    lastMatchTimeMs = k.now();
  }
  const replayHash = k.eventHash;
  const hashMatches =
    divergence === undefined && k.eventsDispatched === target && replayHash === pain.eventHash;
  if (divergence === undefined && !hashMatches) {
    divergence = {
      eventIndex: lastMatchIndex + 1,
      exact: false,
      detectedAt: target,
      lastMatchIndex,
      lastMatchTimeMs,
      replayEvent: k.lastEvent(),
      recorded: `hash ${pain.eventHash} at event #${target}`,
      replayed: `hash ${replayHash} at event #${k.eventsDispatched}`,
    };
  }
  const replaySnapshot = build.capture?.snapshots.find((s) => s.eventIndex === target);
  const painReproduced =
    replaySnapshot !== undefined &&
    replaySnapshot.pain.message === pain.pain.message &&
    replaySnapshot.pain.peer === pain.pain.peer;
  return {
    pain,
    eventsReplayed: k.eventsDispatched,
    recordedHash: pain.eventHash,
    replayHash,
    hashMatches,
    divergence,
    painReproduced,
    replaySnapshot,
    wallMs: Date.now() - started,
    build,
  };
}

/** One line naming the first divergence. */
export function describeReplayDivergence(d: Divergence): string {
  const ev = d.replayEvent;
  const what =
    ev === undefined ? 'no event' : `t=${ev.timeMs} kind=${ev.kind} peer=${ev.peer} detail=${ev.detail}`;
  return d.exact
    ? `first divergence at event #${d.eventIndex} (${what}): recorded ${d.recorded}, replay ${d.replayed}; ` +
        `event #${d.lastMatchIndex} was the last that matched`
    : `diverged after event #${d.lastMatchIndex} (t=${d.lastMatchTimeMs}), by event #${d.detectedAt}: ` +
        `recorded ${d.recorded}, replay ${d.replayed} (replay's event there: ${what}); ` +
        'this trace has no per-event fingerprints, so the first differing event lies in that interval';
}
