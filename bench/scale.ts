/**
 * `npm run bench -- scale [--json] [--peers 1e6] [--routes 1e5] [--seed S]`: builds the DRP 8-D network
 * by the join process and routes sampled pairs (`drp-sim --peers 1e6 --topology 8d`), then routes the
 * same number of pairs on a Chord ring of the same size as the baseline measured in the same run.
 * Reports the run's figures, the baseline's, and their ratio; asserts nothing.
 */
import { parseCount } from '../sim/cli/args.js';
import { mooreBoundHops } from '../sim/scale/report.js';
import { runScale, scaleOptionsDefault } from '../sim/scale/run.js';
import { type BenchFigures, type BenchOptions, round3 } from './lib.js';

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function run(opts: BenchOptions): Promise<BenchFigures> {
  const peers = parseCount('--peers', flag(opts.args, '--peers') ?? '1e6', 2, 2 ** 31 - 1);
  const routes = parseCount('--routes', flag(opts.args, '--routes') ?? '1e5', 1, 1e8);
  const seed = flag(opts.args, '--seed') ?? '1';
  const drp = runScale(scaleOptionsDefault({ peers, routes, seed, topology: '8d' }));
  const chord = runScale(scaleOptionsDefault({ peers, routes, seed, topology: 'chord' }));
  const moore = mooreBoundHops(peers, Math.round(drp.neighborsMean));
  return {
    peers: drp.peers,
    neighborsMean: drp.neighborsMean,
    routes: drp.routes,
    deliveredRatio: drp.deliveredRatio,
    hopsMean: drp.hopsMean,
    hopsP99: drp.hopsP99,
    buildSeconds: drp.buildSeconds,
    routeSeconds: drp.routeSeconds,
    rssBytes: drp.rssBytes,
    bytesPerPeer: drp.bytesPerPeer,
    mooreBoundHops: round3(moore),
    hopsGoal: round3(1.5 * moore),
    baselineChordStatePerPeer: chord.statePerPeer,
    baselineChordHopsMean: chord.hopsMean,
    baselineChordBuildSeconds: chord.buildSeconds,
    hopsRatioVsChord: round3(drp.hopsMean / chord.hopsMean),
  };
}
