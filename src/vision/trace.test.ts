import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttentionLevel } from './attention.js';
import { VisionChannel } from './channel.js';
import type { VisionRecord } from './record.js';
import {
  encodeTraceItem,
  isJsonSafe,
  MemoryTraceSink,
  readTrace,
  type TraceHeader,
  TraceReader,
  traceHeader,
  traceLengthPrefixBytes,
} from './trace.js';

const header: TraceHeader = traceHeader(
  'seed-42',
  {
    scenario: 'tester1',
    peers: 4,
    lossRate: 0.01,
    nat: ['open', 'symmetric'],
    nested: { on: true, x: null },
  },
  { projectCommit: 'abc123', nodeVersion: 'v20.20.2' },
);

const records: VisionRecord[] = [
  { timeMs: 0, peer: 'ep', module: 'reg.ep', level: AttentionLevel.detail, message: 'pow1 ok' },
  {
    timeMs: 1234.5,
    peer: 'A',
    module: 'reg.proxy',
    level: AttentionLevel.mediumPain,
    message: 'proxying failed',
    attributes: { hop: 3, ok: false, ep: '10.0.0.1:6789', rttMs: 12.25 },
  },
  { timeMs: 1_700_000_000_000, peer: '', module: 'udp', level: AttentionLevel.death, message: 'ünïcode ✓' },
];

function traceOf(h: TraceHeader, rs: readonly VisionRecord[], close = true): Uint8Array {
  const sink = new MemoryTraceSink();
  sink.writeHeader(h);
  for (const r of rs) sink.writeRecord(r);
  if (close) sink.close();
  return sink.bytes();
}

/** Frames an arbitrary msgpack value as one item. */
function rawItem(value: unknown): Uint8Array {
  const body = new Encoder().encode(value);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, 4);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const arbRecord: fc.Arbitrary<VisionRecord> = fc
  .record({
    timeMs: fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
    ),
    peer: fc.string({ maxLength: 20 }),
    module: fc.string({ maxLength: 20 }),
    level: fc.integer({ min: 0, max: 9 }) as fc.Arbitrary<AttentionLevel>,
    message: fc.string({ unit: 'grapheme', maxLength: 100 }),
    attributes: fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
      fc
        .oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.double({ noNaN: true }))
        .filter((x) => !Object.is(x, -0)),
      { maxKeys: 5 },
    ),
  })
  .map(({ attributes, ...r }) => (Object.keys(attributes).length === 0 ? r : { ...r, attributes }));

describe('trace round trip', () => {
  it('reads back what was written', () => {
    const result = readTrace(traceOf(header, records));
    expect(result).toEqual({ ok: true, header, records, truncated: false, otherItemCount: 0 });
  });

  it('round-trips random records', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 30 }), fc.oneof(fc.string(), fc.integer()), (rs, seed) => {
        const h = traceHeader(seed, { n: rs.length });
        const result = readTrace(traceOf(h, rs));
        expect(result).toEqual({ ok: true, header: h, records: rs, truncated: false, otherItemCount: 0 });
      }),
    );
  });

  it('records what a channel emits, through a listener', () => {
    const v = new VisionChannel({ defaultThreshold: AttentionLevel.detail });
    const sink = new MemoryTraceSink();
    sink.writeHeader(header);
    v.onRecord((r) => sink.writeRecord(r));
    for (const r of records) v.emit(r);
    v.emit({ ...records[0]!, level: AttentionLevel.deepDetail }); // filtered out
    sink.close();
    const result = readTrace(sink.bytes());
    expect(result.ok && result.records).toEqual(records);
  });

  it('passes items of unknown kinds over, and TraceReader hands them out', () => {
    const bytes = concat(
      encodeTraceItem({ kind: 'header', header }),
      encodeTraceItem({ kind: 'record', record: records[0]! }),
      encodeTraceItem({ kind: 'other', itemKind: 2, fields: [{ peers: [1, 2] }, 'x'] }),
      encodeTraceItem({ kind: 'end', recordCount: 1 }),
    );
    const result = readTrace(bytes);
    expect(result).toMatchObject({ ok: true, records: [records[0]], otherItemCount: 1, truncated: false });
    const reader = new TraceReader(bytes);
    expect(reader.readHeader().ok).toBe(true);
    expect(reader.next().kind).toBe('record');
    expect(reader.next()).toEqual({ kind: 'other', itemKind: 2, fields: [{ peers: [1, 2] }, 'x'] });
    expect(reader.next()).toEqual({ kind: 'end', recordCount: 1 });
    expect(reader.next()).toEqual({ kind: 'done' });
    expect(reader.next()).toEqual({ kind: 'done' });
  });
});

