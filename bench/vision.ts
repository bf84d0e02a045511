/**
 * `npm run bench -- vision [--peers 10000] [--json]`: the visualizer with a large snapshot in headless
 * Chromium (Debian's, /usr/bin/chromium, software WebGL). A network of `--peers` peers is grown by the
 * scale model's join process (sim/scale: the engine's join, 13 neighbours), a greedy INVITE route through
 * it is recorded as a pain snapshot, and the trace is served by `drp-sim vision`'s server.
 *
 * Figures: `loadMs` (the page decoding the trace and building the scene, from its debug state),
 * `pageReadyMs` (navigation to ready, wall), `framesPerSec` (frames while the camera orbits the whole
 * network for 3 s with the route selected; a network this large is drawn without its links while the
 * camera moves, vision/scene.ts), `renderMsPerFrame` (one render waited for with a pixel
 * read), `traceBytes`, peers, links and links drawn (with software rendering, as here, vision/model.ts caps
 * drawn links: software GL lines are slow; `softwareRendering` says which case was measured). Baseline in the same run:
 * `emptyFramesPerSec`, the same page orbiting an empty scene, so the ratio says what the network costs.
 * No assertion on time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { SeededRng } from '../sim/kernel/rng.js';
import { FastRng } from '../sim/scale/fast-rng.js';
import { joinParamsFor, ScaleNetwork } from '../sim/scale/model.js';
import { scaleOptionsDefault } from '../sim/scale/run.js';
import { modelSnapshot, traceRoute } from '../sim/scale/snapshot.js';
import { visionAssetsDir } from '../sim/vision/cli.js';
import { startVisionServer } from '../sim/vision/server.js';
import { type PainSnapshot, snapshotItemFields, traceItemKindSnapshot } from '../src/vision/snapshot.js';
import { MemoryTraceSink, traceHeader } from '../src/vision/trace.js';
import type { BenchFigures, BenchOptions } from './lib.js';

function argValue(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** A snapshot of all `peers` peers grown by the scale model, with one routed pair as its pain. */
export function scaleSnapshot(peers: number, seed = 'bench-vision'): PainSnapshot {
  const opts = scaleOptionsDefault({ peers, seed });
  const params = joinParamsFor(opts.neighbors, opts.policy, opts.join);
  const net = new ScaleNetwork(peers, params, new FastRng(new SeededRng(seed).fork('build')));
  net.prepare(peers);
  for (let i = 0; i < peers; i++) net.joinNext();
  const rng = new SeededRng(seed).fork('route');
  const source = rng.int(peers);
  const target = rng.int(peers);
  const traced = traceRoute(net, opts.policy, null, source, target);
  return modelSnapshot(net, source, target, traced, {
    peersMax: peers,
    neighbourhoodHops: 0,
    number: 1,
    faults: [],
    entryPeers: 0,
  });
}

export async function run(opts: BenchOptions): Promise<BenchFigures> {
  const peers = argValue(opts.args, '--peers', 10_000);
  const snapshot = scaleSnapshot(peers);
  const sink = new MemoryTraceSink(1 << 30);
  sink.writeHeader(traceHeader('bench-vision', { scenario: 'bench-vision', peers }, {}));
  sink.writeItem(traceItemKindSnapshot, snapshotItemFields(snapshot));
  sink.close();
  const dir = mkdtempSync(join(tmpdir(), 'dcomms-bench-vision-'));
  const file = join(dir, 'bench.trace');
  writeFileSync(file, sink.bytes());
  const server = await startVisionServer({ port: 0, assetsDir: visionAssetsDir, reportsDir: dir, files: [] });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const ready = (): Promise<unknown> =>
      page.waitForFunction(
        () => {
          const v = (globalThis as unknown as { __vision?: { status: string } }).__vision;
          return v?.status === 'ready' || v?.status === 'error';
        },
        null,
        { timeout: 120_000 },
      );
    // Baseline: the page with no trace (an empty scene).
    await page.goto(`${server.url}#trace=none`);
    await page.waitForFunction(
      () => (globalThis as unknown as { __vision?: unknown }).__vision !== undefined,
    );
    const emptyFps = await page.evaluate(() =>
      (
        globalThis as unknown as { __vision: { measureFps: (ms: number) => Promise<number> } }
      ).__vision.measureFps(2000),
    );
    const t0 = Date.now();
    await page.goto(`${server.url}#trace=bench.trace`);
    await page.reload();
    await ready();
    const pageReadyMs = Date.now() - t0;
    const state = await page.evaluate(async () => {
      const v = (
        globalThis as unknown as {
          __vision: {
            status: string;
            error: string | null;
            loadMs: number;
            peers: number;
            links: number;
            linksDrawn: number;
            softwareRendering: boolean;
            routeHops: number;
            renderMs: (n: number) => number;
            selectPain: (n: number) => void;
            measureFps: (ms: number) => Promise<number>;
            drawCalls: () => number;
          };
        }
      ).__vision;
      v.selectPain(1);
      await new Promise((r) => setTimeout(r, 800));
      const fps = await v.measureFps(3000);
      const renderMs = v.renderMs(5);
      return {
        renderMs,
        linksDrawn: v.linksDrawn,
        softwareRendering: v.softwareRendering,
        status: v.status,
        error: v.error,
        loadMs: v.loadMs,
        peers: v.peers,
        links: v.links,
        routeHops: v.routeHops,
        fps,
        drawCalls: v.drawCalls(),
      };
    });
    if (state.status !== 'ready')
      throw new Error(`the page did not load the trace: ${state.error ?? state.status}`);
    return {
      peers: state.peers,
      links: state.links,
      linksDrawn: state.linksDrawn,
      softwareRendering: state.softwareRendering,
      routeHops: state.routeHops,
      traceBytes: sink.byteLength,
      loadMs: Math.round(state.loadMs),
      pageReadyMs,
      framesPerSec: Math.round(state.fps * 10) / 10,
      renderMsPerFrame: Math.round(state.renderMs),
      emptyFramesPerSec: Math.round(emptyFps * 10) / 10,
      drawCalls: state.drawCalls,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}
