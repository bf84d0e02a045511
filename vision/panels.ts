/**
 * The d3 panels: the timeline of records by level with fault periods shaded in their own colours and the
 * pains marked, delivery over time (with the same fault bands), the hop histogram, and the selected
 * route's table of distance to the target per hop (where greedy stalled shows as a flat or rising bar).
 */
import * as d3 from 'd3';
import { levelName } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import type { PainSnapshot, RunLog, SnapshotFault } from '../src/vision/snapshot.js';
import { attemptColours } from './scene.js';

/** Points drawn at most on the timeline (the rest are counted, as Jepsen caps its timeline). */
export const timelinePointsMax = 10_000;

export const levelColours = [
  '#56607a',
  '#6b7a99',
  '#7f8fb3',
  '#7fc8ff',
  '#ffd166',
  '#ffa94d',
  '#ff8c42',
  '#ff5e5e',
  '#ff2e63',
  '#d400ff',
];

export const faultColours: Record<string, string> = {
  partition: '#ff4d4d',
  isp: '#ffa22e',
  offline: '#8a8a8a',
  loss: '#4dc3ff',
};

const levelShort = [
  'deep',
  'detail',
  'higher',
  'guiAct',
  'needsAt',
  'guiPain',
  'light',
  'medium',
  'strong',
  'death',
];

const faultColour = (kind: string): string => faultColours[kind] ?? '#c77dff';

interface Frame {
  readonly svg: d3.Selection<SVGSVGElement, unknown, null, undefined>;
  readonly width: number;
  readonly height: number;
  readonly margin: { top: number; right: number; bottom: number; left: number };
}

function frame(el: HTMLElement, title: string): Frame {
  el.replaceChildren();
  const width = Math.max(200, el.clientWidth);
  const height = Math.max(120, el.clientHeight);
  const margin = { top: 18, right: 10, bottom: 22, left: 54 };
  const svg = d3.select(el).append('svg').attr('width', width).attr('height', height);
  svg.append('text').attr('class', 'panel-title').attr('x', margin.left).attr('y', 12).text(title);
  return { svg, width, height, margin };
}

function faultBands(
  f: Frame,
  x: d3.ScaleLinear<number, number>,
  faults: readonly SnapshotFault[],
  epochMs: number,
  endS: number,
): void {
  const g = f.svg.append('g').attr('class', 'faults');
  for (const fault of faults) {
    const a = x((fault.startMs - epochMs) / 1000);
    const b = x(fault.endMs < 0 ? endS : (fault.endMs - epochMs) / 1000);
    g.append('rect')
      .attr('x', Math.max(f.margin.left, a))
      .attr('y', f.margin.top)
      .attr('width', Math.max(2, Math.min(f.width - f.margin.right, b) - Math.max(f.margin.left, a)))
      .attr('height', f.height - f.margin.top - f.margin.bottom)
      .attr('fill', faultColour(fault.kind))
      .attr('opacity', 0.16)
      .append('title')
      .text(`${fault.kind}: ${fault.description}`);
  }
}

export interface TimelineInput {
  readonly records: readonly VisionRecord[];
  readonly snapshots: readonly PainSnapshot[];
  readonly faults: readonly SnapshotFault[];
  readonly epochMs: number;
  readonly cursorMs?: number;
  readonly selectedPain?: number;
}

