/**
 * The developer's vision in the browser: pick a trace (from the server's list, the URL's `#trace=` or a
 * file dropped on the page), see the network of a pain in 3-D, choose a pain to draw its route and list
 * the records of the peers on it, step through those records with the slider.
 *
 * `window.__vision` is a debug state for tests and benchmarks: what is drawn (peers, links, route hops),
 * what is selected, and `selectPain(n)` / `measureFps(ms)`.
 */
import { levelName } from '../src/vision/attention.js';
import type { VisionRecord } from '../src/vision/record.js';
import { type PainSnapshot, readVisionTrace } from '../src/vision/snapshot.js';
import {
  layout,
  linksDrawnMax,
  linksDrawnMaxGpu,
  linksToDraw,
  type OkTrace,
  type Projection,
  painLevelByPeer,
  routePeers,
} from './model.js';
import { drawDelivery, drawHops, drawRouteTable, drawTimeline, levelColours } from './panels.js';
import { VisionScene } from './scene.js';
import './style.css';

export interface VisionDebugState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
  trace: string | null;
  pains: number;
  /** Snapshot whose network is shown, and the pain whose route is selected (null: none). */
  shownSnapshot: number | null;
  selectedPain: number | null;
  peers: number;
  links: number;
  /** Links drawn (all with a GPU; with software rendering up to model.ts `linksDrawnMax`). */
  linksDrawn: number;
  /** The WebGL context rasterizes in software (scene.ts `isSoftwareRenderer`). */
  softwareRendering: boolean;
  linksHidden: number;
  routeHops: number;
  routeSegments: number;
  routeHighlighted: boolean;
  hopTableRows: number;
  recordsListed: number;
  timelinePoints: number;
  projection: string;
  loadMs: number;
  frames: () => number;
  drawCalls: () => number;
  selectPain: (n: number) => void;
  measureFps: (ms: number) => Promise<number>;
  show: (part: 'peers' | 'links' | 'route', visible: boolean) => void;
  renderMs: (n: number) => number;
}

