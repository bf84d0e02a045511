/**
 * The trace format: a run's vision records, with the seed and configuration that reproduce them.
 *
 * Layout (version 1). A trace is a sequence of *items*; each item is a 4-byte big-endian unsigned
 * length n (1 ≤ n ≤ `traceItemSizeMaxBytes`) followed by n bytes holding one msgpack value.
 * - Item 0, the header: a msgpack map `{ format: 'dcomms-trace', version, seed, config, createdBy }`.
 *   Its `format` and `version` keys keep their meaning in every future version, so any reader can
 *   tell "not a trace" from "a trace too new for me".
 * - Every later item is a msgpack array whose first element is the item kind:
 *   `[1, timeMs, peer, module, level, message]` or `[1, …, attributes]` for a record,
 *   `[0, recordCount]` for the end item a writer appends when it is closed.
 *   Kinds 2 and up are reserved for later items (network snapshots); a reader that does not know a
 *   kind passes it on as `other`, so adding a kind is a compatible change, while changing an
 *   existing item's meaning needs a new version.
 *
 * Why length-prefixed items: a run that crashes leaves a file cut anywhere; the reader returns every
 * complete item before the cut and says `truncated`. Why the end item: a file cut exactly at an item
 * boundary would otherwise look complete; without its end item it is reported as truncated, and the
 * end item's count catches lost records.
 *
 * Reading never throws: `readTrace` and `TraceReader` return results with codes from a closed set.
 * Writing validates its input (the header's config must be JSON-safe) and throws RangeError on
 * misuse, since what is written comes from the program, not the network.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { isAttentionLevel } from './attention.js';
import { type Attributes, boundRecord, isAttributeValue, type VisionRecord } from './record.js';

export const traceFormat = 'dcomms-trace';
export const traceFormatVersion = 1;
/** Bytes of an item's length prefix. */
export const traceLengthPrefixBytes = 4;
/** Largest item (a network snapshot of many peers is the big one). */
export const traceItemSizeMaxBytes = 64 * 1024 * 1024;
/** Most records `readTrace` returns by default; more gives `tooLarge`. */
export const traceRecordsReadMax = 10_000_000;
/** Deepest nesting accepted in a header's config. */
export const traceConfigDepthMax = 32;

export const traceItemKind = { end: 0, record: 1 } as const;

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export interface TraceCreatedBy {
  /** The project's commit id, when known. */
  readonly projectCommit?: string;
  /** The writer's Node.js version (such as 'v20.20.2'), when known. */
  readonly nodeVersion?: string;
  /**
   * A hash of the sources that shape a run (the TypeScript of src/, sim/ and testers/ without tests),
   * when known: two commits with the same sources replay alike.
   */
  readonly sourceHash?: string;
}

export interface TraceHeader {
  readonly format: typeof traceFormat;
  readonly version: typeof traceFormatVersion;
  /** The run's root seed. */
  readonly seed: string | number;
  /** The run's configuration (scenario, knobs): enough, with the seed, to replay it. */
  readonly config: JsonObject;
  readonly createdBy: TraceCreatedBy;
}

/** Builds a version-1 header. */
export function traceHeader(
  seed: string | number,
  config: JsonObject,
  createdBy: TraceCreatedBy = {},
): TraceHeader {
  return { format: traceFormat, version: traceFormatVersion, seed, config, createdBy };
}

export type TraceItem =
  | { readonly kind: 'header'; readonly header: TraceHeader }
  | { readonly kind: 'record'; readonly record: VisionRecord }
  | { readonly kind: 'end'; readonly recordCount: number }
  /** An item of a kind ≥ 2 (reserved for later items such as snapshots). */
  | { readonly kind: 'other'; readonly itemKind: number; readonly fields: readonly unknown[] };

/** True for null, booleans, finite numbers, strings, and arrays and plain objects of them. */
export function isJsonSafe(x: unknown, depthMax = traceConfigDepthMax): x is JsonValue {
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return true;
  if (typeof x === 'number') return Number.isFinite(x);
  if (typeof x !== 'object' || depthMax <= 0) return false;
  if (Array.isArray(x)) return x.every((v) => isJsonSafe(v, depthMax - 1));
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  for (const [k, v] of Object.entries(x)) {
    if (k === '__proto__' || !isJsonSafe(v, depthMax - 1)) return false;
  }
  return true;
}

function isJsonObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && isJsonSafe(x);
}

// ---- encoding ----

const encoder = new Encoder({ ignoreUndefined: true });

function frame(value: unknown): Uint8Array {
  const body = encoder.encodeSharedRef(value);
  if (body.length > traceItemSizeMaxBytes) {
    throw new RangeError(`trace item of ${body.length} bytes exceeds traceItemSizeMaxBytes`);
  }
  const out = new Uint8Array(traceLengthPrefixBytes + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, traceLengthPrefixBytes);
  return out;
}

function checkHeader(h: TraceHeader): void {
  if (h.format !== traceFormat || h.version !== traceFormatVersion) {
    throw new RangeError(`trace header must have format '${traceFormat}' and version ${traceFormatVersion}`);
  }
  if (typeof h.seed !== 'string' && !(typeof h.seed === 'number' && Number.isFinite(h.seed))) {
    throw new RangeError('trace header seed must be a string or a finite number');
  }
  if (!isJsonObject(h.config)) throw new RangeError('trace header config must be a JSON-safe object');
  const c = h.createdBy;
  if (
    (c.projectCommit !== undefined && typeof c.projectCommit !== 'string') ||
    (c.nodeVersion !== undefined && typeof c.nodeVersion !== 'string') ||
    (c.sourceHash !== undefined && typeof c.sourceHash !== 'string')
  ) {
    throw new RangeError('trace header createdBy fields must be strings');
  }
}

function recordFields(record: VisionRecord): unknown[] {
  const r = boundRecord(record);
  const fields: unknown[] = [traceItemKind.record, r.timeMs, r.peer, r.module, r.level, r.message];
  let a = r.attributes;
  if (a !== undefined) {
    // A '__proto__' key cannot be decoded safely, so it is never written.
    if (Object.hasOwn(a, '__proto__')) {
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(a)) if (k !== '__proto__') copy[k] = v;
      a = copy as Attributes;
    }
    fields.push(a);
  }
  return fields;
}

/**
 * One framed item (length prefix + msgpack). Records are clipped to the limits of `record.ts`.
 * Throws RangeError for a malformed header, a negative end count or an `other` kind below 2.
 */
export function encodeTraceItem(item: TraceItem): Uint8Array {
  switch (item.kind) {
    case 'header': {
      checkHeader(item.header);
      const { format, version, seed, config, createdBy } = item.header;
      return frame({ format, version, seed, config, createdBy });
    }
    case 'record':
      return frame(recordFields(item.record));
    case 'end':
      if (!Number.isSafeInteger(item.recordCount) || item.recordCount < 0) {
        throw new RangeError('end item recordCount must be a non-negative integer');
      }
      return frame([traceItemKind.end, item.recordCount]);
    case 'other':
      if (!Number.isInteger(item.itemKind) || item.itemKind < 2 || item.itemKind > 0xffff) {
        throw new RangeError('other items have a kind in [2, 65535]');
      }
      return frame([item.itemKind, ...item.fields]);
  }
}

/**
 * The writer's side of the format as a state machine: header first, then records (and other items),
 * then the end item. Sinks use it so every sink writes the same bytes in the same order.
 */
export class TraceStreamEncoder {
  private stateValue: 'new' | 'open' | 'ended' = 'new';
  /** Records encoded so far. */
  recordCount = 0;

  get state(): 'new' | 'open' | 'ended' {
    return this.stateValue;
  }

  header(h: TraceHeader): Uint8Array {
    if (this.stateValue !== 'new') throw new RangeError('trace header written twice');
    const bytes = encodeTraceItem({ kind: 'header', header: h });
    this.stateValue = 'open';
    return bytes;
  }

  record(r: VisionRecord): Uint8Array {
    this.checkOpen();
    const bytes = encodeTraceItem({ kind: 'record', record: r });
    this.recordCount++;
    return bytes;
  }

