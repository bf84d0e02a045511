/**
 * Text vision: a trace's pains for terminals and logs (`drp-sim vision --text <trace> [--pain N]`): the
 * list of pains, the chosen pain's route as a table (one row per hop decision: who decided, its distance
 * to the target, what it chose and how close that was, the closest candidates it had), the faults active
 * then, and the ring records of the peers on the route.
 */
import { levelName } from '../../src/vision/attention.js';
import type { VisionRecord } from '../../src/vision/record.js';
import type { PainSnapshot, SnapshotPeer, VisionTraceResult } from '../../src/vision/snapshot.js';

type OkTrace = Extract<VisionTraceResult, { ok: true }>;

/** Rows of the route table printed at most (the snapshot keeps up to 256 hop decisions). */
export const textRouteRowsMax = 80;
/** Records printed at most. */
export const textRecordsMax = 60;

/** An aligned table, numbers right-aligned and text left-aligned. */
function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-\d.?]*$/.test(r[i] ?? '')));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
    .map((l) => `  ${l}`)
    .join('\n');
}

function seconds(ms: number, epochMs: number): string {
  return ((ms - epochMs) / 1000).toFixed(3);
}

function status(p: SnapshotPeer | undefined): string {
  if (p === undefined) return '(not in snapshot)';
  const parts = [p.online ? 'online' : `offline:${p.offline}`, p.entry ? 'entry' : p.nat];
  if (p.isp !== 'default') parts.push(p.isp);
  return parts.join(' ');
}

function recordLine(r: VisionRecord, epochMs: number): string {
  const attrs = r.attributes === undefined ? '' : ` ${JSON.stringify(r.attributes)}`;
  const text = `  t=${seconds(r.timeMs, epochMs)} ${r.peer.padEnd(6)} ${r.module.padEnd(9)} ${levelName(r.level).padEnd(14)} ${r.message}${attrs}`;
  return text.length > 240 ? `${text.slice(0, 239)}…` : text;
}

/** The epoch of a run's virtual clock, guessed from its first record (simulated runs start at 2020-01-01). */
export function runEpochMs(trace: OkTrace): number {
  const first = Math.min(
    trace.records[0]?.timeMs ?? Number.POSITIVE_INFINITY,
    ...trace.snapshots.map((s) => s.pain.timeMs),
  );
  return Number.isFinite(first) && first >= 1_577_836_800_000 ? 1_577_836_800_000 : 0;
}

export function painLine(s: PainSnapshot, epochMs: number): string {
  const hops = s.route === null ? 'no route' : `route of ${s.route.hops.length} hop decisions`;
  return `#${s.number} t=${seconds(s.pain.timeMs, epochMs)} s ${levelName(s.pain.level)} ${s.pain.peer}: ${s.pain.message} (${s.peers.length} of ${s.peersTotal} peers, ${hops})`;
}

/** The whole text view of one trace (`painNumber`: 1-based; default the first pain). */
export function renderTextVision(trace: OkTrace, painNumber = 1): string {
  const epochMs = runEpochMs(trace);
  const h = trace.header;
  const out: string[] = [];
  const by = [h.createdBy.projectCommit ?? 'unknown commit', h.createdBy.nodeVersion ?? 'unknown node'].join(
    ', ',
  );
  out.push(
    `trace: scenario ${String(h.config.scenario ?? '(none)')}, seed ${h.seed}, ${trace.records.length} records, ` +
      `${trace.snapshots.length} pain snapshots${trace.truncated ? ' (TRUNCATED: the run did not close it)' : ''}; written by ${by}`,
  );
  if (trace.snapshots.length === 0) {
    out.push(
      'no pain snapshots in this trace (pains below the snapshot level, or a trace written before snapshots)',
    );
    const pains = trace.records.filter((r) => r.level >= 5).slice(0, textRecordsMax);
    if (pains.length > 0) {
      out.push('', 'pains recorded:');
      for (const r of pains) out.push(recordLine(r, epochMs));
    }
    return out.join('\n');
  }
  out.push('', 'pains:');
  for (const s of trace.snapshots) out.push(`  ${painLine(s, epochMs)}`);
  const s = trace.snapshots.find((x) => x.number === painNumber);
  if (s === undefined) {
    out.push('', `no pain #${painNumber} (the trace has #1..#${trace.snapshots.length})`);
    return out.join('\n');
  }
  out.push('', `pain ${painLine(s, epochMs)}`);
  out.push(`  at event #${s.eventIndex}, event hash ${s.eventHash}`);
  if (s.selection !== 'all') {
    out.push(
      `  peers: the ${s.neighbourhoodHops}-hop neighbourhood of the route, ${s.peers.length} of ${s.peersTotal} (the rest left out)`,
    );
  }
  const r = s.route;
  if (r !== null) {
    const source = r.source >= 0 ? s.peers[r.source] : undefined;
    const target = r.targetPeer >= 0 ? s.peers[r.targetPeer] : undefined;
    out.push(
      `  from ${r.sourceName} (${status(source)}) to ${target?.name ?? '?'} regID ${r.target} (${status(target)}), ` +
        `${r.txs.length} attempts`,
    );
    const name = (i: number, regId: string): string => (i >= 0 ? s.peers[i]!.name : regId.slice(0, 8));
    const rows = r.hops.slice(0, textRouteRowsMax).map((hop, i) => {
      const attempt = r.txs.indexOf(hop.tx) + 1;
      const cands = [...hop.considered]
        .sort((a, b) => a.distance - b.distance)
        .slice(0, 4)
        .map((c) => `${name(c.peer, c.regId)} ${c.distance.toFixed(3)}`)
        .join(', ');
      return [
        String(i + 1),
        attempt > 0 ? String(attempt) : '?',
        seconds(hop.timeMs, epochMs),
        hop.peerName,
        status(hop.peer >= 0 ? s.peers[hop.peer] : undefined),
        hop.distance >= 0 ? hop.distance.toFixed(5) : '-',
        hop.chosen === '' ? '(none)' : name(hop.chosenPeer, hop.chosen),
        hop.chosenDistance >= 0 ? hop.chosenDistance.toFixed(5) : '-',
        cands,
        hop.decision,
      ];
    });
    out.push('', 'route, hop by hop (distance to the target; candidates closest first):');
    out.push(
      formatTable(
        ['hop', 'try', 't (s)', 'peer', 'status', 'distance', 'chose', 'its dist', 'candidates', 'decision'],
        rows,
      ),
    );
    if (r.hops.length > textRouteRowsMax)
      out.push(`  … ${r.hops.length - textRouteRowsMax} more hop decisions`);
  } else out.push('  (no route: this pain is not a failed request)');
  out.push('', 'faults active:');
  if (s.faults.length === 0) out.push('  none');
  for (const f of s.faults) {
    const until = f.endMs < 0 ? 'on' : `until ${seconds(f.endMs, epochMs)} s`;
    const who = f.peers.length > 8 ? `${f.peers.slice(0, 8).join(', ')} …` : f.peers.join(', ');
    out.push(`  ${f.kind}: ${f.description} (from ${seconds(f.startMs, epochMs)} s, ${until}; ${who})`);
  }
  out.push('', `records of the peers on the route (${s.records.length}, oldest first):`);
  const recs = s.records.slice(-textRecordsMax);
  if (s.records.length > recs.length) out.push(`  … ${s.records.length - recs.length} earlier records`);
  for (const rec of recs) out.push(recordLine(rec, epochMs));
  return out.join('\n');
}
