import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import {
  checkTimestamp,
  ReplayFilter,
  regIdTimestampKey,
  replayRetentionMs,
  replaySetEntriesMax,
  timestampWindowMs,
} from './replay.js';

const minute = 60_000;

describe('checkTimestamp', () => {
  it('accepts ±20 min inclusive and names the side otherwise', () => {
    const now = 1_700_000_000_000;
    expect(timestampWindowMs).toBe(20 * minute);
    expect(checkTimestamp(now, now)).toBe('ok');
    expect(checkTimestamp(now - 20 * minute, now)).toBe('ok');
    expect(checkTimestamp(now + 20 * minute, now)).toBe('ok');
    expect(checkTimestamp(now - 20 * minute - 1, now)).toBe('tooOld');
    expect(checkTimestamp(now + 20 * minute + 1, now)).toBe('tooNew');
    expect(checkTimestamp(Number.NaN, now)).toBe('tooOld');
    expect(checkTimestamp(Number.POSITIVE_INFINITY, now)).toBe('tooOld');
    expect(checkTimestamp(now + 2000, now, 1000)).toBe('tooNew');
  });
});

describe('ReplayFilter', () => {
  it('catches replays, including a request replayed for as long as its timestamp passes', () => {
    const rng = new SeededRng('replay/catch');
    const f = new ReplayFilter();
    const regId = rng.bytes(32);
    const now = 5_000_000;
    // Stamped as far in the future as the window allows, replayed until the window closes on it.
    const ts = now + timestampWindowMs;
    const key = regIdTimestampKey(regId, ts);
    expect(f.seen(key, now)).toBe(false);
    expect(f.seen(key, now + 1)).toBe(true);
    for (const later of [now + 10 * minute, now + 39 * minute, ts + timestampWindowMs]) {
      expect(checkTimestamp(ts, later)).toBe('ok');
      expect(f.seen(key, later)).toBe(true);
    }
    // Same regID, another timestamp: a different request.
    expect(f.seen(regIdTimestampKey(regId, ts + 1), now)).toBe(false);
    // Ephemeral keys go into a filter the same way.
    const ephemeral = rng.bytes(32);
    expect(f.has(ephemeral, now)).toBe(false);
    expect(f.has(ephemeral, now)).toBe(false); // has() does not record
    expect(f.seen(ephemeral, now)).toBe(false);
    expect(f.check(ephemeral, now)).toBe('replay');
  });

  it('remembers every key for at least the retention and at most twice it', () => {
    expect(replayRetentionMs).toBe(2 * timestampWindowMs);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.array(fc.integer({ min: 0, max: 3 * replayRetentionMs }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 3 * replayRetentionMs }),
        (startMs, earlierCalls, insertAfterMs) => {
          const f = new ReplayFilter();
          let now = startMs;
          for (const step of earlierCalls) {
            now += step;
            f.seen(Uint8Array.of(step & 255, step >>> 8), now);
          }
          now += insertAfterMs;
          const key = Uint8Array.of(1, 2, 3, 4, 5);
          expect(f.seen(key, now)).toBe(false);
          expect(f.has(key, now + replayRetentionMs)).toBe(true);
          expect(f.has(key, now + 2 * replayRetentionMs)).toBe(false);
          expect(f.seen(key, now + 2 * replayRetentionMs)).toBe(false); // expired: new again
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not confuse keys that an XOR fold of 32-bit words would', () => {
    const f = new ReplayFilter();
    const a = Uint8Array.of(1, 2, 3, 4, 9, 9, 9, 9);
    const b = Uint8Array.of(9, 9, 9, 9, 1, 2, 3, 4); // same words, swapped: same XOR fold
    const c = Uint8Array.of(1, 2, 3, 4, 9, 9, 9, 9, 7); // a trailing byte the original ignored
    expect(f.seen(a, 0)).toBe(false);
    expect(f.seen(b, 0)).toBe(false);
    expect(f.seen(c, 0)).toBe(false);
    expect(f.seen(a, 0)).toBe(true);
  });

  it('rejects new keys as a flood when full, without forgetting recorded ones', () => {
    const f = new ReplayFilter({ entriesMax: 3, retentionMs: 1000 });
    expect([1, 2, 3].map((i) => f.check(Uint8Array.of(i), 0))).toEqual(['new', 'new', 'new']);
    expect(f.check(Uint8Array.of(4), 10)).toBe('full');
    expect(f.seen(Uint8Array.of(5), 10)).toBe(true);
    expect(f.check(Uint8Array.of(2), 10)).toBe('replay');
    expect(f.floodRejects).toBe(2);
    // The next generation accepts again; the full one is still remembered.
    expect(f.check(Uint8Array.of(4), 1000)).toBe('new');
    expect(f.check(Uint8Array.of(1), 1000)).toBe('replay');
    expect(f.size).toBe(4);
  });

  it('stays bounded through 1e6 distinct inserts', () => {
    const f = new ReplayFilter();
    const key = new Uint8Array(8);
    const view = new DataView(key.buffer);
    let maxSize = 0;
    let accepted = 0;
    let rejected = 0;
    const inserts = 1_000_000;
    for (let i = 0; i < inserts; i++) {
      view.setUint32(0, i);
      const r = f.check(key, i * 5); // 200 keys/s for ~83 min: more than two retentions
      if (r === 'new') accepted++;
      else if (r === 'full') rejected++;
      if (f.size > maxSize) maxSize = f.size;
    }
    expect(accepted + rejected).toBe(inserts); // all distinct: no false replay
    expect(maxSize).toBeLessThanOrEqual(2 * replaySetEntriesMax);
    expect(maxSize).toBe(2 * replaySetEntriesMax);
    expect(rejected).toBe(f.floodRejects);
    expect(rejected).toBeGreaterThan(0);
    // Generations start at 0, 40 and 80 min: the first two fill up to entriesMax, the third
    // receives the last 40 000 keys (from i = 960 000) and takes them all.
    expect(accepted).toBe(2 * replaySetEntriesMax + 40_000);
  });
});