  other(itemKind: number, fields: readonly unknown[]): Uint8Array {
    this.checkOpen();
    return encodeTraceItem({ kind: 'other', itemKind, fields });
  }

  end(): Uint8Array {
    this.checkOpen();
    this.stateValue = 'ended';
    return encodeTraceItem({ kind: 'end', recordCount: this.recordCount });
  }

  private checkOpen(): void {
    if (this.stateValue === 'new') throw new RangeError('trace record written before the header');
    if (this.stateValue === 'ended') throw new RangeError('trace written after close');
  }
}

// ---- sinks ----

/** Where a run's trace goes. `writeHeader` first and once; `close` appends the end item. */
export interface TraceSink {
  writeHeader(header: TraceHeader): void;
  writeRecord(record: VisionRecord): void;
  /** Writes an item of kind ≥ 2 (a network snapshot, a run log: src/vision/snapshot.ts). */
  writeItem(itemKind: number, fields: readonly unknown[]): void;
  close(): void;
}

/** Default cap of a `MemoryTraceSink`. */
export const memoryTraceBytesMaxDefault = 16 * 1024 * 1024;

/**
 * A sink that keeps the trace in memory (tests, and the simulator when it hands a trace over
 * without a file). Bounded: records that would take it past `bytesMax` are dropped and counted,
 * and the bytes stay a valid trace whose end item counts only the records kept.
 */
export class MemoryTraceSink implements TraceSink {
  readonly bytesMax: number;
  recordsDropped = 0;
  private readonly encoder = new TraceStreamEncoder();
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  constructor(bytesMax = memoryTraceBytesMaxDefault) {
    if (!Number.isInteger(bytesMax) || bytesMax < 1)
      throw new RangeError('bytesMax must be a positive integer');
    this.bytesMax = bytesMax;
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.length;
  }

  writeHeader(header: TraceHeader): void {
    this.append(this.encoder.header(header), true);
  }

  writeRecord(record: VisionRecord): void {
    if (this.encoder.state !== 'open') {
      this.encoder.record(record); // throws the state error
      return;
    }
    // Encode first to know the size; undo the count if it does not fit.
    const bytes = this.encoder.record(record);
    if (!this.append(bytes, false)) {
      this.encoder.recordCount--;
      this.recordsDropped++;
    }
  }

  /** Items of kind ≥ 2 are always kept (they are few and the reason a trace is looked at). */
  writeItem(itemKind: number, fields: readonly unknown[]): void {
    this.append(this.encoder.other(itemKind, fields), true);
  }

  close(): void {
    if (this.encoder.state === 'ended') return;
    this.append(this.encoder.end(), true);
  }

  /** The trace so far, as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private append(bytes: Uint8Array, always: boolean): boolean {
    if (!always && this.length + bytes.length > this.bytesMax) return false;
    this.chunks.push(bytes);
    this.length += bytes.length;
    return true;
  }
}

// ---- reading ----

export type TraceReadErrorCode =
  /** The bytes do not start with a dcomms-trace header. */
  | 'notATrace'
  /** The bytes end inside the header (a run that died at once). */
  | 'truncatedHeader'
  /** A trace of a later version than this reader knows. */
  | 'newerVersion'
  /** A complete item that is not valid: bad length, bad msgpack, bad fields, data after the end item. */
  | 'corrupt'
  /** More records than the caller's `recordsMax`. */
  | 'tooLarge';

export type TraceHeaderResult =
  | { readonly ok: true; readonly header: TraceHeader }
  | { readonly ok: false; readonly code: TraceReadErrorCode; readonly offset: number };

export type TraceItemResult =
  | { readonly kind: 'record'; readonly record: VisionRecord }
  | { readonly kind: 'end'; readonly recordCount: number }
  | { readonly kind: 'other'; readonly itemKind: number; readonly fields: readonly unknown[] }
  /** The bytes ended at an item boundary, with no end item: the writer did not close. */
  | { readonly kind: 'eof' }
  /** The end item was read and nothing follows it. */
  | { readonly kind: 'done' }
  /** The bytes ended inside an item. */
  | { readonly kind: 'truncated' }
  | { readonly kind: 'corrupt'; readonly offset: number };

const decoder = new Decoder({
  maxStrLength: traceItemSizeMaxBytes,
  maxBinLength: traceItemSizeMaxBytes,
  maxArrayLength: 1 << 20,
  maxMapLength: 1 << 20,
  maxExtLength: traceItemSizeMaxBytes,
});

function decodeValue(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: decoder.decode(bytes) };
  } catch {
    return { ok: false };
  }
}

