/**
 * What every tester reports: delivery, delay and hop statistics, neighbour counts, pains by level,
 * the seed and the exact command that replays the run. Printed as a table; written as JSON under
 * `reports/`; with `--json` the same object is the last line of output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileTraceSink, traceCreatedBy } from '../sim/trace/file-sink.js';
import { projectCommit, projectSourceHash } from '../sim/vision/build-info.js';
import type { SnapshotCapture } from '../sim/vision/capture.js';
import { AttentionLevel, levelName } from '../src/vision/attention.js';
import type { VisionChannel } from '../src/vision/channel.js';
import type { VisionRecord } from '../src/vision/record.js';
import {
  type RunLog,
  runLogItemFields,
  snapshotItemFields,
  traceItemKindRunLog,
  traceItemKindSnapshot,
} from '../src/vision/snapshot.js';
import { type JsonObject, traceHeader } from '../src/vision/trace.js';
import type { InviteOutcome } from './invites.js';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export interface TesterReport {
  readonly tester: number;
  readonly transport: 'sim' | 'udp';
  readonly seed: string;
  readonly replay: string;
  readonly peers: number;
  readonly invitesSent: number;
  readonly invitesDelivered: number;
  readonly deliveredRatio: number;
  readonly delayMsP50: number;
  readonly delayMsP99: number;
  readonly hopsP50: number;
  readonly hopsP99: number;
  readonly hopsMax: number;
  readonly neighborsMin: number;
  readonly neighborsMean: number;
  readonly neighborsMax: number;
  readonly painsByLevel: Record<string, number>;
  readonly wallSeconds: number;
  readonly simulatedSeconds?: number;
  readonly eventHash?: string;
  readonly failures: readonly string[];
  readonly [extra: string]: unknown;
}

/** Counts pains (level ≥ lightPain) by level and message, for reports; bounded to `kindsMax` kinds. */
export class PainTally {
  readonly counts = new Map<string, number>();
  constructor(
    vision: VisionChannel,
    private readonly kindsMax = 64,
  ) {
    vision.onRecord((r) => {
      if (r.level < AttentionLevel.lightPain) return;
      const k = `${levelName(r.level)}: ${r.message}`;
      if (this.counts.has(k) || this.counts.size < this.kindsMax)
        this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    });
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }
}

/** Pains counted by the vision channel, by level name. */
export function painsByLevel(vision: VisionChannel): Record<string, number> {
  const out: Record<string, number> = {};
  for (let l = AttentionLevel.guiPain; l <= AttentionLevel.death; l++) {
    out[levelName(l as AttentionLevel)] = vision.painCount(undefined, l as AttentionLevel);
  }
  return out;
}

