/**
 * The visualizer's model: a decoded trace (with src/vision's own reader, so the page and the CLI agree on
 * what a valid trace is) and the 3-D layout of a snapshot's peers, projected from their 8-D torus points.
 *
 * Projections. `pca`: each coordinate x becomes (cos 2πx, sin 2πx), which removes the torus' seams, and the
 * 16-D cloud is projected on its three main axes (power iteration with deflation on the 16×16 covariance).
 * `axes`: three chosen coordinates, each shifted so the route's target sits at the centre (so the greedy
 * walk towards it converges on the middle); links that wrap around an axis are not drawn in that mode.
 */
import type { PainSnapshot, SnapshotPeer, VisionTraceResult } from '../src/vision/snapshot.js';

export type OkTrace = Extract<VisionTraceResult, { ok: true }>;

export type Projection =
  | { readonly kind: 'pca' }
  | { readonly kind: 'axes'; readonly axes: readonly [number, number, number] };

/** Half the extent of the layout, in scene units. */
export const layoutRadius = 10;

export interface Layout {
  /** xyz per peer. */
  readonly positions: Float32Array;
  /** Pairs of peer indices, each undirected link once. */
  readonly links: Uint32Array;
  /** Links not drawn (they wrap around an axis in `axes` mode). */
  readonly linksHidden: number;
}

function embed(p: readonly number[]): number[] {
  const out: number[] = [];
  for (const x of p) out.push(Math.cos(2 * Math.PI * x), Math.sin(2 * Math.PI * x));
  return out;
}

/** The top `k` eigenvectors of a symmetric matrix (power iteration with deflation). */
function topEigenvectors(m: number[][], k: number): number[][] {
  const n = m.length;
  const a = m.map((r) => [...r]);
  const out: number[][] = [];
  for (let e = 0; e < k; e++) {
    let v = Array.from({ length: n }, (_, i) => 1 / Math.sqrt(n) + (i === e ? 0.5 : 0) + i * 1e-3);
    let lambda = 0;
    for (let it = 0; it < 200; it++) {
      const w = a.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
      const norm = Math.hypot(...w) || 1;
      v = w.map((x) => x / norm);
      lambda = norm;
    }
    out.push(v);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i]![j]! -= lambda * v[i]! * v[j]!;
  }
  return out;
}

function undirectedLinks(peers: readonly SnapshotPeer[]): number[] {
  const links: number[] = [];
  peers.forEach((p, i) => {
    for (const j of p.neighbours) {
      // Each link once: from the lower index, or from the higher when the lower does not list it back.
      if (i < j || !peers[j]!.neighbours.includes(i)) links.push(i, j);
    }
  });
  return links;
}

/** Positions and links of a snapshot under a projection. */
export function layout(s: PainSnapshot, projection: Projection): Layout {
  const peers = s.peers;
  const n = peers.length;
  const positions = new Float32Array(3 * n);
  const pairs = undirectedLinks(peers);
  if (n === 0) return { positions, links: new Uint32Array(0), linksHidden: 0 };
  const target = s.route !== null && s.route.targetPeer >= 0 ? peers[s.route.targetPeer]!.point : undefined;
  let hidden = 0;
  if (projection.kind === 'axes') {
    const centre = projection.axes.map((a) => (target === undefined ? 0.5 : target[a]!));
    peers.forEach((p, i) => {
      projection.axes.forEach((a, d) => {
        // Shift so the centre is at 0.5, then wrap into [0, 1).
        const x = (((p.point[a]! - centre[d]! + 0.5) % 1) + 1) % 1;
        positions[3 * i + d] = (x - 0.5) * 2 * layoutRadius;
      });
    });
    const kept: number[] = [];
    for (let l = 0; l < pairs.length; l += 2) {
      const i = pairs[l]!;
      const j = pairs[l + 1]!;
      let wraps = false;
      for (let d = 0; d < 3; d++) {
        if (Math.abs(positions[3 * i + d]! - positions[3 * j + d]!) > layoutRadius) wraps = true;
      }
      if (wraps) hidden++;
      else kept.push(i, j);
    }
    return { positions, links: Uint32Array.from(kept), linksHidden: hidden };
  }
  const dims = 2 * peers[0]!.point.length;
  const data = peers.map((p) => embed(p.point));
  const mean = new Array<number>(dims).fill(0);
  for (const v of data) for (let d = 0; d < dims; d++) mean[d]! += v[d]! / n;
  const cov = Array.from({ length: dims }, () => new Array<number>(dims).fill(0));
  for (const v of data) {
    for (let a = 0; a < dims; a++) {
      const va = v[a]! - mean[a]!;
      const row = cov[a]!;
      for (let b = a; b < dims; b++) row[b]! += (va * (v[b]! - mean[b]!)) / n;
    }
  }
  for (let a = 0; a < dims; a++) for (let b = 0; b < a; b++) cov[a]![b] = cov[b]![a]!;
  const axes = topEigenvectors(cov, 3);
  let maxAbs = 1e-9;
  data.forEach((v, i) => {
    axes.forEach((e, d) => {
      let x = 0;
      for (let k = 0; k < dims; k++) x += (v[k]! - mean[k]!) * e[k]!;
      positions[3 * i + d] = x;
      maxAbs = Math.max(maxAbs, Math.abs(x));
    });
  });
  for (let i = 0; i < positions.length; i++) positions[i] = (positions[i]! / maxAbs) * layoutRadius;
  return { positions, links: Uint32Array.from(pairs), linksHidden: hidden };
}