function isPlainMap(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function parseRecord(f: readonly unknown[]): VisionRecord | undefined {
  if (f.length !== 6 && f.length !== 7) return undefined;
  const [, timeMs, peer, module, level, message, attributes] = f;
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) return undefined;
  if (typeof peer !== 'string' || typeof module !== 'string' || typeof message !== 'string') return undefined;
  if (!isAttentionLevel(level)) return undefined;
  const base = { timeMs, peer, module, level, message };
  if (f.length === 6) return base;
  if (!isPlainMap(attributes)) return undefined;
  for (const v of Object.values(attributes)) if (!isAttributeValue(v)) return undefined;
  return { ...base, attributes: attributes as Attributes };
}

/**
 * Reads a trace item by item from bytes in memory. Never throws. Once it returns `eof`, `done`,
 * `truncated` or `corrupt` it has stopped, and further calls return the same.
 */
export class TraceReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private headerRead = false;
  private ended = false;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Byte offset of the next item. */
  get offset(): number {
    return this.pos;
  }

  /** Reads the header; call it once, before `next`. */
  readHeader(): TraceHeaderResult {
    if (this.headerRead) return { ok: false, code: 'corrupt', offset: 0 };
    const b = this.bytes;
    if (b.length < traceLengthPrefixBytes) {
      // Too short even for the length: a trace cut at once, unless what is there rules it out.
      return { ok: false, code: b.length === 0 || b[0] === 0 ? 'truncatedHeader' : 'notATrace', offset: 0 };
    }
    const n = this.view.getUint32(0, false);
    if (n < 1 || n > traceItemSizeMaxBytes) return { ok: false, code: 'notATrace', offset: 0 };
    if (b.length > traceLengthPrefixBytes) {
      // The header is a msgpack map: fixmap (0x80-0x8f), map16 (0xde) or map32 (0xdf).
      const t = b[traceLengthPrefixBytes]!;
      if (!((t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf))
        return { ok: false, code: 'notATrace', offset: 0 };
    }
    if (b.length < traceLengthPrefixBytes + n) return { ok: false, code: 'truncatedHeader', offset: 0 };
    const d = decodeValue(b.subarray(traceLengthPrefixBytes, traceLengthPrefixBytes + n));
    if (!d.ok || !isPlainMap(d.value)) return { ok: false, code: 'notATrace', offset: 0 };
    const h = d.value;
    if (h.format !== traceFormat) return { ok: false, code: 'notATrace', offset: 0 };
    const v = h.version;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      return { ok: false, code: 'corrupt', offset: 0 };
    if (v > traceFormatVersion) return { ok: false, code: 'newerVersion', offset: 0 };
    const { seed, config, createdBy } = h;
    if (typeof seed !== 'string' && !(typeof seed === 'number' && Number.isFinite(seed))) {
      return { ok: false, code: 'corrupt', offset: 0 };
    }
    if (!isJsonObject(config) || !isPlainMap(createdBy)) return { ok: false, code: 'corrupt', offset: 0 };
    const { projectCommit, nodeVersion, sourceHash } = createdBy;
    if (
      (projectCommit !== undefined && typeof projectCommit !== 'string') ||
      (nodeVersion !== undefined && typeof nodeVersion !== 'string') ||
      (sourceHash !== undefined && typeof sourceHash !== 'string')
    ) {
      return { ok: false, code: 'corrupt', offset: 0 };
    }
    const by: TraceCreatedBy = {
      ...(projectCommit === undefined ? {} : { projectCommit }),
      ...(nodeVersion === undefined ? {} : { nodeVersion }),
      ...(sourceHash === undefined ? {} : { sourceHash }),
    };
    this.headerRead = true;
    this.pos = traceLengthPrefixBytes + n;
    return { ok: true, header: traceHeader(seed, config, by) };
  }

  /** The next item after the header (call `readHeader` first). */
  next(): TraceItemResult {
    const at = this.pos;
    if (!this.headerRead) return { kind: 'corrupt', offset: at };
    const b = this.bytes;
    const left = b.length - at;
    if (left === 0) return this.ended ? { kind: 'done' } : { kind: 'eof' };
    if (this.ended) return { kind: 'corrupt', offset: at }; // nothing may follow the end item
    if (left < traceLengthPrefixBytes) return { kind: 'truncated' };
    const n = this.view.getUint32(at, false);
    if (n < 1 || n > traceItemSizeMaxBytes) return { kind: 'corrupt', offset: at };
    if (left < traceLengthPrefixBytes + n) return { kind: 'truncated' };
    const d = decodeValue(b.subarray(at + traceLengthPrefixBytes, at + traceLengthPrefixBytes + n));
    if (!d.ok || !Array.isArray(d.value) || d.value.length === 0) return { kind: 'corrupt', offset: at };
    const f = d.value as unknown[];
    const kind = f[0];
    if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 0xffff) {
      return { kind: 'corrupt', offset: at };
    }
    let result: TraceItemResult;
    if (kind === traceItemKind.record) {
      const record = parseRecord(f);
      if (record === undefined) return { kind: 'corrupt', offset: at };
      result = { kind: 'record', record };
    } else if (kind === traceItemKind.end) {
      const count = f[1];
      if (f.length !== 2 || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
        return { kind: 'corrupt', offset: at };
      }
      this.ended = true;
      result = { kind: 'end', recordCount: count };
    } else {
      result = { kind: 'other', itemKind: kind, fields: f.slice(1) };
    }
    this.pos = at + traceLengthPrefixBytes + n;
    return result;
  }
}

