/**
 * DRP Tester 4: the routing sandbox (regID space only, no packets), on the scale model.
 *
 * The original's Tester 4 grew a graph in memory and routed over it. Here its phases run on the scale
 * model with the shared routing policy:
 *  1. existing peers: `existingPeers` join; routes between random existing peers; empty sectors;
 *  2. new peers: `newPeers` more join; routes from new peers to random peers and back;
 *  3. neighbour stability: `rejoins` random peers leave and join again at the same point; the share
 *     of each rejoined peer's new neighbours that it had before.
 * Seeded: the same options give the same report.
 */
import type { Command } from 'commander';
import { countOption, defaultSeed, formatTable } from '../sim/cli/args.js';
import { SeededRng } from '../sim/kernel/rng.js';
import { FastRng } from '../sim/scale/fast-rng.js';
import { joinParamsFor, ScaleNetwork } from '../sim/scale/model.js';
import { Router } from '../sim/scale/routes.js';
import { routingPolicyDefault } from '../src/drp/policy.js';
import { sectorCount } from '../src/id/sectors.js';

export interface Tester4Options {
  readonly existingPeers: number;
  readonly newPeers: number;
  readonly routes: number;
  readonly rejoins: number;
  readonly neighbors: number;
  readonly seed: string;
}

export interface PhaseRoutes {
  routes: number;
  deliveredRatio: number;
  hopsMean: number;
  hopsMax: number;
}

export interface Tester4Report {
  tester: 4;
  seed: string;
  options: Tester4Options;
  existing: PhaseRoutes & {
    peers: number;
    neighborsMean: number;
    emptySectorsMean: number;
    peersWithEmptySectorShare: number;
  };
  newcomers: PhaseRoutes & { peers: number; fromNew: PhaseRoutes; toNew: PhaseRoutes };
  stability: { rejoins: number; keptNeighborShareMean: number; keptNeighborShareMin: number };
}

export function tester4OptionsDefault(over: Partial<Tester4Options> = {}): Tester4Options {
  return {
    existingPeers: 10_000,
    newPeers: 1_000,
    routes: 5_000,
    rejoins: 200,
    neighbors: 13,
    seed: '1',
    ...over,
  };
}

function routeSet(router: Router, count: number, pick: () => [number, number]): PhaseRoutes {
  let delivered = 0;
  let hopSum = 0;
  let hopsMax = 0;
  for (let i = 0; i < count; i++) {
    const [s, t] = pick();
    const h = router.route(s, t);
    if (h < 0) continue;
    delivered++;
    hopSum += h;
    if (h > hopsMax) hopsMax = h;
  }
  return {
    routes: count,
    deliveredRatio: count > 0 ? delivered / count : 0,
    hopsMean: delivered > 0 ? Math.round((hopSum / delivered) * 1e4) / 1e4 : 0,
    hopsMax,
  };
}

function merge(a: PhaseRoutes, b: PhaseRoutes): PhaseRoutes {
  const routes = a.routes + b.routes;
  const da = a.deliveredRatio * a.routes;
  const db = b.deliveredRatio * b.routes;
  return {
    routes,
    deliveredRatio: routes > 0 ? (da + db) / routes : 0,
    hopsMean: da + db > 0 ? Math.round(((a.hopsMean * da + b.hopsMean * db) / (da + db)) * 1e4) / 1e4 : 0,
    hopsMax: Math.max(a.hopsMax, b.hopsMax),
  };
}

