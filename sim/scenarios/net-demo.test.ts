import { describe, expect, it } from 'vitest';
import { checkDeterminism, describeDivergence } from '../kernel/determinism.js';
import { buildNetDemo, netDemoDefaults, runNetDemo } from './net-demo.js';

const replay = (seed: string): string =>
  `replay: node dist/sim/cli.js net-demo --hosts 220 --minutes 1 --seed ${seed} --check-determinism`;

describe('net-demo: 220 hosts through NATs with loss and jitter', () => {
  const opts = { ...netDemoDefaults, hosts: 220, minutes: 1 };

  it('same seed gives the same event hash (20 seeds), different seeds different hashes', () => {
    const hashes = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const seed = `det-${s}`;
      const a = runNetDemo({ ...opts, seed });
      const b = runNetDemo({ ...opts, seed });
      expect(b.eventHash, replay(seed)).toBe(a.eventHash);
      expect(b.network, replay(seed)).toEqual(a.network);
      expect(a.network.sent).toBeGreaterThan(1000);
      expect(a.network.dropped.loss).toBeGreaterThan(0);
      hashes.add(a.eventHash);
    }
    expect(hashes.size).toBe(20);
  });

  it('passes the lockstep determinism check', () => {
    const r = checkDeterminism(() => buildNetDemo({ ...opts, seed: 'lockstep' }).kernel, {
      untilMs: buildNetDemo({ ...opts, seed: 'lockstep' }).endMs,
    });
    if (!r.ok) throw new Error(`${describeDivergence(r)}\n${replay('lockstep')}`);
    expect(r.events).toBeGreaterThan(5000);
  });

  it('hole punching succeeds or fails per NAT pair as RFC 4787 predicts', () => {
    const r = runNetDemo({ ...opts, hosts: 400, minutes: 3, lossRate: 0, seed: 'nat-pairs' });
    const fails = ['portRestricted/symmetric', 'symmetric/symmetric'];
    for (const [pair, o] of Object.entries(r.byNatPair)) {
      if (o.attempts < 3) continue;
      if (fails.includes(pair)) expect(o.succeeded, pair).toBe(0);
      else expect(o.succeeded / o.attempts, pair).toBeGreaterThan(0.9);
    }
    expect(Object.keys(r.byNatPair).length).toBeGreaterThanOrEqual(12);
  });
});