declare global {
  interface Window {
    __vision: VisionDebugState;
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el as T;
};

const scene = new VisionScene($('view'));
const state: VisionDebugState = {
  status: 'idle',
  error: null,
  trace: null,
  pains: 0,
  shownSnapshot: null,
  selectedPain: null,
  peers: 0,
  links: 0,
  linksDrawn: 0,
  softwareRendering: false,
  linksHidden: 0,
  routeHops: 0,
  routeSegments: 0,
  routeHighlighted: false,
  hopTableRows: 0,
  recordsListed: 0,
  timelinePoints: 0,
  projection: 'pca',
  loadMs: 0,
  frames: () => scene.frames,
  drawCalls: () => scene.drawCalls,
  selectPain: (n) => selectPain(n),
  measureFps: (ms) => scene.measureFps(ms),
  show: (part, visible) => scene.show(part, visible),
  renderMs: (n) => scene.renderMs(n),
};
window.__vision = state;

let trace: OkTrace | undefined;
let shown: PainSnapshot | undefined;
let selected: PainSnapshot | undefined;
let records: VisionRecord[] = [];
let colourBy: 'status' | 'pain' = 'status';
let projection: Projection = { kind: 'pca' };
const epochDefault = 1_577_836_800_000;

function epochMs(): number {
  const first = trace?.records[0]?.timeMs ?? trace?.snapshots[0]?.pain.timeMs ?? 0;
  return first >= epochDefault ? epochDefault : 0;
}

function showError(message: string): void {
  state.status = 'error';
  state.error = message;
  const b = $('banner');
  b.textContent = message;
  b.className = 'banner error';
}

function showNote(message: string): void {
  const b = $('banner');
  b.textContent = message;
  b.className = message === '' ? 'banner hidden' : 'banner note';
}

// ---- colours ----

function peerColours(s: PainSnapshot): Float32Array {
  const out = new Float32Array(3 * s.peers.length);
  const rgb = (hex: string): [number, number, number] => {
    const n = Number.parseInt(hex.slice(1), 16);
    return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
  };
  const pains = painLevelByPeer(s);
  const faulty = new Set(s.faults.flatMap((f) => f.peers));
  s.peers.forEach((p, i) => {
    let c: [number, number, number];
    if (colourBy === 'pain') c = pains[i]! < 0 ? [0.25, 0.3, 0.4] : rgb(levelColours[pains[i]!]!);
    else if (!p.online) c = [0.35, 0.35, 0.35];
    else if (faulty.has(p.name)) c = [1, 0.63, 0.18];
    else if (p.entry) c = [1, 0.85, 0.3];
    else c = [0.35 + 0.4 * (1 - p.rating), 0.62, 1];
    out.set(c, 3 * i);
  });
  return out;
}

function peerScales(s: PainSnapshot, route: PainSnapshot | undefined): Float32Array {
  const out = new Float32Array(s.peers.length).fill(s.peers.length > 3000 ? 0.8 : 1.2);
  s.peers.forEach((p, i) => {
    if (p.entry) out[i] = 1.6;
  });
  if (route !== undefined) for (const i of routePeers(route)) out[i] = 2.2;
  return out;
}

// ---- drawing ----

function drawNetwork(): void {
  if (shown === undefined) return;
  const l = layout(shown, projection);
  const important = new Set<number>();
  for (const i of selected === undefined ? [] : routePeers(selected)) {
    important.add(i);
    for (const j of shown.peers[i]!.neighbours) important.add(j);
  }
  const drawn = linksToDraw(l.links, important, scene.softwareRendering ? linksDrawnMax : linksDrawnMaxGpu);
  scene.setNetwork({ ...l, links: drawn }, peerColours(shown), peerScales(shown, selected));
  state.peers = shown.peers.length;
  state.links = l.links.length / 2;
  state.linksDrawn = drawn.length / 2;
  state.softwareRendering = scene.softwareRendering;
  state.linksHidden = l.linksHidden;
  scene.setRoute(selected ?? null);
  state.routeSegments = scene.routeSegments;
  const omitted = shown.peersTotal - shown.peers.length;
  $('netinfo').textContent =
    `${shown.peers.length} peers${omitted > 0 ? ` (the route's ${shown.neighbourhoodHops}-hop neighbourhood; ${omitted} more left out)` : ''}, ` +
    `${state.links} links${state.linksDrawn < state.links ? ` (${state.linksDrawn} drawn, software rendering: the route's neighbourhood and an even sample; hidden while the view moves)` : ''}` +
    `${l.linksHidden > 0 ? ` (${l.linksHidden} wrapping links hidden)` : ''}`;
}

function drawPanels(): void {
  if (trace === undefined) return;
  const e = epochMs();
  const faults = trace.runLog?.faults ?? shown?.faults ?? [];
  const all = [...trace.records, ...(selected?.records ?? [])].sort((a, b) => a.timeMs - b.timeMs);
  const cursor = records[Number(($('slider') as HTMLInputElement).value)]?.timeMs;
  state.timelinePoints = drawTimeline(
    $('timeline'),
    {
      records: all,
      snapshots: trace.snapshots,
      faults,
      epochMs: e,
      ...(cursor !== undefined ? { cursorMs: cursor } : {}),
      ...(selected !== undefined ? { selectedPain: selected.number } : {}),
    },
    (n) => selectPain(n),
  );
  drawDelivery($('delivery'), trace.runLog, faults, e);
  drawHops($('hops'), trace.runLog);
}

function listPains(): void {
  const ul = $('pains');
  ul.replaceChildren();
  if (trace === undefined) return;
  if (trace.snapshots.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'no pain snapshots in this trace';
    ul.appendChild(li);
  }
  const e = epochMs();
  for (const s of trace.snapshots) {
    const li = document.createElement('li');
    li.className = `pain${selected?.number === s.number ? ' selected' : ''}`;
    li.dataset.pain = String(s.number);
    const hops = s.route === null ? 'no route' : `${s.route.hops.length} hop decisions`;
    li.innerHTML = `<b>#${s.number}</b> <span class="t">${((s.pain.timeMs - e) / 1000).toFixed(1)} s</span> <span class="lvl" style="background:${levelColours[s.pain.level]}">${levelName(s.pain.level)}</span><br>`;
    li.append(`${s.pain.peer}: ${s.pain.message} (${hops})`);
    li.addEventListener('click', () => selectPain(s.number));
    ul.appendChild(li);
  }
}

function listRecords(): void {
  const ol = $('records');
  ol.replaceChildren();
  const e = epochMs();
  records.forEach((r, i) => {
    const li = document.createElement('li');
    li.dataset.index = String(i);
    li.innerHTML = `<span class="t">${((r.timeMs - e) / 1000).toFixed(3)}</span> <span class="lvl" style="background:${levelColours[r.level]}">${levelName(r.level)}</span> <b></b> `;
    li.querySelector('b')!.textContent = r.peer;
    li.append(r.message);
    li.title = r.attributes === undefined ? '' : JSON.stringify(r.attributes);
    li.addEventListener('click', () => stepTo(i));
    ol.appendChild(li);
  });
  state.recordsListed = records.length;
  const slider = $('slider') as HTMLInputElement;
  slider.max = String(Math.max(0, records.length - 1));
  slider.disabled = records.length === 0;
  const painAt = records.findIndex(
    (r) =>
      r === selected?.pain || (r.timeMs === selected?.pain.timeMs && r.message === selected.pain.message),
  );
  slider.value = String(painAt >= 0 ? painAt : Math.max(0, records.length - 1));
}

function stepTo(i: number): void {
  const slider = $('slider') as HTMLInputElement;
  slider.value = String(i);
  const r = records[i];
  for (const li of $('records').querySelectorAll('li'))
    li.classList.toggle('current', li.dataset.index === String(i));
  $('records').querySelector('li.current')?.scrollIntoView({ block: 'nearest' });
  if (r !== undefined && shown !== undefined) {
    scene.highlightPeer(shown.peers.findIndex((p) => p.name === r.peer));
    $('step').textContent = `record ${i + 1} of ${records.length}: ${r.peer} ${r.message}`;
  }
  drawPanels();
}

function show(n: number, withRoute: boolean): void {
  if (trace === undefined) return;
  const s = trace.snapshots.find((x) => x.number === n);
  if (s === undefined) return;
  shown = s;
  selected = withRoute ? s : undefined;
  state.shownSnapshot = s.number;
  state.selectedPain = withRoute ? s.number : null;
  drawNetwork();
  state.routeHops = selected?.route?.hops.length ?? 0;
  state.routeHighlighted = selected !== undefined && scene.routeSegments > 0;
  state.hopTableRows = drawRouteTable($('route'), selected, (peer) => {
    scene.highlightPeer(peer);
    if (peer >= 0) scene.focus([peer]);
  });
  records = selected === undefined ? [] : [...selected.records].sort((a, b) => a.timeMs - b.timeMs);
  if (selected !== undefined && !records.includes(selected.pain)) {
    records.push(selected.pain);
    records.sort((a, b) => a.timeMs - b.timeMs);
  }
  listRecords();
  listPains();
  drawPanels();
  if (selected !== undefined) {
    scene.focus(routePeers(selected));
    const u = new URLSearchParams(location.hash.slice(1));
    u.set('pain', String(n));
    if (state.trace !== null) u.set('trace', state.trace);
    history.replaceState(null, '', `#${u.toString()}`);
  } else scene.focus([]);
}

function selectPain(n: number): void {
  show(n, true);
}

// ---- loading ----

function loadBytes(name: string, bytes: Uint8Array, pain: number | undefined): void {
  const t0 = performance.now();
  state.status = 'loading';
  state.error = null;
  state.trace = name;
  const t = readVisionTrace(bytes);
  if (!t.ok) {
    trace = undefined;
    showError(`Cannot show ${name}: ${t.message}.`);
    return;
  }
  trace = t;
  state.pains = t.snapshots.length;
  selected = undefined;
  shown = undefined;
  const notes: string[] = [];
  if (t.truncated)
    notes.push('this trace is truncated (the run did not close it): showing what was complete');
  if (t.snapshots.length === 0) notes.push('no pain snapshots in this trace: only its records are shown');
  showNote(notes.join('; '));
  $('traceinfo').textContent =
    `${name}: scenario ${String(t.header.config.scenario ?? '?')}, seed ${t.header.seed}, ${t.records.length} records, ${t.snapshots.length} pains`;
  if (t.snapshots.length > 0) show(pain ?? t.snapshots[0]!.number, pain !== undefined);
  else {
    scene.setNetwork(
      { positions: new Float32Array(0), links: new Uint32Array(0), linksHidden: 0 },
      new Float32Array(0),
      new Float32Array(0),
    );
    listPains();
    drawPanels();
  }
  state.loadMs = performance.now() - t0;
  state.status = 'ready';
}

async function loadNamed(name: string, pain: number | undefined): Promise<void> {
  state.status = 'loading';
  try {
    const res = await fetch(`/api/trace?name=${encodeURIComponent(name)}`);
    if (!res.ok) {
      showError(`Cannot load ${name}: the server says ${res.status} ${(await res.text()).slice(0, 200)}.`);
      return;
    }
    loadBytes(name, new Uint8Array(await res.arrayBuffer()), pain);
  } catch (e) {
    showError(`Cannot load ${name}: ${e instanceof Error ? e.message : String(e)}.`);
  }
}

async function listTraces(): Promise<{ name: string; bytes: number }[]> {
  try {
    const res = await fetch('/api/traces');
    if (!res.ok) return [];
    return (await res.json()) as { name: string; bytes: number }[];
  } catch {
    return [];
  }
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.hash.slice(1));
  const wanted = params.get('trace');
  const painText = params.get('pain');
  const pain = painText === null ? undefined : Number(painText);
  const list = await listTraces();
  const select = $('trace') as HTMLSelectElement;
  for (const t of list) {
    const o = document.createElement('option');
    o.value = t.name;
    o.textContent = `${t.name} (${Math.round(t.bytes / 1024)} KiB)`;
    select.appendChild(o);
  }
  select.addEventListener('change', () => void loadNamed(select.value, undefined));
  const name = wanted ?? list[0]?.name;
  if (name === undefined) {
    showNote(
      'No traces under reports/: run a tester or `npm run drp-sim -- sample`, or drop a .trace file here.',
    );
    return;
  }
  select.value = name;
  await loadNamed(name, Number.isInteger(pain) ? pain : undefined);
}

// ---- controls ----

$('colour').addEventListener('change', (e) => {
  colourBy = (e.target as HTMLSelectElement).value as 'status' | 'pain';
  if (shown !== undefined) scene.setColours(peerColours(shown));
});
$('projection').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
  projection =
    v === 'pca'
      ? { kind: 'pca' }
      : { kind: 'axes', axes: v.split(',').map(Number) as [number, number, number] };
  state.projection = v;
  drawNetwork();
});
$('focus').addEventListener('click', () => {
  if (selected !== undefined) scene.focus(routePeers(selected));
  else scene.focus([]);
});
$('slider').addEventListener('input', (e) => stepTo(Number((e.target as HTMLInputElement).value)));

