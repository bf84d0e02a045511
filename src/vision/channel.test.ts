import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttentionLevel, attentionOff } from './attention.js';
import { nullVision, otherModulesKey, VisionChannel } from './channel.js';
import { messageLengthMaxChars, type VisionRecord } from './record.js';

const L = AttentionLevel;

function rec(peer: string, module: string, level: AttentionLevel, timeMs = 0, message = 'm'): VisionRecord {
  return { timeMs, peer, module, level, message };
}

describe('VisionChannel thresholds', () => {
  it('uses the default threshold, overridden per module', () => {
    const v = new VisionChannel({
      defaultThreshold: L.guiActivity,
      moduleThresholds: { 'reg.proxy': L.detail, udp: attentionOff },
    });
    expect(v.wants('inv', L.higherLevelDetail)).toBe(false);
    expect(v.wants('inv', L.guiActivity)).toBe(true);
    expect(v.wants('reg.proxy', L.detail)).toBe(true);
    expect(v.wants('reg.proxy', L.deepDetail)).toBe(false);
    expect(v.wants('udp', L.death)).toBe(false);
    v.clearThreshold('udp');
    expect(v.wants('udp', L.death)).toBe(true);
    v.setDefaultThreshold(L.strongPain);
    expect(v.wants('inv', L.mediumPain)).toBe(false);
    expect(v.wants('reg.proxy', L.detail)).toBe(true);
  });

  it('wants() agrees with the plain rule for random thresholds', () => {
    const threshold = fc.integer({ min: 0, max: 10 });
    fc.assert(
      fc.property(
        threshold,
        fc.dictionary(fc.constantFrom('a', 'b', 'c'), threshold),
        fc.constantFrom('a', 'b', 'c', 'd'),
        fc.integer({ min: 0, max: 9 }),
        (d, overrides, module, level) => {
          const v = new VisionChannel({
            defaultThreshold: d as AttentionLevel,
            moduleThresholds: overrides as Record<string, AttentionLevel>,
          });
          const t = Object.hasOwn(overrides, module) ? overrides[module]! : d;
          expect(v.wants(module, level as AttentionLevel)).toBe(level >= t);
          expect(v.emit(rec('p', module, level as AttentionLevel))).toBe(level >= t);
        },
      ),
    );
  });

  it('drops and counts records below the threshold without storing them', () => {
    const v = new VisionChannel({ defaultThreshold: L.guiActivity });
    expect(v.emit(rec('p', 'm', L.detail))).toBe(false);
    expect(v.emit(rec('p', 'm', L.guiActivity))).toBe(true);
    expect(v.recordCount('p')).toBe(1);
    const c = v.counters();
    expect(c.recordsFilteredOut).toBe(1);
    expect(c.recordsAccepted).toBe(1);
  });

  it('rejects bad configuration', () => {
    expect(() => new VisionChannel({ defaultThreshold: 11 as AttentionLevel })).toThrow(RangeError);
    expect(() => new VisionChannel({ recordsPerPeerMax: 0 })).toThrow(RangeError);
    const v = new VisionChannel({ modulesTrackedMax: 2 });
    v.setThreshold('a', L.detail);
    v.setThreshold('b', L.detail);
    v.setThreshold('a', L.deepDetail); // replacing is fine
    expect(() => v.setThreshold('c', L.detail)).toThrow(RangeError);
  });

  it('nullVision wants nothing', () => {
    expect(nullVision.wants('x', L.death)).toBe(false);
    expect(nullVision.emit(rec('p', 'x', L.death))).toBe(false);
  });
});

