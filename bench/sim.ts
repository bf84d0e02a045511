/**
 * `npm run bench -- sim [--peers N]... [--minutes M] [--json]`: DRP Tester 3 on the simulator at scale —
 * how many simulated seconds one wall second buys (`simSecondsPerWallSecond`), and the process's peak
 * resident memory. `simSecondsPerWallSecond` covers the whole run (joins, warm-up, measured phase, drain);
 * `measuredSimSecondsPerWallSecond` the measured phase alone (every user joined, INVITEs flowing, churn).
 * Default: 1,000 users for 10 simulated minutes (after their join and warm-up); pass
 * `--peers 10000` for the large run (wall time and memory are what it measures there). The baseline in the
 * same run is the simulator carrying the same number of datagrams with no protocol work
 * (`bareKernelDatagramsPerSec`: kernel events through the network model), so the ratio says what the
 * protocol costs over moving packets.
 */

import { applySimulatorHeapPolicy } from '../sim/heap-policy.js';
import { Kernel } from '../sim/kernel/kernel.js';
import { SimNetwork } from '../sim/network/network.js';
import { runTester3, tester3Defaults } from '../testers/tester3.js';
import type { BenchFigures, BenchOptions } from './lib.js';

function argValues(args: readonly string[], name: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < args.length; i++)
    if (args[i] === name && args[i + 1] !== undefined) out.push(Number(args[i + 1]));
  return out.filter((x) => Number.isFinite(x) && x > 0);
}

/** Datagrams per wall second through the bare network model (no engines), 200 open hosts. */
function bareNetwork(datagrams: number): number {
  const k = new Kernel({ seed: 'bench-sim' });
  const net = new SimNetwork(k, { link: { lossRate: 0.02, jitterMeanMs: 20 } });
  const hosts = Array.from({ length: 200 }, () => net.bind(net.addHost({}), 42777));
  let received = 0;
  for (const t of hosts) t.onDatagram(() => received++);
  const payload = new Uint8Array(120);
  const kind = k.kind('bench.send');
  let sent = 0;
  const tick = (): void => {
    for (let i = 0; i < 100 && sent < datagrams; i++, sent++) {
      const a = hosts[sent % hosts.length]!;
      const b = hosts[(sent * 7 + 3) % hosts.length]!;
      a.send(b.local, payload);
    }
    if (sent < datagrams) k.after(1, kind, 0, 0, tick);
  };
  k.after(0, kind, 0, 0, tick);
  const start = performance.now();
  k.run();
  return datagrams / ((performance.now() - start) / 1000);
}

export async function run(opts: BenchOptions): Promise<BenchFigures> {
  applySimulatorHeapPolicy();
  const peersList = argValues(opts.args, '--peers');
  const minutes = argValues(opts.args, '--minutes')[0] ?? 10;
  const figures: BenchFigures = {};
  for (const peers of peersList.length > 0 ? peersList : [1000]) {
    const startedMs = performance.now();
    const measuredWallMs = { start: 0, end: 0 };
    const r = await runTester3({
      transport: 'sim',
      seed: `bench-${peers}`,
      ...tester3Defaults,
      entryPeers: Math.max(8, Math.round(peers / 100)),
      users: peers,
      minutes,
      onMeasuredPhase: (edge) => {
        measuredWallMs[edge] = performance.now();
      },
      ...(opts.json ? {} : { onProgress: (t: string) => void process.stderr.write(`${t}\n`) }),
    });
    const wallSeconds = (performance.now() - startedMs) / 1000;
    const sim = r.simulatedSeconds ?? 0;
    figures[`peers${peers}`] = {
      peers,
      simulatedSeconds: sim,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
      simSecondsPerWallSecond: Math.round((sim / wallSeconds) * 100) / 100,
      measuredSimSecondsPerWallSecond:
        Math.round(((minutes * 60) / ((measuredWallMs.end - measuredWallMs.start) / 1000)) * 100) / 100,
      deliveredRatio: r.deliveredRatio,
      rssBytes: process.memoryUsage().rss,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  }
  figures.bareKernelDatagramsPerSec = Math.round(bareNetwork(1_000_000));
  const first = Object.values(figures)[0] as Record<string, number>;
  figures.simSecondsPerWallSecond = first.simSecondsPerWallSecond;
  figures.measuredSimSecondsPerWallSecond = first.measuredSimSecondsPerWallSecond;
  figures.rssBytes = first.maxRssBytes;
  return figures;
}
