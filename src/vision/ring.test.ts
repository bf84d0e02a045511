import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttentionLevel } from './attention.js';
import type { VisionRecord } from './record.js';
import { PeerRecordRings } from './ring.js';

function rec(peer: string, i: number, level: AttentionLevel = AttentionLevel.detail): VisionRecord {
  return { timeMs: i, peer, module: 'm', level, message: `r${i}` };
}

/** The obvious model: per-peer arrays and a recency list. */
class ModelRings {
  readonly byPeer = new Map<string, VisionRecord[]>();
  readonly recency: string[] = []; // most recent first
  constructor(
    readonly perPeer: number,
    readonly peersMax: number,
  ) {}
  push(r: VisionRecord): void {
    const i = this.recency.indexOf(r.peer);
    if (i >= 0) this.recency.splice(i, 1);
    else if (this.recency.length === this.peersMax) this.byPeer.delete(this.recency.pop()!);
    this.recency.unshift(r.peer);
    const list = this.byPeer.get(r.peer) ?? [];
    list.push(r);
    if (list.length > this.perPeer) list.shift();
    this.byPeer.set(r.peer, list);
  }
}

describe('PeerRecordRings', () => {
  it('keeps the newest records of each peer, oldest first', () => {
    const rings = new PeerRecordRings({ recordsPerPeerMax: 3, peersTrackedMax: 2 });
    for (let i = 0; i < 5; i++) rings.push(rec('a', i));
    rings.push(rec('b', 5));
    expect(rings.records('a').map((r) => r.timeMs)).toEqual([2, 3, 4]);
    expect(rings.records('a', 2).map((r) => r.timeMs)).toEqual([3, 4]);
    expect(rings.records('b')).toEqual([rec('b', 5)]);
    expect(rings.storedRecordCount).toBe(4);
    expect(rings.recordsOverwritten).toBe(2);
    expect(rings.peers()).toEqual(['b', 'a']);
  });

  it('evicts the least recently emitting peer', () => {
    const rings = new PeerRecordRings({ recordsPerPeerMax: 2, peersTrackedMax: 2 });
    rings.push(rec('a', 0));
    rings.push(rec('b', 1));
    rings.push(rec('a', 2)); // a is now more recent than b
    rings.push(rec('c', 3)); // evicts b
    expect(rings.has('b')).toBe(false);
    expect(rings.records('b')).toEqual([]);
    expect(rings.peers()).toEqual(['c', 'a']);
    expect(rings.records('c')).toEqual([rec('c', 3)]);
    expect(rings.peersEvicted).toBe(1);
    expect(rings.storedRecordCount).toBe(3);
  });

  it('keeps attributes and merges peers in emission order', () => {
    const rings = new PeerRecordRings({ recordsPerPeerMax: 4, peersTrackedMax: 4 });
    const withAttrs: VisionRecord = { ...rec('a', 1), attributes: { hop: 3, ok: true, ep: '1.2.3.4:5' } };
    rings.push(rec('b', 0));
    rings.push(withAttrs);
    rings.push(rec('c', 2));
    rings.push(rec('b', 3));
    expect(rings.records('a')).toEqual([withAttrs]);
    expect(rings.recentRecordsOf(['b', 'a', 'b', 'zz']).map((r) => r.timeMs)).toEqual([0, 1, 3]);
    expect(rings.recentRecordsOf(['a', 'b'], 1).map((r) => r.timeMs)).toEqual([1, 3]);
  });

  it('matches the model on random emission sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 200 }),
        (perPeer, peersMax, peerIndexes) => {
          const rings = new PeerRecordRings({ recordsPerPeerMax: perPeer, peersTrackedMax: peersMax });
          const model = new ModelRings(perPeer, peersMax);
          peerIndexes.forEach((p, i) => {
            const r = rec(`p${p}`, i);
            rings.push(r);
            model.push(r);
          });
          expect(rings.peers()).toEqual(model.recency);
          let total = 0;
          for (const [peer, list] of model.byPeer) {
            expect(rings.records(peer)).toEqual(list);
            total += list.length;
          }
          expect(rings.storedRecordCount).toBe(total);
          expect(rings.peersTracked).toBe(model.byPeer.size);
        },
      ),
    );
  });

  it('clear forgets everything and the rings are reusable', () => {
    const rings = new PeerRecordRings({ recordsPerPeerMax: 2, peersTrackedMax: 2 });
    rings.push(rec('a', 0));
    rings.push(rec('b', 1));
    rings.clear();
    expect(rings.storedRecordCount).toBe(0);
    expect(rings.peers()).toEqual([]);
    rings.push(rec('c', 2));
    expect(rings.records('c')).toEqual([rec('c', 2)]);
    expect(rings.peers()).toEqual(['c']);
  });

  it('rejects limits outside their bounds', () => {
    expect(() => new PeerRecordRings({ recordsPerPeerMax: 0, peersTrackedMax: 1 })).toThrow(RangeError);
    expect(() => new PeerRecordRings({ recordsPerPeerMax: 1, peersTrackedMax: 1.5 })).toThrow(RangeError);
    expect(() => new PeerRecordRings({ recordsPerPeerMax: 1 << 16, peersTrackedMax: 1 << 10 })).toThrow(
      RangeError,
    );
  });
});
