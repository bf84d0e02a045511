import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerQueue } from './timers.js';

describe('TimerQueue', () => {
  it('runs callbacks in deadline order, and same-ms callbacks in the order they were scheduled', () => {
    const q = new TimerQueue(64);
    const ran: string[] = [];
    q.schedule(20, () => ran.push('c'));
    q.schedule(10, () => ran.push('a1'));
    q.schedule(10, () => ran.push('a2'));
    q.schedule(15, () => ran.push('b'));
    q.schedule(10, () => ran.push('a3'));
    expect(q.next()).toBe(10);
    expect(q.runDue(10)).toBe(3);
    expect(ran).toEqual(['a1', 'a2', 'a3']);
    expect(q.next()).toBe(15);
    q.runDue(100);
    expect(ran).toEqual(['a1', 'a2', 'a3', 'b', 'c']);
    expect(q.next()).toBe(Number.POSITIVE_INFINITY);
    expect(q.size).toBe(0);
  });

  it('orders any schedule by (deadline, insertion) — property', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (deadlines) => {
        const q = new TimerQueue(1024);
        const ran: number[] = [];
        for (const [i, at] of deadlines.entries()) q.schedule(at, () => ran.push(i));
        q.runDue(50);
        const want = deadlines.map((at, i) => ({ at, i })).sort((x, y) => x.at - y.at || x.i - y.i);
        expect(ran).toEqual(want.map((w) => w.i));
      }),
      { seed: 4242, numRuns: 200 },
    );
  });

  it('does not run a cancelled timer, and next() skips it', () => {
    const q = new TimerQueue(8);
    const ran: number[] = [];
    const a = q.schedule(5, () => ran.push(5));
    q.schedule(7, () => ran.push(7));
    q.cancel(a);
    q.cancel(undefined);
    expect(q.size).toBe(1);
    expect(q.next()).toBe(7);
    q.runDue(10);
    expect(ran).toEqual([7]);
  });

  it('runs callbacks scheduled by a callback for a time already due, in the same runDue', () => {
    const q = new TimerQueue(8);
    const ran: string[] = [];
    q.schedule(10, () => {
      ran.push('outer');
      q.schedule(9, () => ran.push('past'));
      q.schedule(11, () => ran.push('future'));
    });
    expect(q.runDue(10)).toBe(2);
    expect(ran).toEqual(['outer', 'past']);
    expect(q.next()).toBe(11);
  });

  it('refuses more than timersMax live timers, naming the bound; cancelling frees room', () => {
    const q = new TimerQueue(3);
    const ids = [q.schedule(1, () => {}), q.schedule(2, () => {}), q.schedule(3, () => {})];
    expect(() => q.schedule(4, () => {})).toThrow(/timersMax/);
    q.cancel(ids[1]);
    expect(() => q.schedule(4, () => {})).not.toThrow();
    expect(q.size).toBe(3);
  });

  it('keeps its heap bounded under schedule/cancel churn (lazy deletion is compacted)', () => {
    const q = new TimerQueue(4);
    for (let i = 0; i < 10_000; i++) q.cancel(q.schedule(1_000 + i, () => {}));
    const heap = (q as unknown as { heap: unknown[] }).heap;
    expect(heap.length).toBeLessThanOrEqual(2 * 4 + 1);
    expect(q.size).toBe(0);
  });

  it('hands a throwing callback to onError and goes on with the rest', () => {
    const q = new TimerQueue(8);
    const ran: number[] = [];
    const errors: unknown[] = [];
    q.schedule(1, () => {
      throw new Error('boom');
    });
    q.schedule(1, () => ran.push(2));
    q.runDue(1, (e) => errors.push(e));
    expect(ran).toEqual([2]);
    expect(errors).toHaveLength(1);
  });
});