export function summaryTable(r: TesterReport): string {
  const rows: [string, string][] = [
    ['transport / seed', `${r.transport} / ${r.seed}`],
    ['peers', String(r.peers)],
    [
      'INVITEs delivered',
      `${r.invitesDelivered} / ${r.invitesSent} (${(100 * r.deliveredRatio).toFixed(2)}%)`,
    ],
    ['delay p50 / p99', `${r.delayMsP50} / ${r.delayMsP99} ms`],
    ['hops p50 / p99 / max', `${r.hopsP50} / ${r.hopsP99} / ${r.hopsMax}`],
    ['neighbours min / mean / max', `${r.neighborsMin} / ${r.neighborsMean.toFixed(1)} / ${r.neighborsMax}`],
    [
      'pains by level',
      Object.entries(r.painsByLevel)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
  ];
  if (r.simulatedSeconds !== undefined)
    rows.push(['simulated / wall', `${r.simulatedSeconds} s / ${r.wallSeconds.toFixed(1)} s`]);
  else rows.push(['wall', `${r.wallSeconds.toFixed(1)} s`]);
  if (r.eventHash !== undefined) rows.push(['event hash', r.eventHash]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

/** Writes the report as JSON under `dir` (created); returns the path. */
export function writeReport(r: TesterReport, dir = 'reports'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `tester${r.tester}-${r.transport}-${r.seed}.json`);
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

/**
 * The route of a failed INVITE as text: one line per hop decision recorded with one of its
 * transaction ids (the records every hop emits at detail level), times in seconds since `startMs`.
 */
export function renderRoute(records: readonly VisionRecord[], txIds: readonly string[], startMs = 0): string {
  const lines: string[] = [];
  for (const tx of txIds) {
    const hops = records.filter((r) => r.attributes?.tx === tx).sort((a, b) => a.timeMs - b.timeMs);
    lines.push(`  attempt ${tx}:`);
    if (hops.length === 0) lines.push('    (no hop records: raise the vision threshold to detail)');
    for (const h of hops) {
      const a = h.attributes ?? {};
      lines.push(
        `    t=${((h.timeMs - startMs) / 1000).toFixed(3)} s ${h.peer.padEnd(8)} dist=${String(a.distance ?? '?').padEnd(8)} → ${String(
          a.chosen === '' ? '(none)' : (a.chosen ?? '?'),
        ).slice(
          0,
          8,
        )} dist=${String(a.chosenDistance ?? '?').padEnd(8)} hops left=${String(a.hopsRemaining ?? '?')} ${h.message}`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * The run's trace: every record at `needsAttention` or above (pains included) as it happens, plus, at the
 * end, the hop records of each failed INVITE (its route). Versioned msgpack (src/vision/trace.ts) with the
 * seed and configuration that replay the run. Bounded: at most `traceRecordsMax` live records are kept.
 */
export class RunTrace {
  private readonly records: VisionRecord[] = [];
  private dropped = 0;
  constructor(
    vision: VisionChannel,
    private readonly traceRecordsMax = 100_000,
  ) {
    vision.onRecord((r) => {
      if (r.level < AttentionLevel.needsAttention) return;
      if (this.records.length < this.traceRecordsMax) this.records.push(r);
      else this.dropped++;
    });
  }

  /**
   * Writes the trace to `path` with the route records of `failedTxIds` appended, then the pain snapshots
   * and the run log of `extras.capture` (sim/vision/capture.ts) when given; returns the path. `config`
   * with the seed is the replay key: what `drp-sim replay` rebuilds the run from.
   */
  write(
    path: string,
    seed: string,
    config: JsonObject,
    routeRecords: readonly VisionRecord[],
    failedTxIds: readonly string[],
    extras: { capture?: SnapshotCapture | undefined; series?: Pick<RunLog, 'delivery' | 'hops'> } = {},
  ): string {
    mkdirSync(dirname(path), { recursive: true });
    const sink = new FileTraceSink(path);
    sink.writeHeader(
      traceHeader(
        seed,
        { ...config, recordsDropped: this.dropped },
        traceCreatedBy(projectCommit(), projectSourceHash()),
      ),
    );
    for (const r of this.records) sink.writeRecord(r);
    const wanted = new Set(failedTxIds);
    for (const r of routeRecords) if (wanted.has(String(r.attributes?.tx))) sink.writeRecord(r);
    const capture = extras.capture;
    if (capture !== undefined) {
      for (const s of capture.snapshots) sink.writeItem(traceItemKindSnapshot, snapshotItemFields(s));
      sink.writeItem(traceItemKindRunLog, runLogItemFields(capture.runLog(extras.series)));
    }
    sink.close();
    return path;
  }
}

/**
 * INVITE series for the visualizer's panels: per `bucketMs` of send time [bucket start, sent, delivered],
 * and the histogram of hops of the delivered ones.
 */
export function inviteSeries(
  outcomes: readonly InviteOutcome[],
  bucketMs = 10_000,
): Pick<RunLog, 'delivery' | 'hops'> {
  const buckets = new Map<number, [number, number, number]>();
  const hops: number[] = [];
  for (const o of outcomes) {
    const t = Math.floor(o.sentAtMs / bucketMs) * bucketMs;
    let b = buckets.get(t);
    if (b === undefined) {
      b = [t, 0, 0];
      buckets.set(t, b);
    }
    b[1]++;
    if (o.completedAtMs !== undefined && o.receivedAtMs !== undefined) {
      b[2]++;
      const h = Math.min(255, Math.max(0, o.hops ?? 0));
      while (hops.length <= h) hops.push(0);
      hops[h]!++;
    }
  }
  return { delivery: [...buckets.values()].sort((a, b) => a[0] - b[0]), hops };
}

/** The delivery part of a report, from an INVITE campaign's statistics. */
export function deliveryFigures(s: { sent: number; delivered: number; delays: number[]; hops: number[] }): {
  invitesSent: number;
  invitesDelivered: number;
  deliveredRatio: number;
  delayMsP50: number;
  delayMsP99: number;
  hopsP50: number;
  hopsP99: number;
  hopsMax: number;
} {
  return {
    invitesSent: s.sent,
    invitesDelivered: s.delivered,
    deliveredRatio: s.sent === 0 ? 0 : s.delivered / s.sent,
    delayMsP50: percentile(s.delays, 50),
    delayMsP99: percentile(s.delays, 99),
    hopsP50: percentile(s.hops, 50),
    hopsP99: percentile(s.hops, 99),
    hopsMax: s.hops.at(-1) ?? 0,
  };
}

/** Neighbour counts (sorted ascending) as the report's min / mean / max. */
export function neighbourFigures(sorted: readonly number[]): {
  neighborsMin: number;
  neighborsMean: number;
  neighborsMax: number;
} {
  return {
    neighborsMin: sorted[0] ?? 0,
    neighborsMean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    neighborsMax: sorted.at(-1) ?? 0,
  };
}