describe('VisionChannel storage and counters', () => {
  it('keeps memory flat over 1e6 detail records', () => {
    const recordsPerPeerMax = 64;
    const peersTrackedMax = 3;
    const v = new VisionChannel({ defaultThreshold: L.deepDetail, recordsPerPeerMax, peersTrackedMax });
    const peers = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const bound = peersTrackedMax * recordsPerPeerMax;
    let maxStored = 0;
    // Peers take turns in runs of 1000 records, so rings fill and peers are evicted and come back.
    for (let i = 0; i < 1_000_000; i++) {
      v.emit({
        timeMs: i,
        peer: peers[Math.floor(i / 1000) % 5]!,
        module: 'reg.proxy',
        level: L.detail,
        message: 'hop',
      });
      if ((i & 1023) === 0) {
        maxStored = Math.max(maxStored, v.storedRecordCount);
        for (const p of v.trackedPeers()) expect(v.recordCount(p)).toBeLessThanOrEqual(recordsPerPeerMax);
      }
    }
    expect(maxStored).toBeLessThanOrEqual(bound);
    expect(v.storedRecordCount).toBeLessThanOrEqual(bound);
    expect(v.trackedPeers()).toHaveLength(peersTrackedMax);
    for (const p of v.trackedPeers()) expect(v.recordCount(p)).toBe(recordsPerPeerMax);
    const c = v.counters();
    expect(c.recordsAccepted).toBe(1_000_000);
    expect(c.recordsByLevel.detail).toBe(1_000_000);
    expect(c.peersTracked).toBe(peersTrackedMax);
    expect(c.peersEvicted).toBe(997);
    // The newest records survive: the last emitter's ring ends with the last record.
    expect(v.recentRecords('p4').at(-1)?.timeMs).toBe(999_999);
  });

  it('counts pains by level and by module, from guiPain up', () => {
    const v = new VisionChannel({ defaultThreshold: L.deepDetail });
    v.emit(rec('a', 'reg', L.needsAttention));
    v.emit(rec('a', 'reg', L.guiPain));
    v.emit(rec('a', 'reg', L.lightPain));
    v.emit(rec('b', 'reg', L.lightPain));
    v.emit(rec('b', 'attacks', L.strongPain));
    expect(v.painCount()).toBe(4);
    expect(v.painCount(undefined, L.lightPain)).toBe(2);
    expect(v.painCount('reg')).toBe(3);
    expect(v.painCount('reg', L.lightPain)).toBe(2);
    expect(v.painCount('reg', L.needsAttention)).toBe(0);
    expect(v.painCount('nope')).toBe(0);
    const c = v.counters();
    expect(c.painsTotal).toBe(4);
    expect(c.painsByModule).toEqual({ reg: { guiPain: 1, lightPain: 2 }, attacks: { strongPain: 1 } });
    expect(c.recordsByLevel.needsAttention).toBe(1);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });

  it('counts pains of modules beyond modulesTrackedMax under one key', () => {
    const v = new VisionChannel({ modulesTrackedMax: 2 });
    for (const m of ['a', 'b', 'c', 'd', '__proto__']) v.emit(rec('p', m, L.mediumPain));
    const c = v.counters();
    expect(Object.keys(c.painsByModule)).toHaveLength(3);
    expect(c.painsByModule[otherModulesKey]).toEqual({ mediumPain: 3 });
    expect(v.painCount()).toBe(5);
  });

  it('clips oversized messages before storing them', () => {
    const v = new VisionChannel();
    v.emit(rec('p', 'm', L.guiActivity, 0, 'x'.repeat(messageLengthMaxChars * 3)));
    expect(v.recentRecords('p')[0]!.message.length).toBe(messageLengthMaxChars);
  });

  it('throws for a record that is a bug (non-finite time)', () => {
    const v = new VisionChannel();
    expect(() => v.emit(rec('p', 'm', L.death, Number.NaN))).toThrow(RangeError);
  });

  it('merges recent records of several peers in emission order', () => {
    const v = new VisionChannel({ defaultThreshold: L.deepDetail });
    v.emit(rec('a', 'm', L.detail, 1));
    v.emit(rec('b', 'm', L.detail, 2));
    v.emit(rec('a', 'm', L.detail, 3));
    expect(v.recentRecordsOf(['b', 'a']).map((r) => r.timeMs)).toEqual([1, 2, 3]);
    v.clearRecords();
    expect(v.storedRecordCount).toBe(0);
    expect(v.counters().recordsAccepted).toBe(3);
  });
});

describe('VisionChannel listeners and the pain hook', () => {
  it('calls listeners with accepted records only, and unsubscribes', () => {
    const v = new VisionChannel({ defaultThreshold: L.guiActivity });
    const seen: VisionRecord[] = [];
    const off = v.onRecord((r) => seen.push(r));
    v.emit(rec('p', 'm', L.detail));
    v.emit(rec('p', 'm', L.guiActivity, 1));
    off();
    v.emit(rec('p', 'm', L.guiActivity, 2));
    expect(seen.map((r) => r.timeMs)).toEqual([1]);
  });

  it('lets a listener unsubscribe another during emission', () => {
    const v = new VisionChannel();
    const calls: string[] = [];
    let offB = (): void => {};
    v.onRecord(() => {
      calls.push('a');
      offB();
    });
    offB = v.onRecord(() => calls.push('b'));
    v.emit(rec('p', 'm', L.guiActivity));
    v.emit(rec('p', 'm', L.guiActivity));
    expect(calls).toEqual(['a', 'b', 'a']);
  });

  it('calls onPain at and above snapshotLevel, with the pain already stored', () => {
    const v = new VisionChannel({ defaultThreshold: L.deepDetail, snapshotLevel: L.mediumPain });
    const pains: { record: VisionRecord; recent: VisionRecord[] }[] = [];
    v.onPain((r) => pains.push({ record: r, recent: v.recentRecords(r.peer) }));
    v.emit(rec('a', 'reg', L.detail, 1));
    v.emit(rec('a', 'reg', L.lightPain, 2));
    v.emit(rec('a', 'reg', L.mediumPain, 3));
    v.emit(rec('b', 'inv', L.strongPain, 4));
    expect(pains.map((p) => p.record.timeMs)).toEqual([3, 4]);
    expect(pains[0]!.recent.map((r) => r.timeMs)).toEqual([1, 2, 3]);
    v.snapshotLevel = attentionOff;
    v.emit(rec('a', 'reg', L.death, 5));
    expect(pains).toHaveLength(2);
    expect(v.counters().snapshotsTaken).toBe(2);
  });

  it('bounds snapshots and does not nest them', () => {
    const v = new VisionChannel({ snapshotsMax: 2, snapshotLevel: L.lightPain });
    let calls = 0;
    v.onPain((r) => {
      calls++;
      v.emit({ ...r, message: 'pain inside the handler' });
    });
    for (let i = 0; i < 5; i++) v.emit(rec('p', 'm', L.strongPain, i));
    expect(calls).toBe(2);
    const c = v.counters();
    expect(c.snapshotsTaken).toBe(2);
    expect(c.snapshotsNested).toBe(2);
    expect(c.snapshotsSkipped).toBe(3);
    v.onPain(undefined);
    v.emit(rec('p', 'm', L.strongPain));
    expect(calls).toBe(2);
  });

  it('bounds the number of listeners', () => {
    const v = new VisionChannel();
    for (let i = 0; i < 64; i++) v.onRecord(() => {});
    expect(() => v.onRecord(() => {})).toThrow(RangeError);
  });
});
