/**
 * Route statistics on a scale network: sampled (source, target) pairs routed with the INVITE policy
 * of `src/drp/policy.ts` — greedy towards the target's point, optional look-ahead over neighbours'
 * advertised neighbours, and the visited-set fallback (continue to the best unvisited neighbour at a
 * local minimum, return to the previous hop when none is left; the engine's "try the next-best
 * neighbour on failure").
 *
 * `hops` counts every forwarding step a route took, backtracking steps included, so a recovered dead
 * end costs what it costs on the wire. Stretch compares the hops of a sample of delivered routes with
 * the BFS shortest path in the same graph.
 */

import { drpConfigDefault } from '../../src/drp/config.js';
import {
  distanceSquaredToPoint,
  inviteExplorationHops,
  inviteNextHop,
  inviteSearchesMax,
  type PeerView,
  type RoutingPolicy,
  routeHopsMax,
  slotPeerMask,
} from '../../src/drp/policy.js';
import { dimensions, typicalNeighbourDistance } from '../../src/id/geometry.js';
import type { FastRng } from './fast-rng.js';

/** Forwarding steps a route may take including backtracking (depth is bounded by `routeHopsMax`). */
export const routeStepsMax = 4 * routeHopsMax;
/** Hops the visited-set fallback goes past the closest peer reached before it turns back. */
export const fallbackDepthMax = 2;
/**
 * INVITE attempts: when a search fails, the requester sends the INVITE again, starting with
 * `retryRandomHops` × attempt random hops (as a REGISTER does) so the new search approaches the
 * target from elsewhere; the hops of every attempt count.
 */
export const inviteAttemptsMax = 4;
export const retryRandomHops = 2;
/** Hop histogram buckets (the last one collects everything above). */
export const hopHistogramBuckets = 64;

export interface RouteStats {
  routes: number;
  delivered: number;
  deliveredRatio: number;
  hopsMean: number;
  hopsP50: number;
  hopsP90: number;
  hopsP99: number;
  hopsMax: number;
  /** Routes that met a local minimum (plain greedy would have failed there). */
  deadEnds: number;
  /** Mean distance of the dead-end peer to its target, in typical-neighbour-distance units. */
  deadEndDistanceMean: number;
  /** Mean hop index at which the first dead end happened. */
  deadEndHopMean: number;
  /** Count of routes by hops; index = hops (last bucket: ≥ bucket index). */
  hopHistogram: number[];
  stretchMean: number;
  stretchSamples: number;
}

/** A graph routes are sampled on (BFS walks its slots). */
export interface RouteGraph {
  readonly count: number;
  readonly slots: Uint32Array;
  readonly slotStride: number;
  readonly degree: Uint8Array;
  /** Every link is held at both ends (shortest paths may then be searched from both ends). */
  readonly undirected?: boolean;
  isAlive(p: number): boolean;
}

/** A network the 8-D router can walk: the policy view plus liveness and visit marks. */
export interface RoutableNetwork extends PeerView, RouteGraph {
  nextEpoch(): number;
  readonly marks: Uint32Array;
}

/** Routes one pair: hops (≥ 0) when delivered, −1 when not; records the first dead end. */
export interface PeerRouter {
  route(s: number, t: number): number;
  readonly lastDeadEndPeer: number;
  readonly lastDeadEndHop: number;
}

/** How a route step was taken: a retry's random hop, greedy (with look-ahead), the fallback, or back. */
export type RouteStepKind = 'random' | 'greedy' | 'fallback' | 'back';

/** Sees every step of the routes a `Router` takes (for pain snapshots, sim/scale/snapshot.ts). */
export interface RouteObserver {
  beginAttempt(start: number): void;
  step(from: number, to: number, kind: RouteStepKind): void;
  /** A local minimum of the policy at `at`. */
  deadEnd(at: number): void;
  /** The attempt gave up at `at`. */
  failed(at: number): void;
}

/** The DRP INVITE router (policy of `src/drp/policy.ts`) over a `RoutableNetwork`. */
export class Router implements PeerRouter {
  private readonly stack = new Uint32Array(routeHopsMax + 2);
  lastDeadEndHop = -1;
  lastDeadEndPeer = -1;
  /** Told of every step when set (costs nothing when null). */
  observer: RouteObserver | null = null;

  /** `rng` drives the random hops of retries; without one a failed search is final. */
  constructor(
    private readonly net: RoutableNetwork,
    private readonly policy: RoutingPolicy,
    private readonly rng: FastRng | null = null,
  ) {}