describe('damaged traces give typed results', () => {
  const full = traceOf(header, records);
  const headerLength = encodeTraceItem({ kind: 'header', header }).length;

  it('a trace cut anywhere reads up to the last complete item', () => {
    const itemEnds = [headerLength];
    for (const r of records)
      itemEnds.push(itemEnds.at(-1)! + encodeTraceItem({ kind: 'record', record: r }).length);
    for (let cut = 0; cut < full.length; cut++) {
      const result = readTrace(full.subarray(0, cut));
      if (cut < headerLength) {
        expect(result).toEqual({ ok: false, code: 'truncatedHeader', offset: 0 });
        continue;
      }
      const complete = itemEnds.filter((e) => e <= cut).length - 1;
      expect(result).toEqual({
        ok: true,
        header,
        records: records.slice(0, complete),
        truncated: true,
        otherItemCount: 0,
      });
    }
  });

  it('an unclosed trace is truncated even when cut at an item boundary', () => {
    const result = readTrace(traceOf(header, records, false));
    expect(result).toMatchObject({ ok: true, records, truncated: true });
  });

  it('flipped bytes never throw, and give a typed result', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(full.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (flips) => {
          const bytes = full.slice();
          for (const [at, x] of flips) bytes[at]! ^= x;
          const result = readTrace(bytes);
          if (result.ok) {
            expect(result.records.length).toBeLessThanOrEqual(records.length + 1);
          } else {
            expect(['notATrace', 'truncatedHeader', 'newerVersion', 'corrupt']).toContain(result.code);
          }
        },
      ),
    );
  });

  it('random bytes are never mistaken for a trace', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = readTrace(bytes);
        expect(result.ok).toBe(false);
      }),
    );
  });

  it('a corrupt record, a bad length, a wrong end count and data after the end are corrupt', () => {
    const h = encodeTraceItem({ kind: 'header', header });
    const r0 = encodeTraceItem({ kind: 'record', record: records[0]! });
    const end1 = encodeTraceItem({ kind: 'end', recordCount: 1 });
    expect(readTrace(concat(h, rawItem([1, 0, 'p', 'm', 12, 'bad level'])))).toEqual({
      ok: false,
      code: 'corrupt',
      offset: h.length,
    });
    expect(readTrace(concat(h, rawItem([1, 'x', 'p', 'm', 1, 'm'])))).toMatchObject({ code: 'corrupt' });
    expect(readTrace(concat(h, rawItem([1, 0, 'p', 'm', 1, 'm', { a: [1] }])))).toMatchObject({
      code: 'corrupt',
    });
    expect(readTrace(concat(h, rawItem({ not: 'an array' })))).toMatchObject({ code: 'corrupt' });
    expect(readTrace(concat(h, rawItem('s')))).toMatchObject({ code: 'corrupt' });
    expect(readTrace(concat(h, new Uint8Array([0, 0, 0, 0, 1])))).toMatchObject({ code: 'corrupt' });
    expect(readTrace(concat(h, new Uint8Array([0xff, 0xff, 0xff, 0xff, 1])))).toMatchObject({
      code: 'corrupt',
    });
    expect(
      readTrace(concat(h, rawItem([1, 0, 'p', 'm', 1, 'm']).subarray(0, 4), new Uint8Array([0xc1, 0, 0, 0]))),
    ).toMatchObject({
      ok: true,
      truncated: true,
    });
    expect(readTrace(concat(h, r0, encodeTraceItem({ kind: 'end', recordCount: 2 })))).toMatchObject({
      code: 'corrupt',
    });
    expect(readTrace(concat(h, r0, end1, r0))).toEqual({
      ok: false,
      code: 'corrupt',
      offset: h.length + r0.length + end1.length,
    });
    expect(readTrace(concat(h, r0, end1, new Uint8Array([0])))).toMatchObject({ code: 'corrupt' });
  });

  it('invalid msgpack inside a complete item is corrupt', () => {
    const h = encodeTraceItem({ kind: 'header', header });
    const bad = new Uint8Array([0, 0, 0, 2, 0x92, 0xc1]); // array of 2 holding the never-used byte 0xc1
    expect(readTrace(concat(h, bad))).toEqual({ ok: false, code: 'corrupt', offset: h.length });
  });
});

