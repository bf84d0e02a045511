import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AttentionLevel } from '../../src/vision/attention.js';
import type { VisionRecord } from '../../src/vision/record.js';
import { MemoryTraceSink, readTrace, traceHeader } from '../../src/vision/trace.js';
import { FileTraceSink, traceCreatedBy } from './file-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'dcomms-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = traceHeader('seed-7', { scenario: 'file-sink', peers: 3 }, traceCreatedBy('0123abc'));

function record(i: number, level: AttentionLevel = AttentionLevel.detail): VisionRecord {
  return { timeMs: i, peer: `p${i % 3}`, module: 'reg.proxy', level, message: `hop ${i}`, attributes: { i } };
}

describe('FileTraceSink', () => {
  it('writes the same bytes as the in-memory sink, through a small buffer', () => {
    const path = join(dir, 'small-buffer.trace');
    const file = new FileTraceSink(path, { traceBufferBytesMax: 64 });
    const memory = new MemoryTraceSink();
    file.writeHeader(header);
    memory.writeHeader(header);
    const big: VisionRecord = { ...record(0), message: 'x'.repeat(300) }; // larger than the buffer
    for (const r of [record(1), big, record(2), record(3)]) {
      file.writeRecord(r);
      memory.writeRecord(r);
    }
    file.close();
    memory.close();
    const bytes = new Uint8Array(readFileSync(path));
    expect(bytes).toEqual(memory.bytes());
    expect(file.bytesWritten).toBe(bytes.length);
    const result = readTrace(bytes);
    expect(result).toMatchObject({ ok: true, header, truncated: false });
    expect(result.ok && result.records.length).toBe(4);
  });

  it('buffers records and writes the header and pains through at once', () => {
    const path = join(dir, 'crash.trace');
    const sink = new FileTraceSink(path); // default 1 MiB buffer
    sink.writeHeader(header);
    const afterHeader = statSync(path).size;
    expect(afterHeader).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) sink.writeRecord(record(i));
    expect(statSync(path).size).toBe(afterHeader); // still buffered
    expect(sink.bufferedBytes).toBeGreaterThan(0);
    sink.writeRecord(record(10, AttentionLevel.mediumPain));
    expect(sink.bufferedBytes).toBe(0);
    sink.writeRecord(record(11)); // buffered, then the "process dies": never closed
    const result = readTrace(new Uint8Array(readFileSync(path)));
    expect(result).toMatchObject({ ok: true, truncated: true });
    expect(result.ok && result.records.map((r) => r.timeMs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    sink.close();
    const closed = readTrace(new Uint8Array(readFileSync(path)));
    expect(closed).toMatchObject({ ok: true, truncated: false });
    expect(closed.ok && closed.records).toHaveLength(12);
  });

  it('a file cut short reads up to the last complete item', () => {
    const path = join(dir, 'cut.trace');
    const sink = new FileTraceSink(path);
    sink.writeHeader(header);
    for (let i = 0; i < 100; i++) sink.writeRecord(record(i));
    sink.close();
    const bytes = new Uint8Array(readFileSync(path));
    const cut = readTrace(bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(cut.ok).toBe(true);
    if (!cut.ok) return;
    expect(cut.truncated).toBe(true);
    expect(cut.records.length).toBeGreaterThan(10);
    expect(cut.records.length).toBeLessThan(100);
    expect(cut.records).toEqual(Array.from({ length: cut.records.length }, (_, i) => record(i)));
  });

  it('refuses misuse: bad buffer size, records after close, a bad path', () => {
    expect(() => new FileTraceSink(join(dir, 'x.trace'), { traceBufferBytesMax: 0 })).toThrow(RangeError);
    expect(() => new FileTraceSink(join(dir, 'missing-dir', 'x.trace'))).toThrow();
    const sink = new FileTraceSink(join(dir, 'closed.trace'));
    sink.writeHeader(header);
    sink.close();
    sink.close();
    expect(() => sink.writeRecord(record(0))).toThrow(RangeError);
  });

  it('records the node version in createdBy', () => {
    expect(traceCreatedBy()).toEqual({ nodeVersion: process.version });
    expect(traceCreatedBy('abc', '0123')).toEqual({
      projectCommit: 'abc',
      nodeVersion: process.version,
      sourceHash: '0123',
    });
  });
});