/**
 * Links drawn at most. A software renderer (SwiftShader, as in headless Chromium) pays per vertex: all
 * 67k links of a 10,000-peer network took about a second a frame here (as GL lines or as thin triangle
 * quads alike). Beyond the cap, the links of the route's neighbourhood are all drawn and the others
 * sampled evenly; the page says how many were left out.
 */
export const linksDrawnMax = 10_000;
/**
 * Links drawn at most with a GPU (a snapshot holds at most `snapshotPeersMaxLimit` peers with a bounded
 * neighbour list each, so this is a bound on memory, not a visual sample).
 */
export const linksDrawnMaxGpu = 2_000_000;

/** The links to draw: all up to `linksDrawnMax`, else those touching `important` peers and a sample. */
export function linksToDraw(
  links: Uint32Array,
  important: ReadonlySet<number>,
  max = linksDrawnMax,
): Uint32Array {
  const count = links.length / 2;
  if (count <= max) return links;
  const keep: number[] = [];
  const rest: number[] = [];
  for (let l = 0; l < count; l++) {
    if (important.has(links[2 * l]!) || important.has(links[2 * l + 1]!)) keep.push(l);
    else rest.push(l);
  }
  const room = Math.max(0, max - keep.length);
  const stride = rest.length / Math.max(1, room);
  for (let k = 0; k < room && k * stride < rest.length; k++) keep.push(rest[Math.floor(k * stride)]!);
  const out = new Uint32Array(2 * Math.min(keep.length, max));
  keep.slice(0, max).forEach((l, i) => {
    out[2 * i] = links[2 * l]!;
    out[2 * i + 1] = links[2 * l + 1]!;
  });
  return out;
}

/** The highest pain level each peer emitted among a snapshot's records (-1: none). */
export function painLevelByPeer(s: PainSnapshot): Int8Array {
  const index = new Map(s.peers.map((p, i) => [p.name, i]));
  const out = new Int8Array(s.peers.length).fill(-1);
  for (const r of [...s.records, s.pain]) {
    const i = index.get(r.peer);
    if (i !== undefined && r.level > out[i]!) out[i] = r.level;
  }
  return out;
}

/** Peer indices on the route (deciders and chosen next hops), in first-seen order. */
export function routePeers(s: PainSnapshot): number[] {
  const seen = new Set<number>();
  const r = s.route;
  if (r === null) return [];
  if (r.source >= 0) seen.add(r.source);
  for (const h of r.hops) {
    if (h.peer >= 0) seen.add(h.peer);
    if (h.chosenPeer >= 0) seen.add(h.chosenPeer);
  }
  if (r.targetPeer >= 0) seen.add(r.targetPeer);
  return [...seen];
}