describe('trace headers', () => {
  it('a newer version is newerVersion, whatever else the header holds', () => {
    const newer = rawItem({ format: 'dcomms-trace', version: 2, somethingNew: [1, 2, 3] });
    expect(readTrace(concat(newer, rawItem([7, 'future item'])))).toEqual({
      ok: false,
      code: 'newerVersion',
      offset: 0,
    });
  });

  it('another format or a non-map first item is notATrace', () => {
    expect(readTrace(rawItem({ format: 'other', version: 1 }))).toMatchObject({ code: 'notATrace' });
    expect(readTrace(rawItem([1, 2, 3]))).toMatchObject({ code: 'notATrace' });
    expect(readTrace(new TextEncoder().encode('{"format":"dcomms-trace"}'))).toMatchObject({
      code: 'notATrace',
    });
  });

  it('a malformed header of this format is corrupt', () => {
    const base = { format: 'dcomms-trace', version: 1, seed: 's', config: {}, createdBy: {} };
    expect(readTrace(rawItem(base))).toMatchObject({ ok: true, truncated: true });
    for (const bad of [
      { ...base, version: 0 },
      { ...base, version: 1.5 },
      { ...base, seed: [1] },
      { ...base, config: [1] },
      { ...base, config: { b: new Uint8Array(2) } },
      { ...base, createdBy: { nodeVersion: 20 } },
      { ...base, createdBy: 'me' },
    ]) {
      expect(readTrace(rawItem(bad))).toEqual({ ok: false, code: 'corrupt', offset: 0 });
    }
  });

  it('an empty file is a truncated header', () => {
    expect(readTrace(new Uint8Array(0))).toEqual({ ok: false, code: 'truncatedHeader', offset: 0 });
  });

  it('writing refuses a header that is not JSON-safe', () => {
    const sink = new MemoryTraceSink();
    expect(() => sink.writeHeader(traceHeader('s', { when: new Map() } as never))).toThrow(RangeError);
    expect(() => sink.writeHeader(traceHeader('s', { x: Number.NaN }))).toThrow(RangeError);
    expect(() => sink.writeHeader(traceHeader(Number.POSITIVE_INFINITY, {}))).toThrow(RangeError);
    expect(isJsonSafe({ a: [1, 'b', null, { c: true }] })).toBe(true);
    expect(isJsonSafe({ a: undefined })).toBe(false);
  });
});

describe('MemoryTraceSink', () => {
  it('enforces header-first and no writes after close', () => {
    const sink = new MemoryTraceSink();
    expect(() => sink.writeRecord(records[0]!)).toThrow(RangeError);
    sink.writeHeader(header);
    expect(() => sink.writeHeader(header)).toThrow(RangeError);
    sink.close();
    sink.close();
    expect(() => sink.writeRecord(records[0]!)).toThrow(RangeError);
  });

  it('drops records beyond bytesMax and stays a valid trace', () => {
    const sink = new MemoryTraceSink(400);
    sink.writeHeader(header);
    for (let i = 0; i < 50; i++) sink.writeRecord({ ...records[0]!, timeMs: i });
    sink.close();
    const result = readTrace(sink.bytes());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.truncated).toBe(false);
    expect(result.records.length).toBeGreaterThan(0);
    expect(result.records.length + sink.recordsDropped).toBe(50);
    expect(sink.byteLength).toBeLessThanOrEqual(400 + 16);
  });

  it('readTrace stops at recordsMax with tooLarge', () => {
    const result = readTrace(traceOf(header, records), { recordsMax: 2 });
    expect(result).toMatchObject({ ok: false, code: 'tooLarge' });
  });

  it('frames each item with a big-endian length', () => {
    const item = encodeTraceItem({ kind: 'record', record: records[0]! });
    const n = new DataView(item.buffer, item.byteOffset).getUint32(0, false);
    expect(n).toBe(item.length - traceLengthPrefixBytes);
  });
});
