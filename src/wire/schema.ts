/**
 * The schema machinery shared by every packet codec.
 *
 * A packet body is a msgpack fixed-order array; a packet's schema is the ordered list of its fields,
 * each with a kind (bounded unsigned integer, code from a closed set, byte string of exact or bounded
 * length, endpoint, list of fixed-length byte strings) and whether it may be nil. One generic pair of
 * functions walks a schema: `encodeBody` validates and throws `RangeError` naming the field (a caller
 * bug), `decodeBody` validates untrusted values and reports the first bad field (never throws).
 * Cross-field rules (e.g. "no link token ⇔ no link MAC") are a per-packet `refine` hook.
 *
 * Decoded byte fields are views into a private copy of the datagram made once per decode, so they
 * never alias the caller's receive buffer and cost one allocation, not one per field.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { endpointBytes, msgpackArrayLengthMax, msgpackBinLengthMaxBytes } from './constants.js';

/** IPv4 endpoint as carried on the wire. */
export interface WireEndpoint {
  /** 4 address bytes, network order. */
  readonly ipv4: Uint8Array;
  /** UDP port, 1..65535. */
  readonly port: number;
}

/** Field kinds. `uint` covers u8/u16/u32 and safe-integer ranges; `code` is a closed enum 0..max. */
export type FieldKind =
  | { readonly t: 'uint'; readonly min: number; readonly max: number }
  | { readonly t: 'mask'; readonly mask: number }
  | { readonly t: 'bytes'; readonly min: number; readonly max: number }
  | { readonly t: 'int8s'; readonly len: number }
  | { readonly t: 'endpoint' }
  | { readonly t: 'bytesList'; readonly len: number; readonly maxCount: number };

export interface FieldSpec<K extends string = string> {
  readonly name: K;
  readonly kind: FieldKind;
  readonly optional: boolean;
}

export const uint = (min: number, max: number): FieldKind => ({ t: 'uint', min, max });
export const mask = (m: number): FieldKind => ({ t: 'mask', mask: m });
export const bytes = (len: number): FieldKind => ({ t: 'bytes', min: len, max: len });
export const bytesRange = (min: number, max: number): FieldKind => ({ t: 'bytes', min, max });
export const int8s = (len: number): FieldKind => ({ t: 'int8s', len });
export const endpoint: FieldKind = { t: 'endpoint' };
export const bytesList = (len: number, maxCount: number): FieldKind => ({ t: 'bytesList', len, maxCount });

export function req<K extends string>(name: K, kind: FieldKind): FieldSpec<K> {
  return { name, kind, optional: false };
}
export function opt<K extends string>(name: K, kind: FieldKind): FieldSpec<K> {
  return { name, kind, optional: true };
}

/**
 * Shared msgpack codec objects. The decoder's limits make the library refuse, before allocating,
 * anything no valid datagram contains: strings (no field is a string), maps, extensions, arrays
 * longer than 32, byte strings longer than a datagram.
 */
export const bodyDecoder = new Decoder({
  maxStrLength: 0,
  maxBinLength: msgpackBinLengthMaxBytes,
  maxArrayLength: msgpackArrayLengthMax,
  maxMapLength: 0,
  maxExtLength: 0,
  useBigInt64: false,
});
export const bodyEncoder = new Encoder({ initialBufferSize: 1280, ignoreUndefined: false });

