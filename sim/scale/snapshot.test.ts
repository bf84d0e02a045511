import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { routeHopsMax } from '../../src/drp/policy.js';
import { AttentionLevel } from '../../src/vision/attention.js';
import { type PainSnapshot, readVisionTrace } from '../../src/vision/snapshot.js';
import { UsageError } from '../cli/args.js';
import { registerScaleCommand } from './cli.js';
import { runScale, scaleOptionsDefault, stripTimings } from './run.js';

function checkShape(s: PainSnapshot): void {
  const n = s.peers.length;
  for (const p of s.peers) {
    expect(p.point).toHaveLength(8);
    for (const j of p.neighbours) expect(j >= 0 && j < n).toBe(true);
  }
  const r = s.route!;
  expect(r.source).toBeGreaterThanOrEqual(0);
  expect(r.targetPeer).toBeGreaterThanOrEqual(0);
  expect(r.hops.length).toBeGreaterThan(0);
  expect(r.hops[0]!.decision).toBe('INVITE sent');
  expect(r.hops[0]!.hopsRemaining).toBe(routeHopsMax);
  // Each forwarding step spends one hop of the budget: the second row of a route is one hop deeper.
  if (r.hops[1]?.decision === 'INVITE forwarded') expect(r.hops[1].hopsRemaining).toBe(routeHopsMax - 1);
  for (const h of r.hops) {
    expect(h.peer).toBeGreaterThanOrEqual(0);
    expect(h.considered.length).toBeGreaterThan(0);
  }
}

describe('pain snapshots of the scale model', () => {
  const base = scaleOptionsDefault({ peers: 3000, routes: 3000, seed: 'scale-snapshots' });

  it('a failed route (plain greedy) is a strong pain: the route to its local minimum, its neighbourhood', () => {
    const snaps: PainSnapshot[] = [];
    const plain = { ...base, policy: { ...base.policy, lookAhead: false, backtrack: false } };
    const r = runScale(plain, { snapshots: { max: 3, peersMax: 400, onSnapshot: (s) => snaps.push(s) } });
    expect(r.deliveredRatio).toBeLessThan(1);
    expect(snaps.map((s) => s.number)).toEqual([1, 2, 3]);
    for (const s of snaps) {
      expect(s.pain.level).toBe(AttentionLevel.strongPain);
      expect(s.pain.message).toBe('INVITE failed: no route');
      expect(s.peersTotal).toBe(3000);
      expect(s.selection).toBe('routeNeighbourhood');
      expect(s.peers.length).toBeLessThanOrEqual(400);
      checkShape(s);
      const last = s.route!.hops.at(-1)!;
      expect(last.decision).toMatch(/failed/);
      // Plain greedy stops where no neighbour is closer: every candidate is at least as far as the peer.
      expect(Math.min(...last.considered.map((c) => c.distance))).toBeGreaterThanOrEqual(last.distance);
    }
  });

  it('with the default policy nothing fails: routes that met a local minimum are light pains', () => {
    const snaps: PainSnapshot[] = [];
    const r = runScale(base, { snapshots: { max: 2, peersMax: 5000, onSnapshot: (s) => snaps.push(s) } });
    expect(r.deliveredRatio).toBe(1);
    expect(snaps).toHaveLength(2);
    for (const s of snaps) {
      expect(s.pain.level).toBe(AttentionLevel.lightPain);
      expect(s.pain.message).toMatch(/^INVITE met \d+ local minim(um|a), delivered after \d+ hops$/);
      expect(s.selection).toBe('all');
      checkShape(s);
      expect(s.route!.hops.some((h) => /local minimum/.test(h.decision))).toBe(true);
    }
  });

  it('taking snapshots changes nothing in the run', () => {
    const plain = { ...base, policy: { ...base.policy, backtrack: false } };
    const without = JSON.stringify(stripTimings(runScale(plain)));
    const withSnaps = JSON.stringify(
      stripTimings(runScale(plain, { snapshots: { max: 4, onSnapshot: () => {} } })),
    );
    expect(withSnaps).toBe(without);
  });

  it('drp-sim --trace writes a trace the visualizer reads, with the command that rebuilds the run', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scale-trace-')), 'scale.trace');
    const program = new Command('drp-sim').exitOverride();
    registerScaleCommand(program);
    const write = process.stdout.write;
    const writeErr = process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await program.parseAsync([
        'node',
        'drp-sim',
        '--peers',
        '2000',
        '--routes',
        '2000',
        '--seed',
        't',
        '--no-backtrack',
        '--trace',
        path,
      ]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    const t = readVisionTrace(new Uint8Array(readFileSync(path)));
    if (!t.ok) throw new Error(t.message);
    expect(t.header.config.scenario).toBe('scale');
    expect(String(t.header.config.rerun)).toMatch(
      /^drp-sim --peers 2000 --topology 8d .*--no-backtrack --seed t --trace /,
    );
    expect(t.snapshots.length).toBeGreaterThan(0);
    expect(t.snapshots.length).toBeLessThanOrEqual(5);
    checkShape(t.snapshots[0]!);
  });

  it('--trace on a baseline topology is a one-line error', () => {
    const program = new Command('drp-sim').exitOverride();
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerScaleCommand(program);
    expect(() =>
      program.parse(['node', 'drp-sim', '--topology', 'chord', '--trace', '/tmp/x.trace']),
    ).toThrow(UsageError);
  });
});
