import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, EventQueueFullError } from './queue.js';

describe('EventQueue', () => {
  it('pops in (time, insertion) order for any sequence of pushes and pops', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1)), { maxLength: 400 }),
        (ops) => {
          const q = new EventQueue(1 << 16, 2);
          const model: { t: number; seq: number; slot: number }[] = [];
          let seq = 0;
          for (const op of ops) {
            if (op >= 0) {
              q.push(op, seq);
              model.push({ t: op, seq, slot: seq });
              seq++;
            } else {
              model.sort((x, y) => x.t - y.t || x.seq - y.seq);
              const want = model.shift();
              expect(q.pop()).toBe(want === undefined ? -1 : want.slot);
            }
            expect(q.size).toBe(model.length);
          }
          model.sort((x, y) => x.t - y.t || x.seq - y.seq);
          for (const want of model) {
            expect(q.peekTime()).toBe(want.t);
            expect(q.pop()).toBe(want.slot);
            expect(q.lastTime).toBe(want.t);
          }
          expect(q.pop()).toBe(-1);
        },
      ),
    );
  });

  it('refuses to grow past its bound', () => {
    const q = new EventQueue(4, 1);
    for (let i = 0; i < 4; i++) q.push(i, i);
    expect(() => q.push(9, 9)).toThrow(EventQueueFullError);
  });

  it('rejects a nonsensical bound with the parameter name', () => {
    expect(() => new EventQueue(0)).toThrow(/eventsPendingMax/);
  });
});