export function runTester4(opts: Tester4Options): Tester4Report {
  const root = new SeededRng(opts.seed);
  const policy = routingPolicyDefault;
  const total = opts.existingPeers + opts.newPeers;
  const net = new ScaleNetwork(total, joinParamsFor(opts.neighbors, policy), new FastRng(root.fork('build')));
  net.prepare(total);
  for (let i = 0; i < opts.existingPeers; i++) net.joinNext();
  const router = new Router(net, policy, new FastRng(root.fork('retries')));
  const pick = new FastRng(root.fork('pairs'));
  const joinedPeer = (from: number, to: number): number => net.joinOrder[from + pick.int(to - from)]!;
  const distinctPair = (a: () => number, b: () => number): [number, number] => {
    const s = a();
    let t = b();
    while (t === s) t = b();
    return [s, t];
  };

  // Phase 1: existing peers.
  const existingRoutes = routeSet(router, opts.routes, () =>
    distinctPair(
      () => joinedPeer(0, opts.existingPeers),
      () => joinedPeer(0, opts.existingPeers),
    ),
  );
  let emptySum = 0;
  let withEmpty = 0;
  let degreeSum = 0;
  for (let i = 0; i < opts.existingPeers; i++) {
    const p = net.joinOrder[i]!;
    let busy = 0;
    for (let s = 0; s < sectorCount; s++) busy += (net.busy[p]! >>> s) & 1;
    emptySum += sectorCount - busy;
    if (busy < sectorCount) withEmpty++;
    degreeSum += net.degree[p]!;
  }

  // Phase 2: newcomers join and are routed to and from.
  for (let i = 0; i < opts.newPeers; i++) net.joinNext();
  const half = Math.floor(opts.routes / 2);
  const fromNew = routeSet(router, half, () =>
    distinctPair(
      () => joinedPeer(opts.existingPeers, total),
      () => joinedPeer(0, total),
    ),
  );
  const toNew = routeSet(router, opts.routes - half, () =>
    distinctPair(
      () => joinedPeer(0, total),
      () => joinedPeer(opts.existingPeers, total),
    ),
  );

  // Phase 3: neighbour stability after a rejoin at the same point.
  let keptSum = 0;
  let keptMin = 1;
  let rejoined = 0;
  for (let i = 0; i < opts.rejoins; i++) {
    const p = joinedPeer(0, total);
    const before = new Set<number>();
    for (let j = 0; j < net.degree[p]!; j++) before.add(net.slots[p * net.slotStride + j]! & 0x7fff_ffff);
    net.leave(p);
    net.join(p);
    const deg = net.degree[p]!;
    if (deg === 0) continue;
    let kept = 0;
    for (let j = 0; j < deg; j++) if (before.has(net.slots[p * net.slotStride + j]! & 0x7fff_ffff)) kept++;
    const share = kept / deg;
    keptSum += share;
    keptMin = Math.min(keptMin, share);
    rejoined++;
  }

  const newRoutes = merge(fromNew, toNew);
  return {
    tester: 4,
    seed: opts.seed,
    options: opts,
    existing: {
      peers: opts.existingPeers,
      neighborsMean: Math.round((degreeSum / Math.max(1, opts.existingPeers)) * 1e4) / 1e4,
      emptySectorsMean: Math.round((emptySum / Math.max(1, opts.existingPeers)) * 1e4) / 1e4,
      peersWithEmptySectorShare: Math.round((withEmpty / Math.max(1, opts.existingPeers)) * 1e4) / 1e4,
      ...existingRoutes,
    },
    newcomers: { peers: opts.newPeers, ...newRoutes, fromNew, toNew },
    stability: {
      rejoins: rejoined,
      keptNeighborShareMean: rejoined > 0 ? Math.round((keptSum / rejoined) * 1e4) / 1e4 : 0,
      keptNeighborShareMin: rejoined > 0 ? Math.round(keptMin * 1e4) / 1e4 : 0,
    },
  };
}

export function formatTester4(r: Tester4Report): string {
  const pct = (x: number): string => (x * 100).toFixed(2);
  return [
    formatTable(
      ['phase', 'peers', 'routes', 'delivered %', 'hops mean', 'hops max'],
      [
        [
          'existing peers',
          r.existing.peers,
          r.existing.routes,
          pct(r.existing.deliveredRatio),
          r.existing.hopsMean.toFixed(2),
          r.existing.hopsMax,
        ],
        [
          'new → any',
          r.newcomers.peers,
          r.newcomers.fromNew.routes,
          pct(r.newcomers.fromNew.deliveredRatio),
          r.newcomers.fromNew.hopsMean.toFixed(2),
          r.newcomers.fromNew.hopsMax,
        ],
        [
          'any → new',
          r.newcomers.peers,
          r.newcomers.toNew.routes,
          pct(r.newcomers.toNew.deliveredRatio),
          r.newcomers.toNew.hopsMean.toFixed(2),
          r.newcomers.toNew.hopsMax,
        ],
      ],
    ),
    `neighbours mean ${r.existing.neighborsMean}; empty sectors per peer ${r.existing.emptySectorsMean} ` +
      `(${pct(r.existing.peersWithEmptySectorShare)}% of peers have one)`,
    `neighbour stability after ${r.stability.rejoins} rejoins: ${pct(r.stability.keptNeighborShareMean)}% of neighbours kept ` +
      `(min ${pct(r.stability.keptNeighborShareMin)}%)`,
    `seed ${r.seed}`,
  ].join('\n');
}

/** `drp-tester 4 [--peers N] [--new-peers M] [--routes R] [--rejoins K] [--seed S] [--json]`. */
export function registerTester4Command(program: Command): void {
  program
    .command('4')
    .description('routing sandbox on the scale model: existing peers, newcomers, neighbour stability')
    .option('--peers <n>', 'existing peers', countOption('--peers', 2, 1e8), 10_000)
    .option('--new-peers <n>', 'peers joining afterwards', countOption('--new-peers', 1, 1e7), 1_000)
    .option('--routes <n>', 'routes per phase', countOption('--routes', 1, 1e7), 5_000)
    .option('--rejoins <n>', 'peers that leave and rejoin', countOption('--rejoins', 0, 1e6), 200)
    .option('--neighbors <n>', 'target neighbours', countOption('--neighbors', 2, 61), 13)
    .option('--seed <seed>', 'root seed')
    .option('--json', 'print the report as one JSON object')
    .action(
      (flags: {
        peers: number;
        newPeers: number;
        routes: number;
        rejoins: number;
        neighbors: number;
        seed?: string;
        json?: boolean;
      }) => {
        const seed = flags.seed ?? defaultSeed();
        const report = runTester4(
          tester4OptionsDefault({
            existingPeers: flags.peers,
            newPeers: flags.newPeers,
            routes: flags.routes,
            rejoins: flags.rejoins,
            neighbors: flags.neighbors,
            seed,
          }),
        );
        process.stdout.write(
          flags.json === true ? `${JSON.stringify(report)}\n` : `${formatTester4(report)}\n`,
        );
      },
    );
}
