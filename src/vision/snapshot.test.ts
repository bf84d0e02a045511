import { describe, expect, it } from 'vitest';
import { AttentionLevel } from './attention.js';
import {
  fingerprintAt,
  fingerprintOfHash,
  type PainSnapshot,
  parseSnapshot,
  type RunLog,
  readVisionTrace,
  runLogItemFields,
  snapshotHopsMax,
  snapshotItemFields,
  snapshotLayoutVersion,
  traceItemKindRunLog,
  traceItemKindSnapshot,
} from './snapshot.js';
import { MemoryTraceSink, traceHeader } from './trace.js';

const peer = (name: string, neighbours: number[]) => ({
  name,
  regId: `${name}`.padEnd(16, '0'),
  point: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
  neighbours,
  neighboursOutside: 1,
  online: true,
  offline: '',
  nat: 'open',
  isp: 'default',
  rating: 0.9,
  entry: false,
});

const snapshot: PainSnapshot = {
  layout: snapshotLayoutVersion,
  number: 1,
  pain: {
    timeMs: 1000,
    peer: 'A',
    module: 'drp',
    level: AttentionLevel.strongPain,
    message: 'INVITE failed: rejected',
    attributes: { txs: 'I1 I2', responder: 'c'.padEnd(16, '0') },
  },
  eventIndex: 42,
  eventHash: '0123456789abcdef',
  peersTotal: 3,
  selection: 'all',
  neighbourhoodHops: 0,
  peers: [peer('A', [1]), peer('B', [0, 2]), peer('C', [1])],
  route: {
    txs: ['I1', 'I2'],
    sourceName: 'A',
    source: 0,
    target: 'c'.padEnd(16, '0'),
    targetPeer: 2,
    hops: [
      {
        timeMs: 900,
        tx: 'I1',
        peerName: 'A',
        peer: 0,
        distance: 0.5,
        chosen: 'b'.padEnd(16, '0'),
        chosenPeer: 1,
        chosenDistance: 0.3,
        considered: [{ regId: 'bbbbbbbb', peer: 1, distance: 0.3 }],
        decision: 'INVITE sent',
        hopsRemaining: 30,
      },
    ],
  },
  records: [
    { timeMs: 950, peer: 'B', module: 'drp', level: AttentionLevel.needsAttention, message: 'link died' },
  ],
  faults: [{ kind: 'partition', startMs: 500, endMs: -1, description: 'cut', peers: ['C'] }],
};

const log: RunLog = {
  layout: snapshotLayoutVersion,
  events: 3,
  eventHash: 'ffffffffffff1234',
  checkpoints: [{ index: 2, timeMs: 10, hash: '00000000000000aa' }],
  fingerprints: new Uint8Array([0x34, 0x12, 0xcd, 0xab, 0x01, 0x00]),
  faults: [],
  delivery: [[0, 5, 4]],
  hops: [0, 1, 3],
};

function traceWith(items: (s: MemoryTraceSink) => void, close = true): Uint8Array {
  const sink = new MemoryTraceSink();
  sink.writeHeader(traceHeader('s', { scenario: 'x' }, {}));
  items(sink);
  if (close) sink.close();
  return sink.bytes();
}

describe('pain snapshots in a trace', () => {
  it('round-trip through snapshot and run-log items', () => {
    const bytes = traceWith((s) => {
      s.writeRecord(snapshot.pain);
      s.writeItem(traceItemKindSnapshot, snapshotItemFields(snapshot));
      s.writeItem(traceItemKindRunLog, runLogItemFields(log));
    });
    const t = readVisionTrace(bytes);
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(t.records.length).toBe(1);
    expect(t.snapshots).toEqual([snapshot]);
    expect(t.runLog).toEqual(log);
    expect(t.truncated).toBe(false);
    expect(fingerprintAt(t.runLog!, 1)).toBe(0x1234);
    expect(fingerprintAt(t.runLog!, 2)).toBe(0xabcd);
    expect(fingerprintAt(t.runLog!, 4)).toBeUndefined();
    expect(fingerprintOfHash('ffffffffffff1234')).toBe(0x1234);
  });

  it('a snapshot whose fields are out of bounds or inconsistent makes the trace corrupt', () => {
    const bad = snapshotItemFields({
      ...snapshot,
      peers: [peer('A', [7])], // neighbour index beyond the peers
    });
    expect(parseSnapshot(bad)).toBeUndefined();
    const bytes = traceWith((s) => s.writeItem(traceItemKindSnapshot, bad));
    const t = readVisionTrace(bytes);
    expect(t.ok).toBe(false);
    if (!t.ok) {
      expect(t.code).toBe('corrupt');
      expect(t.message).toMatch(/corrupt at byte \d+/);
    }
    expect(parseSnapshot([{ ...(snapshotItemFields(snapshot)[0] as object), layout: 99 }])).toBeUndefined();
  });

  it('bounds what it writes: hops beyond snapshotHopsMax are clipped', () => {
    const hop = snapshot.route!.hops[0]!;
    const many = { ...snapshot, route: { ...snapshot.route!, hops: Array(snapshotHopsMax + 10).fill(hop) } };
    const parsed = parseSnapshot(snapshotItemFields(many));
    expect(parsed?.route?.hops.length).toBe(snapshotHopsMax);
  });

  it('says what is wrong with a truncated, foreign or newer trace', () => {
    const full = traceWith((s) => s.writeItem(traceItemKindSnapshot, snapshotItemFields(snapshot)));
    const cut = readVisionTrace(full.subarray(0, full.length - 10));
    expect(cut.ok && cut.truncated).toBe(true);
    const foreign = readVisionTrace(new TextEncoder().encode('hello world, not a trace'));
    expect(foreign.ok).toBe(false);
    if (!foreign.ok) expect(foreign.message).toMatch(/not a dcomms trace/);
    const newer = traceWith(() => {});
    // Rewrite the header's version 1 -> 9: the byte after the "version" key.
    const i = Buffer.from(newer).indexOf(Buffer.from('version')) + 'version'.length;
    newer[i] = 9;
    const n = readVisionTrace(newer);
    expect(n.ok).toBe(false);
    if (!n.ok) expect(n.message).toMatch(/newer version/);
  });
});