/** Why a value failed validation (for `RangeError` messages); null when valid. */
export function invalidReason(kind: FieldKind, v: unknown): string | null {
  switch (kind.t) {
    case 'uint':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return 'not an integer';
      if (v < kind.min || v > kind.max) return `outside ${kind.min}..${kind.max}`;
      return null;
    case 'mask':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return 'not a non-negative integer';
      if ((v & ~kind.mask) !== 0 || v > kind.mask) return `has bits outside 0x${kind.mask.toString(16)}`;
      return null;
    case 'bytes':
      if (!(v instanceof Uint8Array)) return 'not a Uint8Array';
      if (v.length < kind.min || v.length > kind.max) {
        return kind.min === kind.max
          ? `length ${v.length}, expected ${kind.min}`
          : `length ${v.length} outside ${kind.min}..${kind.max}`;
      }
      return null;
    case 'int8s':
      if (!(v instanceof Int8Array)) return 'not an Int8Array';
      if (v.length !== kind.len) return `length ${v.length}, expected ${kind.len}`;
      return null;
    case 'endpoint': {
      if (typeof v !== 'object' || v === null) return 'not an endpoint';
      const e = v as Partial<WireEndpoint>;
      if (!(e.ipv4 instanceof Uint8Array) || e.ipv4.length !== 4) return 'ipv4 is not 4 bytes';
      if (typeof e.port !== 'number' || !Number.isInteger(e.port) || e.port < 1 || e.port > 0xffff) {
        return 'port outside 1..65535';
      }
      return null;
    }
    case 'bytesList': {
      if (!Array.isArray(v)) return 'not an array';
      if (v.length > kind.maxCount) return `count ${v.length} above ${kind.maxCount}`;
      for (const item of v) {
        if (!(item instanceof Uint8Array) || item.length !== kind.len)
          return `an item is not ${kind.len} bytes`;
      }
      return null;
    }
  }
}

/** Value as msgpack will carry it (endpoint → 6-byte bin, Int8Array → bin). */
function toWire(kind: FieldKind, v: unknown): unknown {
  if (kind.t === 'endpoint') {
    const e = v as WireEndpoint;
    const out = new Uint8Array(endpointBytes);
    out.set(e.ipv4, 0);
    out[4] = e.port >>> 8;
    out[5] = e.port & 0xff;
    return out;
  }
  if (kind.t === 'int8s') {
    const a = v as Int8Array;
    return new Uint8Array(a.buffer, a.byteOffset, a.length);
  }
  return v;
}

/**
 * Builds the msgpack array of a packet's fields in schema order. Throws `RangeError` naming the
 * first invalid field: encoding an invalid packet is a programmer error, never a network event.
 */
export function bodyArray(
  packetName: string,
  specs: readonly FieldSpec[],
  p: Record<string, unknown>,
): unknown[] {
  const arr = new Array<unknown>(specs.length);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const v = p[s.name];
    if (v === null || v === undefined) {
      if (!s.optional) throw new RangeError(`${packetName}.${s.name}: required field is ${String(v)}`);
      arr[i] = null;
      continue;
    }
    const why = invalidReason(s.kind, v);
    if (why !== null) throw new RangeError(`${packetName}.${s.name}: ${why}`);
    arr[i] = toWire(s.kind, v);
  }
  return arr;
}

/** Encodes a value with the shared encoder (returns a fresh array). */
export function msgpackEncode(value: unknown): Uint8Array {
  return bodyEncoder.encode(value);
}

/**
 * Validates one decoded untrusted value and converts it to its packet form. Returns `undefined`
 * when invalid (`null` is a valid result for an absent optional field).
 */
function fromWire(kind: FieldKind, v: unknown): unknown {
  switch (kind.t) {
    case 'uint':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= kind.min && v <= kind.max
        ? v
        : undefined;
    case 'mask':
      return typeof v === 'number' &&
        Number.isSafeInteger(v) &&
        v >= 0 &&
        v <= kind.mask &&
        (v & ~kind.mask) === 0
        ? v
        : undefined;
    case 'bytes':
      return v instanceof Uint8Array && v.length >= kind.min && v.length <= kind.max ? v : undefined;
    case 'int8s':
      return v instanceof Uint8Array && v.length === kind.len
        ? new Int8Array(v.buffer, v.byteOffset, v.length)
        : undefined;
    case 'endpoint': {
      if (!(v instanceof Uint8Array) || v.length !== endpointBytes) return undefined;
      const port = (v[4]! << 8) | v[5]!;
      if (port === 0) return undefined;
      return { ipv4: v.subarray(0, 4), port } satisfies WireEndpoint;
    }
    case 'bytesList': {
      if (!Array.isArray(v) || v.length > kind.maxCount) return undefined;
      for (const item of v) {
        if (!(item instanceof Uint8Array) || item.length !== kind.len) return undefined;
      }
      return v as Uint8Array[];
    }
  }
}

/** Outcome of validating a decoded array against a schema: the fields, or the first bad field's name. */
export type FieldsResult = { ok: true; fields: Record<string, unknown> } | { ok: false; field: string };