/** Records by level over time; returns the points drawn. */
export function drawTimeline(el: HTMLElement, t: TimelineInput, onPain: (n: number) => void): number {
  const f = frame(el, 'records by level over time (s); fault periods shaded; pains marked');
  const times = [...t.records.map((r) => r.timeMs), ...t.faults.map((x) => x.startMs)];
  const t0 = 0;
  const endS = Math.max(1, ...times.map((ms) => (ms - t.epochMs) / 1000));
  const x = d3.scaleLinear([t0, endS], [f.margin.left, f.width - f.margin.right]);
  const y = d3.scaleLinear([0, 9], [f.height - f.margin.bottom, f.margin.top + 4]);
  faultBands(f, x, t.faults, t.epochMs, endS);
  f.svg
    .append('g')
    .attr('transform', `translate(0,${f.height - f.margin.bottom})`)
    .call(d3.axisBottom(x).ticks(8));
  f.svg
    .append('g')
    .attr('transform', `translate(${f.margin.left},0)`)
    .call(
      d3
        .axisLeft(y)
        .ticks(10)
        .tickFormat((l) => levelShort[Number(l)] ?? ''),
    );
  const pts = t.records.slice(0, timelinePointsMax);
  f.svg
    .append('g')
    .selectAll('circle')
    .data(pts)
    .join('circle')
    .attr('cx', (r) => x((r.timeMs - t.epochMs) / 1000))
    .attr('cy', (r) => y(r.level) + (((r.timeMs * 7919) % 9) - 4))
    .attr('r', (r) => (r.level >= 5 ? 3 : 1.8))
    .attr('fill', (r) => levelColours[r.level]!)
    .attr('opacity', 0.8)
    .append('title')
    .text((r) => `${levelName(r.level)} ${r.peer}: ${r.message}`);
  const pains = f.svg.append('g');
  for (const s of t.snapshots) {
    const px = x((s.pain.timeMs - t.epochMs) / 1000);
    pains
      .append('line')
      .attr('x1', px)
      .attr('x2', px)
      .attr('y1', f.margin.top)
      .attr('y2', f.height - f.margin.bottom)
      .attr('stroke', s.number === t.selectedPain ? '#ffffff' : '#ff2e63')
      .attr('stroke-width', s.number === t.selectedPain ? 2 : 1)
      .style('cursor', 'pointer')
      .on('click', () => onPain(s.number))
      .append('title')
      .text(`pain #${s.number}: ${s.pain.peer}: ${s.pain.message}`);
  }
  if (t.cursorMs !== undefined) {
    const cx = x((t.cursorMs - t.epochMs) / 1000);
    f.svg
      .append('line')
      .attr('class', 'cursor')
      .attr('x1', cx)
      .attr('x2', cx)
      .attr('y1', f.margin.top)
      .attr('y2', f.height - f.margin.bottom)
      .attr('stroke', '#5cff8a')
      .attr('stroke-dasharray', '3 2');
  }
  if (t.records.length > pts.length) {
    f.svg
      .append('text')
      .attr('class', 'note')
      .attr('x', f.width - f.margin.right)
      .attr('y', 12)
      .attr('text-anchor', 'end')
      .text(`${t.records.length - pts.length} more records not drawn`);
  }
  return pts.length;
}

/** Delivery ratio per bucket (line) over sent INVITEs (bars), fault periods shaded. */
export function drawDelivery(
  el: HTMLElement,
  log: RunLog | undefined,
  faults: readonly SnapshotFault[],
  epochMs: number,
): void {
  const f = frame(el, 'INVITEs sent (bars) and delivered share (line) over time (s)');
  const data = log?.delivery ?? [];
  if (data.length === 0) {
    f.svg
      .append('text')
      .attr('class', 'note')
      .attr('x', f.margin.left)
      .attr('y', 40)
      .text('no delivery series in this trace');
    return;
  }
  const bucketS = data.length > 1 ? (data[1]![0] - data[0]![0]) / 1000 : 10;
  const endS = (data.at(-1)![0] - epochMs) / 1000 + bucketS;
  const x = d3.scaleLinear([0, endS], [f.margin.left, f.width - f.margin.right]);
  const ySent = d3.scaleLinear(
    [0, d3.max(data, (d) => d[1]) ?? 1],
    [f.height - f.margin.bottom, f.margin.top + 4],
  );
  const yRatio = d3.scaleLinear([0, 1], [f.height - f.margin.bottom, f.margin.top + 4]);
  faultBands(f, x, faults, epochMs, endS);
  f.svg
    .append('g')
    .attr('transform', `translate(0,${f.height - f.margin.bottom})`)
    .call(d3.axisBottom(x).ticks(8));
  f.svg
    .append('g')
    .attr('transform', `translate(${f.margin.left},0)`)
    .call(d3.axisLeft(yRatio).ticks(4, '%'));
  f.svg
    .append('g')
    .selectAll('rect')
    .data(data)
    .join('rect')
    .attr('x', (d) => x((d[0] - epochMs) / 1000))
    .attr('width', Math.max(1, x(bucketS) - x(0) - 1))
    .attr('y', (d) => ySent(d[1]))
    .attr('height', (d) => ySent(0) - ySent(d[1]))
    .attr('fill', '#3a4a6b')
    .append('title')
    .text((d) => `${d[2]}/${d[1]} delivered`);
  const line = d3
    .line<readonly [number, number, number]>()
    .x((d) => x((d[0] - epochMs) / 1000 + bucketS / 2))
    .y((d) => yRatio(d[1] === 0 ? 1 : d[2] / d[1]));
  f.svg
    .append('path')
    .attr('d', line(data))
    .attr('fill', 'none')
    .attr('stroke', '#5cff8a')
    .attr('stroke-width', 2);
}