export type TraceReadResult =
  | {
      readonly ok: true;
      readonly header: TraceHeader;
      readonly records: readonly VisionRecord[];
      /** True when the trace has no end item: the writer did not close (crash, or still running). */
      readonly truncated: boolean;
      /** Items of kinds this reader passes over (see `TraceReader` for reading them). */
      readonly otherItemCount: number;
    }
  | { readonly ok: false; readonly code: TraceReadErrorCode; readonly offset: number };

export interface ReadTraceOptions {
  /** Most records returned; default `traceRecordsReadMax`. */
  readonly recordsMax?: number;
}

/** Reads a whole trace held in memory. Never throws. */
export function readTrace(bytes: Uint8Array, opts: ReadTraceOptions = {}): TraceReadResult {
  const recordsMax = opts.recordsMax ?? traceRecordsReadMax;
  const reader = new TraceReader(bytes);
  const h = reader.readHeader();
  if (!h.ok) return h;
  const records: VisionRecord[] = [];
  let otherItemCount = 0;
  // Each step consumes at least one byte or returns, so the loop ends within bytes.length steps.
  for (;;) {
    const at = reader.offset;
    const item = reader.next();
    switch (item.kind) {
      case 'record':
        if (records.length >= recordsMax) return { ok: false, code: 'tooLarge', offset: at };
        records.push(item.record);
        break;
      case 'other':
        otherItemCount++;
        break;
      case 'end': {
        if (item.recordCount !== records.length) return { ok: false, code: 'corrupt', offset: at };
        const rest = reader.next();
        if (rest.kind === 'corrupt') return { ok: false, code: 'corrupt', offset: rest.offset };
        return { ok: true, header: h.header, records, truncated: false, otherItemCount };
      }
      case 'done': // unreachable: `done` only follows an `end`, handled above
      case 'eof':
      case 'truncated':
        return { ok: true, header: h.header, records, truncated: true, otherItemCount };
      case 'corrupt':
        return { ok: false, code: 'corrupt', offset: item.offset };
    }
  }
}