const tooltip = $('tooltip');
let hoverPending = false;
$('view').addEventListener('pointermove', (e) => {
  if (hoverPending) return;
  hoverPending = true;
  requestAnimationFrame(() => {
    hoverPending = false;
    const i = shown === undefined ? -1 : scene.pick(e.clientX, e.clientY);
    if (i < 0 || shown === undefined) {
      tooltip.style.display = 'none';
      return;
    }
    const p = shown.peers[i]!;
    const target = selected?.route?.targetPeer ?? -1;
    const hop = selected?.route?.hops.find((h) => h.peer === i && h.distance >= 0);
    tooltip.style.display = 'block';
    tooltip.style.left = `${e.clientX + 14}px`;
    tooltip.style.top = `${e.clientY + 10}px`;
    tooltip.textContent = [
      `${p.name}${p.entry ? ' (entry peer)' : ''}${i === target ? ' — TARGET' : ''}`,
      `regID ${p.regId}`,
      `${p.online ? 'online' : `offline (${p.offline})`}, NAT ${p.nat}, ISP ${p.isp}`,
      `rating ${p.rating.toFixed(2)}, neighbours ${p.neighbours.length + p.neighboursOutside}`,
      hop !== undefined ? `distance to target ${hop.distance.toFixed(5)}` : '',
      `point ${p.point.map((x) => x.toFixed(3)).join(' ')}`,
    ]
      .filter((l) => l !== '')
      .join('\n');
  });
});

document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const file = e.dataTransfer?.files[0];
  if (file === undefined) return;
  void file.arrayBuffer().then(
    (buf) => loadBytes(file.name, new Uint8Array(buf), undefined),
    (err: unknown) => showError(`Cannot read ${file.name}: ${String(err)}.`),
  );
});
window.addEventListener('resize', () => drawPanels());

start().catch((e: unknown) =>
  showError(`The page failed to start: ${e instanceof Error ? e.message : String(e)}.`),
);