/** Histogram of hops of the delivered INVITEs. */
export function drawHops(el: HTMLElement, log: RunLog | undefined): void {
  const f = frame(el, 'hops of delivered INVITEs');
  const hops = log?.hops ?? [];
  if (hops.length === 0) {
    f.svg
      .append('text')
      .attr('class', 'note')
      .attr('x', f.margin.left)
      .attr('y', 40)
      .text('no hop histogram in this trace');
    return;
  }
  const x = d3
    .scaleBand(d3.range(hops.length).map(String), [f.margin.left, f.width - f.margin.right])
    .padding(0.15);
  const y = d3.scaleLinear([0, d3.max(hops) ?? 1], [f.height - f.margin.bottom, f.margin.top + 4]);
  f.svg
    .append('g')
    .attr('transform', `translate(0,${f.height - f.margin.bottom})`)
    .call(d3.axisBottom(x));
  f.svg.append('g').attr('transform', `translate(${f.margin.left},0)`).call(d3.axisLeft(y).ticks(4));
  f.svg
    .append('g')
    .selectAll('rect')
    .data(hops)
    .join('rect')
    .attr('x', (_, i) => x(String(i)) ?? 0)
    .attr('width', x.bandwidth())
    .attr('y', (d) => y(d))
    .attr('height', (d) => y(0) - y(d))
    .attr('fill', '#4dc3ff')
    .append('title')
    .text((d, i) => `${d} INVITEs took ${i} hops`);
}

/** The route's hops as a table, distance to the target drawn as a bar; returns the rows drawn. */
export function drawRouteTable(
  el: HTMLElement,
  s: PainSnapshot | undefined,
  onHop: (peer: number) => void,
): number {
  el.replaceChildren();
  const r = s?.route;
  if (s === undefined || r === null || r === undefined) {
    el.textContent = s === undefined ? 'select a pain' : 'this pain has no route';
    return 0;
  }
  const maxD = Math.max(1e-9, ...r.hops.map((h) => h.distance));
  const table = d3.select(el).append('table').attr('class', 'route-table');
  table
    .append('thead')
    .append('tr')
    .selectAll('th')
    .data(['hop', 'try', 'peer', 'distance to target', 'chose', 'decision'])
    .join('th')
    .text((d) => d);
  const name = (i: number, fallback: string): string => (i >= 0 ? s.peers[i]!.name : fallback);
  const rows = table
    .append('tbody')
    .selectAll('tr')
    .data(r.hops)
    .join('tr')
    .attr('class', 'hop-row')
    .on('click', (_, h) => onHop(h.peer));
  rows.append('td').text((_, i) => String(i + 1));
  rows
    .append('td')
    .style('color', (h) => attemptColours[Math.max(0, r.txs.indexOf(h.tx)) % attemptColours.length]!)
    .text((h) => String(r.txs.indexOf(h.tx) + 1));
  rows.append('td').text((h) => h.peerName);
  const dist = rows.append('td').attr('class', 'dist');
  dist
    .append('div')
    .attr('class', 'bar')
    .style('width', (h) => `${h.distance < 0 ? 0 : Math.round((100 * h.distance) / maxD)}%`);
  dist.append('span').text((h) => (h.distance < 0 ? '–' : h.distance.toFixed(4)));
  rows.append('td').text((h) => (h.chosen === '' ? '—' : name(h.chosenPeer, h.chosen.slice(0, 8))));
  rows
    .append('td')
    .attr('class', 'decision')
    .text((h) => h.decision.replace(/^INVITE /, ''));
  return r.hops.length;
}