/** Validates a decoded body array (already known to have `specs.length` items). Never throws. */
export function fieldsFromArray(specs: readonly FieldSpec[], arr: readonly unknown[]): FieldsResult {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const v = arr[i];
    if (v === null) {
      if (!s.optional) return { ok: false, field: s.name };
      fields[s.name] = null;
      continue;
    }
    const w = fromWire(s.kind, v);
    if (w === undefined) return { ok: false, field: s.name };
    fields[s.name] = w;
  }
  return { ok: true, fields };
}

/** Fresh big-endian encoding of an endpoint (for signed bytes and inner plaintexts). */
export function endpointToBytes(e: WireEndpoint): Uint8Array {
  return toWire(endpoint, e) as Uint8Array;
}

/** Equality of two byte strings (not constant-time: for non-secret values only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decode error codes — the closed set every decoder in src/wire returns:
 * - `tooShort`: fewer than 3 bytes (version, type, at least one body byte);
 * - `tooLarge`: more than `datagramSizeMaxBytes` (or an inner blob above its bound);
 * - `badVersion`: first byte is not `protocolVersion`;
 * - `unknownType`: second byte is not a packet type of this version;
 * - `badBody`: the body is not well-formed msgpack within the decoder's limits (truncated, a string,
 *   map or extension, an over-long array or byte string);
 * - `badShape`: the body is not an array of exactly the packet's field count;
 * - `badField`: a field has the wrong kind, length or range, or breaks a cross-field rule (the
 *   result names the field, for diagnostics only);
 * - `trailingBytes`: bytes follow the body's array.
 */
export type DecodeErrorCode =
  | 'tooShort'
  | 'tooLarge'
  | 'badVersion'
  | 'unknownType'
  | 'badBody'
  | 'badShape'
  | 'badField'
  | 'trailingBytes';

export const decodeErrorCodes: readonly DecodeErrorCode[] = [
  'tooShort',
  'tooLarge',
  'badVersion',
  'unknownType',
  'badBody',
  'badShape',
  'badField',
  'trailingBytes',
];

export type DecodeFailure = { readonly ok: false; readonly code: DecodeErrorCode; readonly field?: string };

/** A fixarray header (0x90 | n) for n < 16: every schema here has fewer than 16 fields. */
const fixarrayBase = 0x90;

/**
 * Decodes a msgpack fixed-order array of `specs.length` items from untrusted `body` and validates
 * it. `body` must be a private buffer (decoded byte fields are views into it). Never throws.
 *
 * The array header is checked before msgpack runs: a valid body always starts with the fixarray
 * header of its exact field count, so most garbage is rejected without touching the library.
 */
export function decodeArrayBody(
  body: Uint8Array,
  specs: readonly FieldSpec[],
): { readonly ok: true; readonly fields: Record<string, unknown> } | DecodeFailure {
  if (body.length === 0) return { ok: false, code: 'tooShort' };
  const head = body[0]!;
  if (head !== fixarrayBase + specs.length) {
    // Any other array header (fixarray of another size, array16/32) is a shape error; the rest is
    // not even an array.
    const isArray = (head & 0xf0) === fixarrayBase || head === 0xdc || head === 0xdd;
    return { ok: false, code: isArray ? 'badShape' : 'badBody' };
  }
  let decoded: unknown;
  // The library reports malformed input by throwing; capturing a stack trace is most of the cost of
  // a throw, and a flood of garbage must stay cheap, so traces are off for the duration of the call.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    decoded = bodyDecoder.decode(body);
  } catch (e) {
    // The library signals trailing data with a RangeError "Extra N of M byte(s) …"; everything
    // else it throws (DecodeError, "Insufficient data") is a malformed body.
    const trailing = e instanceof RangeError && e.message.startsWith('Extra ');
    return { ok: false, code: trailing ? 'trailingBytes' : 'badBody' };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (!Array.isArray(decoded) || decoded.length !== specs.length) return { ok: false, code: 'badShape' };
  const r = fieldsFromArray(specs, decoded);
  if (!r.ok) return { ok: false, code: 'badField', field: r.field };
  return r;
}