  route(s: number, t: number): number {
    this.lastDeadEndHop = -1;
    this.lastDeadEndPeer = -1;
    let total = 0;
    for (let attempt = 0; attempt < inviteAttemptsMax; attempt++) {
      let start = s;
      this.observer?.beginAttempt(s);
      for (let r = 0; r < attempt * retryRandomHops && this.rng !== null; r++) {
        const deg = this.net.degree[start]!;
        if (deg === 0) break;
        const from = start;
        start = this.net.slots[start * this.net.slotStride + this.rng.int(deg)]! & slotPeerMask;
        this.observer?.step(from, start, 'random');
        total++;
        if (start === t) return total;
      }
      const steps = this.attempt(start, t, fallbackDepthMax, routeStepsMax);
      if (steps >= 0) return total + steps;
      total += -steps - 1;
      if (!this.policy.backtrack || this.rng === null) return -1;
    }
    return -1;
  }

  /** One search; returns the steps when delivered, or −(steps + 1) when it failed. */
  private attempt(s: number, t: number, depthPastBest: number, stepsMax: number): number {
    const net = this.net;
    const coords = net.coords;
    const mark = net.marks;
    const epoch = net.nextEpoch();
    const lookAhead = this.policy.lookAhead;
    const hopCost = this.policy.lookAheadHopCost;
    const backtrack = this.policy.backtrack;
    const toff = t * dimensions;
    let depth = 0;
    let steps = 0;
    let cur = s;
    // The fallback explores at most `depthPastBest` hops past the closest peer reached so far,
    // then returns: the search stays around the local minimum, where the target almost always is.
    let bestD = distanceSquaredToPoint(coords, s, coords, toff);
    let bestDepth = 0;
    mark[cur] = epoch;
    this.stack[0] = cur;
    const observer = this.observer;
    while (cur !== t) {
      if (steps >= stepsMax) {
        observer?.failed(cur);
        return -(steps + 1);
      }
      let next = -1;
      let kind: RouteStepKind = 'greedy';
      if (depth < routeHopsMax) {
        next = inviteNextHop(net, cur, coords, toff, lookAhead, mark, epoch, false, hopCost);
        if (next < 0) {
          if (this.lastDeadEndHop < 0) {
            this.lastDeadEndHop = steps;
            this.lastDeadEndPeer = cur;
          }
          observer?.deadEnd(cur);
          if (!backtrack) {
            observer?.failed(cur);
            return -(steps + 1);
          }
          if (depth - bestDepth < depthPastBest) {
            next = inviteNextHop(net, cur, coords, toff, lookAhead, mark, epoch, true, hopCost);
            kind = 'fallback';
          }
        }
      }
      if (next >= 0) {
        observer?.step(cur, next, kind);
        mark[next] = epoch;
        depth++;
        this.stack[depth] = next;
        cur = next;
        const d = distanceSquaredToPoint(coords, cur, coords, toff);
        if (d < bestD) {
          bestD = d;
          bestDepth = depth;
        }
      } else {
        if (!backtrack || depth === 0) {
          observer?.failed(cur);
          return -(steps + 1);
        }
        depth--;
        observer?.step(cur, this.stack[depth]!, 'back');
        cur = this.stack[depth]!;
        if (bestDepth > depth) bestDepth = depth;
      }
      steps++;
    }
    return steps;
  }
}

/** Shortest-path hops from s to t by BFS (−1 if unreachable). `dist` is scratch of network size. */
export function bfsHops(net: RouteGraph, s: number, t: number, dist: Int32Array, queue: Uint32Array): number {
  if (s === t) return 0;
  if (net.undirected === true) return bidirectionalHops(net, s, t, dist, queue);
  dist.fill(-1, 0, net.count);
  let head = 0;
  let tail = 0;
  queue[tail++] = s;
  dist[s] = 0;
  const stride = net.slotStride;
  while (head < tail) {
    const u = queue[head++]!;
    const du = dist[u]!;
    const base = u * stride;
    const deg = net.degree[u]!;
    for (let j = 0; j < deg; j++) {
      const v = net.slots[base + j]! & slotPeerMask;
      if (dist[v] !== -1) continue;
      dist[v] = du + 1;
      if (v === t) return du + 1;
      queue[tail++] = v;
    }
  }
  return -1;
}

/**
 * `bfsHops` on an undirected graph, searching from both ends: whole levels of the smaller frontier are
 * expanded, and the first edge found between the two searches closes a shortest path (every edge that
 * joins them during the first level that finds one gives the same length). Two searches of half the
 * depth visit a small fraction of what one search does. `dist` must be all 0 on entry and is left so: +(d + 1) marks a peer reached from s at
 * distance d, −(d + 1) one reached from t; the queue holds s's search from the front, t's from the back.
 */
