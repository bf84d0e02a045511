/**
 * A trace sink that writes to a file: the one piece of the vision plumbing that touches the disk.
 *
 * Items are encoded by `TraceStreamEncoder` (src/vision/trace.ts) and collected in one preallocated
 * buffer of `traceBufferBytesMax` bytes, which is written out with synchronous `writeSync` when the
 * next item would not fit, when `flush()` is called and on `close()`. Synchronous on purpose: the
 * simulator runs on one thread in virtual time, and an async write would let the file's contents
 * depend on the event loop rather than on the run. The header, and any record at or above
 * `flushLevel` (pains, by default from `mediumPain`), are written through at once, so a run that
 * crashes leaves a readable trace that ends with its last pain; `readTrace` reports the missing end
 * item as `truncated`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { AttentionLevel, type AttentionThreshold } from '../../src/vision/attention.js';
import type { VisionRecord } from '../../src/vision/record.js';
import {
  type TraceCreatedBy,
  type TraceHeader,
  type TraceSink,
  TraceStreamEncoder,
} from '../../src/vision/trace.js';

/** Default size of the write buffer. */
export const traceBufferBytesMaxDefault = 1024 * 1024;
/** Largest write buffer accepted. */
export const traceBufferBytesMaxLimit = 256 * 1024 * 1024;

export interface FileTraceSinkOptions {
  /** Bytes buffered before a write; default `traceBufferBytesMaxDefault`. */
  readonly traceBufferBytesMax?: number;
  /** Records at or above this level are written through at once; default `mediumPain`. */
  readonly flushLevel?: AttentionThreshold;
}

export class FileTraceSink implements TraceSink {
  readonly path: string;
  readonly traceBufferBytesMax: number;
  readonly flushLevel: AttentionThreshold;
  /** Bytes handed to the file so far. */
  bytesWritten = 0;

  private fd: number | undefined;
  private readonly buffer: Uint8Array;
  private used = 0;
  private readonly encoder = new TraceStreamEncoder();

  /** Creates (or truncates) the file at once, so a bad path fails here and not mid-run. */
  constructor(path: string, opts: FileTraceSinkOptions = {}) {
    const max = opts.traceBufferBytesMax ?? traceBufferBytesMaxDefault;
    if (!Number.isInteger(max) || max < 1 || max > traceBufferBytesMaxLimit) {
      throw new RangeError(`traceBufferBytesMax must be an integer in [1, ${traceBufferBytesMaxLimit}]`);
    }
    this.path = path;
    this.traceBufferBytesMax = max;
    this.flushLevel = opts.flushLevel ?? AttentionLevel.mediumPain;
    this.buffer = new Uint8Array(max);
    this.fd = openSync(path, 'w');
  }

  /** Records written (buffered or on disk). */
  get recordCount(): number {
    return this.encoder.recordCount;
  }

  /** Bytes waiting in the buffer. */
  get bufferedBytes(): number {
    return this.used;
  }

  writeHeader(header: TraceHeader): void {
    this.put(this.encoder.header(header));
    this.flush();
  }

  writeRecord(record: VisionRecord): void {
    this.put(this.encoder.record(record));
    if (record.level >= this.flushLevel) this.flush();
  }

  /** Writes an item of kind ≥ 2 (a snapshot, a run log) through at once. */
  writeItem(itemKind: number, fields: readonly unknown[]): void {
    this.put(this.encoder.other(itemKind, fields));
    this.flush();
  }

  /** Writes the buffered bytes to the file. */
  flush(): void {
    if (this.used === 0) return;
    this.writeAll(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  /** Appends the end item, writes everything and closes the file. A second call does nothing. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      if (this.encoder.state === 'open') this.put(this.encoder.end());
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private put(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.traceBufferBytesMax) this.flush();
    if (bytes.length > this.traceBufferBytesMax) {
      this.writeAll(bytes);
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  private writeAll(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new RangeError(`trace file ${this.path} is closed`);
    let at = 0;
    // writeSync may write less than asked; each call writes at least one byte or throws.
    while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
    this.bytesWritten += bytes.length;
  }
}

/** `createdBy` for a trace written by this process. */
export function traceCreatedBy(projectCommit?: string, sourceHash?: string): TraceCreatedBy {
  return {
    ...(projectCommit === undefined ? {} : { projectCommit }),
    nodeVersion: process.version,
    ...(sourceHash === undefined ? {} : { sourceHash }),
  };
}
