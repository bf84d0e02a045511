import { describe, expect, it } from 'vitest';
import { checkDeterminism, describeDivergence } from './determinism.js';
import { Kernel, simEpochMsDefault } from './kernel.js';

/** A small scenario: N actors ping each other at random intervals drawn from their own streams. */
function pingScenario(seed: string, actors: number, plant?: () => number): Kernel {
  const k = new Kernel({ seed });
  const ping = k.kind('test.ping');
  for (let a = 0; a < actors; a++) {
    const rng = k.rng.fork(`actor/${a}`);
    let left = 50;
    const tick = (): void => {
      if (--left <= 0) return;
      const delay = 1 + rng.int(100) + (plant !== undefined && a === 3 && left === 20 ? plant() : 0);
      k.after(delay, ping, a, rng.uint32(), tick);
    };
    k.after(rng.int(10), ping, a, 0, tick);
  }
  return k;
}

describe('Kernel', () => {
  it('starts at the epoch and advances to each event time', () => {
    const k = new Kernel({ seed: 1 });
    expect(k.now()).toBe(simEpochMsDefault);
    const seen: number[] = [];
    const kind = k.kind('x');
    k.after(30, kind, 0, 0, () => seen.push(k.elapsed()));
    k.after(10, kind, 0, 0, () => seen.push(k.elapsed()));
    k.after(10, kind, 1, 0, () => seen.push(k.elapsed() + 0.5));
    expect(k.run()).toBe(3);
    expect(seen).toEqual([10, 10.5, 30]);
  });

  it('run(until) stops before later events and advances the clock to until', () => {
    const k = new Kernel({ seed: 1 });
    const kind = k.kind('x');
    let fired = 0;
    k.after(100, kind, 0, 0, () => fired++);
    k.run(k.now() + 50);
    expect(fired).toBe(0);
    expect(k.elapsed()).toBe(50);
    k.runFor(50);
    expect(fired).toBe(1);
  });

  it('refuses events in the past or at fractional times', () => {
    const k = new Kernel({ seed: 1 });
    k.after(10, 0, 0, 0, () => {});
    k.run();
    expect(() => k.at(k.now() - 1, 0, 0, 0, () => {})).toThrow(/event time/);
    expect(() => k.after(1.5, 0, 0, 0, () => {})).toThrow(/event time/);
  });

  it('gives the same event hash for the same seed and different hashes for different seeds', () => {
    const hashes = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const a = pingScenario(`seed-${s}`, 20);
      const b = pingScenario(`seed-${s}`, 20);
      a.run();
      b.run();
      expect(a.eventHash).toBe(b.eventHash);
      expect(a.eventsDispatched).toBe(b.eventsDispatched);
      hashes.add(a.eventHash);
    }
    expect(hashes.size).toBe(20);
  });

  it('forked streams are independent of each other and of the parent', () => {
    const k1 = new Kernel({ seed: 'x' });
    const k2 = new Kernel({ seed: 'x' });
    k2.rng.fork('other').uint32();
    k2.rng.uint32();
    expect(k1.rng.fork('peer/1').uint32()).toBe(k2.rng.fork('peer/1').uint32());
    expect(k1.rng.fork('peer/1').uint32()).not.toBe(k1.rng.fork('peer/2').uint32());
  });
});

describe('checkDeterminism', () => {
  it('passes a deterministic scenario', () => {
    const r = checkDeterminism(() => pingScenario('det', 30));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.events).toBeGreaterThan(1000);
  });

  it('names the first diverging event when nondeterminism is planted', () => {
    // The planted delay differs between the two builds: a global counter stands for a clock read.
    let calls = 0;
    const r = checkDeterminism(() => pingScenario('det', 30, () => calls++));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.first?.kind).toBe('test.ping');
      expect(r.first?.timeMs === r.second?.timeMs && r.first?.peer === r.second?.peer).toBe(false);
      // The divergence is at actor 3's 30th tick or at the event its shifted schedule displaced.
      expect([r.first?.peer, r.second?.peer]).toContain(3);
      expect(describeDivergence(r)).toMatch(
        /runs diverge at event #\d+: first run t=\d+ kind=test.ping peer=/,
      );
    }
  });
});