function bidirectionalHops(
  net: RouteGraph,
  s: number,
  t: number,
  dist: Int32Array,
  queue: Uint32Array,
): number {
  const stride = net.slotStride;
  const slots = net.slots;
  const degree = net.degree;
  const n = queue.length;
  // Forward search: queue[0 .. fTail), level [fHead, fTail); backward: queue[bTail .. n), level (bTail, bHead].
  let fHead = 0;
  let fTail = 0;
  let bHead = n - 1;
  let bTail = n - 1;
  queue[fTail++] = s;
  dist[s] = 1;
  queue[bTail--] = t;
  dist[t] = -1;
  let found = -1;
  while (found < 0 && fHead < fTail && bHead > bTail) {
    if (fTail - fHead <= bHead - bTail) {
      const levelEnd = fTail;
      for (; fHead < levelEnd && found < 0; fHead++) {
        const u = queue[fHead]!;
        const du = dist[u]!;
        const base = u * stride;
        const deg = degree[u]!;
        for (let j = 0; j < deg; j++) {
          const v = slots[base + j]! & slotPeerMask;
          const dv = dist[v]!;
          if (dv > 0) continue;
          if (dv < 0) {
            found = du - dv - 1;
            break;
          }
          dist[v] = du + 1;
          queue[fTail++] = v;
        }
      }
    } else {
      const levelEnd = bTail;
      for (; bHead > levelEnd && found < 0; bHead--) {
        const u = queue[bHead]!;
        const du = dist[u]!;
        const base = u * stride;
        const deg = degree[u]!;
        for (let j = 0; j < deg; j++) {
          const v = slots[base + j]! & slotPeerMask;
          const dv = dist[v]!;
          if (dv < 0) continue;
          if (dv > 0) {
            found = dv - du - 1;
            break;
          }
          dist[v] = du - 1;
          queue[bTail--] = v;
        }
      }
    }
  }
  for (let i = 0; i < fTail; i++) dist[queue[i]!] = 0;
  for (let i = n - 1; i > bTail; i--) dist[queue[i]!] = 0;
  return found;
}

export interface RouteSampleOptions {
  readonly routes: number;
  readonly stretchSamples: number;
  /** Called every 4096 routes; return false to stop (interrupted). */
  readonly onProgress?: (done: number) => boolean;
  /** Called for each route that failed (hops < 0) or met a local minimum on the way. */
  readonly onTroubled?: (s: number, t: number, hops: number) => void;
}

/** A uniformly random alive peer. */
export function randomAlive(net: RouteGraph, rng: FastRng): number {
  for (;;) {
    const p = rng.int(net.count);
    if (net.isAlive(p)) return p;
  }
}

/** Routes `routes` sampled pairs and summarises them. */
export function sampleRoutes(
  net: RouteGraph,
  router: PeerRouter,
  coords: Uint32Array | null,
  rng: FastRng,
  opts: RouteSampleOptions,
): RouteStats {
  const hist = new Array<number>(hopHistogramBuckets).fill(0);
  const hopsList = new Uint16Array(opts.routes);
  let delivered = 0;
  let deadEnds = 0;
  let deadEndDistanceSum = 0;
  let deadEndHopSum = 0;
  let hopSum = 0;
  let done = 0;
  const unit = typicalNeighbourDistance(Math.max(net.count, 2), 1);
  const stretchEvery =
    opts.stretchSamples > 0 ? Math.max(1, Math.floor(opts.routes / opts.stretchSamples)) : 0;
  let stretchSum = 0;
  let stretchCount = 0;
  let dist: Int32Array | null = null;
  let queue: Uint32Array | null = null;
  for (let i = 0; i < opts.routes; i++) {
    if (opts.onProgress !== undefined && (i & 4095) === 0 && !opts.onProgress(i)) break;
    const s = randomAlive(net, rng);
    let t = randomAlive(net, rng);
    while (t === s && net.count > 1) t = randomAlive(net, rng);
    const hops = router.route(s, t);
    done++;
    if (opts.onTroubled !== undefined && (hops < 0 || router.lastDeadEndPeer >= 0))
      opts.onTroubled(s, t, hops);
    if (router.lastDeadEndPeer >= 0) {
      deadEnds++;
      deadEndHopSum += router.lastDeadEndHop;
      const p = router.lastDeadEndPeer;
      if (coords !== null) {
        let sum = 0;
        for (let k = 0; k < dimensions; k++) {
          const d = ((coords[t * dimensions + k]! - coords[p * dimensions + k]!) | 0) / 0x1_0000_0000;
          sum += d * d;
        }
        deadEndDistanceSum += Math.sqrt(sum) / unit;
      }
    }
    if (hops < 0) continue;
    delivered++;
    hopSum += hops;
    hopsList[delivered - 1] = Math.min(hops, 0xffff);
    hist[Math.min(hops, hopHistogramBuckets - 1)]! += 1;
    if (stretchEvery > 0 && i % stretchEvery === 0 && stretchCount < opts.stretchSamples && hops > 0) {
      dist ??= new Int32Array(net.count);
      queue ??= new Uint32Array(net.count);
      const shortest = bfsHops(net, s, t, dist, queue);
      if (shortest > 0) {
        stretchSum += hops / shortest;
        stretchCount++;
      }
    }
  }
  const sorted = hopsList.subarray(0, delivered).sort();
  const pct = (q: number): number =>
    delivered === 0 ? 0 : sorted[Math.min(delivered - 1, Math.floor(q * delivered))]!;
  return {
    routes: done,
    delivered,
    deliveredRatio: done > 0 ? delivered / done : 0,
    hopsMean: delivered > 0 ? hopSum / delivered : 0,
    hopsP50: pct(0.5),
    hopsP90: pct(0.9),
    hopsP99: pct(0.99),
    hopsMax: delivered > 0 ? sorted[delivered - 1]! : 0,
    deadEnds,
    deadEndDistanceMean: deadEnds > 0 ? deadEndDistanceSum / deadEnds : 0,
    deadEndHopMean: deadEnds > 0 ? deadEndHopSum / deadEnds : 0,
    hopHistogram: trimHistogram(hist),
    stretchMean: stretchCount > 0 ? stretchSum / stretchCount : 0,
    stretchSamples: stretchCount,
  };
}

