/**
 * The visualizer in Debian's Chromium (headless, through playwright-core): loads the committed sample
 * trace from `drp-sim vision`'s server, checks the scene through the page's debug state (`window.__vision`),
 * selects the first pain and checks its route is drawn and its per-hop table filled, and saves a
 * screenshot under reports/; shows a scale-model trace (a route's neighbourhood in a larger network). A
 * corrupt trace must give a message on the page, not a blank screen.
 *
 * Needs /usr/bin/chromium (`.ci/run` installs it); outside CI the test is skipped when it is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeScaleTrace } from '../sim/scale/cli.js';
import { runScale, scaleOptionsDefault } from '../sim/scale/run.js';
import { startVisionServer, type VisionServer } from '../sim/vision/server.js';
import { type PainSnapshot, readVisionTrace } from '../src/vision/snapshot.js';

const root = join(import.meta.dirname, '..');
const chromiumPath = '/usr/bin/chromium';
const assetsDir = join(root, 'dist', 'vision');
const samplePath = join(root, 'reports', 'samples', 'cutoff-invite.trace');
const haveChromium = existsSync(chromiumPath);

/** Launch flags for headless Chromium as root, with software WebGL. */
export const chromiumArgs = ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

interface DebugState {
  status: string;
  error: string | null;
  pains: number;
  peers: number;
  links: number;
  routeHops: number;
  routeSegments: number;
  routeHighlighted: boolean;
  hopTableRows: number;
  recordsListed: number;
  selectedPain: number | null;
  linksDrawn: number;
  softwareRendering: boolean;
}

async function debugState(page: Page): Promise<DebugState> {
  return page.evaluate(() => {
    const v = (globalThis as unknown as { __vision: DebugState }).__vision;
    return JSON.parse(JSON.stringify(v)) as DebugState;
  });
}

async function settled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const v = (globalThis as unknown as { __vision?: { status: string } }).__vision;
      return v?.status === 'ready' || v?.status === 'error';
    },
    null,
    { timeout: 30_000 },
  );
}

describe.skipIf(!haveChromium && process.env.CI === undefined)('the visualizer in Chromium', () => {
  let server: VisionServer;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'dcomms-vision-browser-'));

  beforeAll(async () => {
    if (!existsSync(join(assetsDir, 'index.html'))) {
      execFileSync('npx', ['vite', 'build', '--config', 'vision/vite.config.ts'], {
        cwd: root,
        stdio: 'inherit',
      });
    }
    const corrupt = Buffer.from(readFileSync(samplePath));
    corrupt.fill(0x5a, 2000, 2100);
    writeFileSync(join(dir, 'corrupt.trace'), corrupt);
    writeFileSync(join(dir, 'junk.trace'), 'this is not a trace');
    // A scale-model trace: 3,000 peers, plain greedy, its first failed route and the route's neighbourhood.
    const opts = scaleOptionsDefault({ peers: 3000, routes: 2000, seed: 'browser' });
    const plain = { ...opts, policy: { ...opts.policy, lookAhead: false, backtrack: false } };
    const snaps: PainSnapshot[] = [];
    runScale(plain, { snapshots: { max: 1, peersMax: 500, onSnapshot: (x) => snaps.push(x) } });
    writeScaleTrace(join(dir, 'scale.trace'), 'browser', plain, 'drp-sim --peers 3000 --seed browser', snaps);
    server = await startVisionServer({
      port: 0,
      assetsDir,
      reportsDir: join(root, 'reports', 'samples'),
      files: [join(dir, 'corrupt.trace'), join(dir, 'junk.trace'), join(dir, 'scale.trace')],
    });
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the sample trace: peers, links, the first pain route and its hop table', async () => {
    const expected = readVisionTrace(new Uint8Array(readFileSync(samplePath)));
    if (!expected.ok) throw new Error(expected.message);
    const first = expected.snapshots[0]!;
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}#trace=${encodeURIComponent(server.nameOf(samplePath) ?? '')}`);
    await settled(page);
    let v = await debugState(page);
    expect(v.error).toBeNull();
    expect(v.status).toBe('ready');
    expect(v.pains).toBe(expected.snapshots.length);
    expect(v.peers).toBe(first.peers.length);
    const links = new Set<string>();
    first.peers.forEach((p, i) => {
      for (const j of p.neighbours) links.add(i < j ? `${i}-${j}` : `${j}-${i}`);
    });
    expect(v.links).toBe(links.size);
    expect(v.linksDrawn).toBe(links.size);
    // Headless Chromium here rasterizes with SwiftShader: the page knows (it samples the links of large networks).
    expect(v.softwareRendering).toBe(true);
    expect(v.routeHighlighted).toBe(false);

    await page.locator('#pains li').first().click();
    await page.waitForFunction(
      () => (globalThis as unknown as { __vision: DebugState }).__vision.selectedPain === 1,
    );
    v = await debugState(page);
    expect(v.routeHops).toBe(first.route!.hops.length);
    expect(v.routeHighlighted).toBe(true);
    expect(v.routeSegments).toBe(
      first.route!.hops.filter((h) => h.peer >= 0 && h.chosenPeer >= 0 && h.peer !== h.chosenPeer).length,
    );
    expect(v.hopTableRows).toBe(first.route!.hops.length);
    expect(await page.locator('.route-table tbody tr').count()).toBe(first.route!.hops.length);
    expect(await page.locator('#pains li.selected').count()).toBe(1);
    expect(v.recordsListed).toBeGreaterThan(0);
    // The slider steps through the records and names the one it is on.
    await page.locator('#slider').fill('0');
    expect(await page.locator('#step').textContent()).toMatch(/^record 1 of \d+/);
    await page.waitForTimeout(800); // the camera's move to the route
    mkdirSync(join(root, 'reports'), { recursive: true });
    await page.screenshot({ path: join(root, 'reports', 'vision-sample.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows a scale-model trace: the route's neighbourhood, what was left out, the route", async () => {
    const expected = readVisionTrace(new Uint8Array(readFileSync(join(dir, 'scale.trace'))));
    if (!expected.ok) throw new Error(expected.message);
    const first = expected.snapshots[0]!;
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}#trace=${encodeURIComponent('file/scale.trace')}`);
    await settled(page);
    let v = await debugState(page);
    expect(v.error).toBeNull();
    expect(v.peers).toBe(first.peers.length);
    expect(first.peersTotal).toBeGreaterThan(first.peers.length);
    expect(await page.locator('#netinfo').textContent()).toMatch(
      new RegExp(`${first.peersTotal - first.peers.length} more left out`),
    );
    await page.locator('#pains li').first().click();
    await page.waitForFunction(
      () => (globalThis as unknown as { __vision: DebugState }).__vision.selectedPain === 1,
    );
    v = await debugState(page);
    expect(v.routeHighlighted).toBe(true);
    expect(v.hopTableRows).toBe(first.route!.hops.length);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('a corrupt or foreign trace gives a clear message on the page, not a blank screen', async () => {
    for (const [file, message] of [
      ['corrupt.trace', /corrupt at byte \d+/],
      ['junk.trace', /not a dcomms trace/],
    ] as const) {
      const page = await browser.newPage();
      await page.goto(`${server.url}#trace=${encodeURIComponent(`file/${file}`)}`);
      await settled(page);
      const v = await debugState(page);
      expect(v.status).toBe('error');
      expect(v.error).toMatch(message);
      expect(await page.locator('#banner').textContent()).toMatch(message);
      expect(await page.locator('#banner').isVisible()).toBe(true);
      await page.close();
    }
  }, 60_000);
});