function trimHistogram(hist: number[]): number[] {
  let last = hist.length - 1;
  while (last > 0 && hist[last] === 0) last--;
  return hist.slice(0, last + 1);
}

/** What a hop of the engine's search answers its upstream: delivered, refused (NPACK), or FAILURE. */
enum SearchResult {
  delivered,
  refusedNoRoute,
  refusedOther,
  failedNoRoute,
}

/** The engine's defaults this search plays: hop budget, tries per relay, attempts per INVITE. */
const {
  hopsMax: engineHopsMax,
  routeTriesPerHopMax,
  inviteAttemptsMax: engineAttemptsMax,
} = drpConfigDefault;

/**
 * The search the engine performs (src/drp/invite.ts), played on the model: each relay decides from what
 * it knows — its links, their advertised neighbours, the upstream neighbour's point and the requests it
 * relayed before — never from the path. Entered by progress, a relay may step one hop past a local
 * minimum; entered without progress it must reach a peer closer than its upstream or refuse; a FAILURE
 * `routeUnavailable` is retried only at the hop that stepped past a minimum; past a minimum the search
 * explores at most `inviteExplorationHops` hops, one next hop per exploring relay; the requester makes up
 * to 5 attempts through different first hops and stops after 2 exhausted searches. Steps count every
 * forward and every answer that returns a hop (a refusal or a FAILURE), as the model's backtracking does.
 */
export class EngineSearchRouter implements PeerRouter {
  lastDeadEndHop = -1;
  lastDeadEndPeer = -1;
  /** Steps of the last route, delivered or not (with absent targets: what a vain search cost). */
  steps = 0;
  private readonly seen: Uint32Array;
  private seenEpoch = 0;
  private readonly tried: Uint32Array[];

  constructor(
    private readonly net: RoutableNetwork,
    private readonly policy: RoutingPolicy,
    /** Targets never answer: what a search for a user who is offline costs. */
    private readonly targetAbsent = false,
  ) {
    this.seen = new Uint32Array(net.count);
    this.tried = Array.from({ length: engineHopsMax + 2 }, () => new Uint32Array(net.slotStride));
  }

  route(s: number, t: number): number {
    this.lastDeadEndHop = -1;
    this.lastDeadEndPeer = -1;
    this.steps = 0;
    const origin = this.tried[0]!;
    let originTried = 0;
    let searches = 0;
    for (let attempt = 0; attempt < engineAttemptsMax; attempt++) {
      this.seenEpoch = (this.seenEpoch + 1) >>> 0;
      if (this.seenEpoch === 0) {
        this.seen.fill(0);
        this.seenEpoch = 1;
      }
      const next = this.choose(s, -1, t, origin, originTried, Number.POSITIVE_INFINITY, true);
      if (next < 0) return -1;
      origin[originTried++] = next;
      this.steps++;
      // A requester at a local minimum sends its first hop exploring.
      const r = this.relay(next, s, t, engineHopsMax, this.choseFallback ? inviteExplorationHops + 1 : -1, 1);
      if (r === SearchResult.delivered) return this.steps;
      this.steps++;
      if (r === SearchResult.failedNoRoute && ++searches >= inviteSearchesMax) return -1;
    }
    return -1;
  }

  /**
   * The next hop at `x` (not among `tried[0..n)`, not `up`), as the engine's `chooseNext`: own distance
   * below `promise`; when nothing is (the reach `x` was chosen for is gone), any neighbour, as a step past
   * a local minimum; −1 if none.
   */
  private choose(
    x: number,
    up: number,
    t: number,
    tried: Uint32Array,
    n: number,
    promise: number,
    fallback: boolean,
  ): number {
    const next = this.pick(x, up, t, tried, n, promise, fallback);
    if (next >= 0 || promise === Number.POSITIVE_INFINITY || !this.policy.backtrack) return next;
    const explored = this.pick(x, up, t, tried, n, Number.POSITIVE_INFINITY, true);
    this.choseFallback = explored >= 0;
    return explored;
  }

  private pick(
    x: number,
    up: number,
    t: number,
    tried: Uint32Array,
    n: number,
    promise: number,
    fallback: boolean,
  ): number {
    this.choseFallback = false;
    const net = this.net;
    const mark = net.marks;
    const epoch = net.nextEpoch();
    if (up >= 0) mark[up] = epoch;
    for (let i = 0; i < n; i++) mark[tried[i]!] = epoch;
    const toff = t * dimensions;
    const base = x * net.slotStride;
    const deg = net.degree[x]!;
    let candidates = 0;
    for (let j = 0; j < deg; j++) {
      const m = net.slots[base + j]! & slotPeerMask;
      if (mark[m] === epoch) continue;
      if (!net.isAlive(m) || distanceSquaredToPoint(net.coords, m, net.coords, toff) >= promise)
        mark[m] = epoch;
      else candidates++;
    }
    if (candidates === 0) return -1;
    const lookAhead = this.policy.lookAhead;
    const next = inviteNextHop(net, x, net.coords, toff, lookAhead, mark, epoch, false);
    if (next >= 0 || !fallback) return next;
    if (this.lastDeadEndHop < 0) {
      this.lastDeadEndHop = this.steps;
      this.lastDeadEndPeer = x;
    }
    this.choseFallback = true;
    return inviteNextHop(net, x, net.coords, toff, lookAhead, mark, epoch, true);
  }

  /** Whether the last `choose` stepped past a local minimum (the fallback). */
  private choseFallback = false;

  /** `explore`: the request's `exploreHopsRemaining` (−1 for nil). */
  private relay(
    x: number,
    up: number,
    t: number,
    hopsRemaining: number,
    explore: number,
    depth: number,
  ): SearchResult {
    if (x === t && !this.targetAbsent) return SearchResult.delivered;
    if (!this.net.isAlive(x)) return SearchResult.refusedOther;
    if (this.seen[x] === this.seenEpoch) return SearchResult.refusedOther;
    if (hopsRemaining <= 1) return SearchResult.refusedOther;
    if (explore >= 0 && explore <= 1) return SearchResult.refusedNoRoute;
    const coords = this.net.coords;
    const toff = t * dimensions;
    const dx = distanceSquaredToPoint(coords, x, coords, toff);
    const dup = distanceSquaredToPoint(coords, up, coords, toff);
    const exploring = explore >= 0;
    const promise = dx >= dup && !exploring ? dup : Number.POSITIVE_INFINITY;
    const tried = this.tried[depth]!;
    let n = 0;
    const fallback = (dx < dup || exploring) && this.policy.backtrack;
    let next = this.choose(x, up, t, tried, n, promise, fallback);
    const atMinimum = this.choseFallback || exploring;
    if (next < 0) return SearchResult.refusedNoRoute;
    this.seen[x] = this.seenEpoch;
    const forwardExplore = exploring ? explore - 1 : this.choseFallback ? inviteExplorationHops + 1 : -1;
    for (;;) {
      tried[n++] = next;
      this.steps++;
      const r = this.relay(next, x, t, hopsRemaining - 1, forwardExplore, depth + 1);
      if (r === SearchResult.delivered) return r;
      this.steps++;
      if (r === SearchResult.failedNoRoute && !atMinimum) return r;
      if (n >= (exploring ? 1 : routeTriesPerHopMax)) return SearchResult.failedNoRoute;
      next = this.choose(x, up, t, tried, n, promise, fallback);
      if (next < 0) return SearchResult.failedNoRoute;
    }
  }
}
