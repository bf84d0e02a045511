/**
 * The per-datagram fast path of the schema codec: writing a packet body straight into msgpack, and reading
 * the common shapes of a body back, without going through the general msgpack library.
 *
 * Theory of operation. Every packet body is a fixed-order array whose items are nil, a non-negative
 * integer, a byte string, or (for `bytesList` fields) an array of byte strings. For those values the
 * msgpack encoding the library produces is fully determined (smallest integer form, smallest bin header,
 * fixarray for fewer than 16 items), so `encodeBody` writes exactly those bytes after validating each
 * field as `bodyArray` does (same order, same `RangeError` messages). Tests compare its output byte for
 * byte with the library's on random packets.
 *
 * `readBodyItems` parses a body made only of nil, unsigned integers up to 32 bits, byte strings and
 * arrays of those (one level deep), with nothing left over, and returns the same JavaScript values the
 * library's decoder returns for it (byte strings as views into `body`). On anything else — floats,
 * signed or 64-bit integers, strings, maps, extensions, a length above the decoder's limits, truncation,
 * trailing bytes — it returns undefined and the caller runs the library, so every decision on untrusted
 * input that is not of the common shape stays with the library's decoder and its error codes.
 */
import { msgpackArrayLengthMax, msgpackBinLengthMaxBytes } from './constants.js';
import { type FieldSpec, invalidReason } from './schema.js';

/** Scratch for one body; a body longer than this is encoded into a fresh, larger array. */
const scratchBytesInitial = 2048;
let scratch = new Uint8Array(scratchBytesInitial);
let pos = 0;

function reserve(n: number): void {
  if (pos + n <= scratch.length) return;
  const next = new Uint8Array(Math.max(scratch.length * 2, pos + n));
  next.set(scratch.subarray(0, pos));
  scratch = next;
}

function writeUint(v: number): void {
  reserve(9);
  const s = scratch;
  if (v < 0x80) {
    s[pos++] = v;
  } else if (v < 0x100) {
    s[pos++] = 0xcc;
    s[pos++] = v;
  } else if (v < 0x10000) {
    s[pos++] = 0xcd;
    s[pos++] = v >>> 8;
    s[pos++] = v & 0xff;
  } else if (v < 0x100000000) {
    s[pos++] = 0xce;
    s[pos++] = v >>> 24;
    s[pos++] = (v >>> 16) & 0xff;
    s[pos++] = (v >>> 8) & 0xff;
    s[pos++] = v & 0xff;
  } else {
    // uint 64, as the library writes it: high 32 bits, then low 32 bits, big-endian.
    const high = Math.floor(v / 0x100000000);
    const low = v >>> 0;
    s[pos++] = 0xcf;
    s[pos++] = high >>> 24;
    s[pos++] = (high >>> 16) & 0xff;
    s[pos++] = (high >>> 8) & 0xff;
    s[pos++] = high & 0xff;
    s[pos++] = low >>> 24;
    s[pos++] = (low >>> 16) & 0xff;
    s[pos++] = (low >>> 8) & 0xff;
    s[pos++] = low & 0xff;
  }
}

function writeBinHeader(n: number): void {
  reserve(5 + n);
  const s = scratch;
  if (n < 0x100) {
    s[pos++] = 0xc4;
    s[pos++] = n;
  } else if (n < 0x10000) {
    s[pos++] = 0xc5;
    s[pos++] = n >>> 8;
    s[pos++] = n & 0xff;
  } else {
    s[pos++] = 0xc6;
    s[pos++] = n >>> 24;
    s[pos++] = (n >>> 16) & 0xff;
    s[pos++] = (n >>> 8) & 0xff;
    s[pos++] = n & 0xff;
  }
}

function writeBin(b: Uint8Array): void {
  writeBinHeader(b.length);
  scratch.set(b, pos);
  pos += b.length;
}

function writeArrayHeader(n: number): void {
  reserve(5);
  const s = scratch;
  if (n < 16) {
    s[pos++] = 0x90 | n;
  } else if (n < 0x10000) {
    s[pos++] = 0xdc;
    s[pos++] = n >>> 8;
    s[pos++] = n & 0xff;
  } else {
    s[pos++] = 0xdd;
    s[pos++] = n >>> 24;
    s[pos++] = (n >>> 16) & 0xff;
    s[pos++] = (n >>> 8) & 0xff;
    s[pos++] = n & 0xff;
  }
}

/**
 * Validates `p` against `specs` as `bodyArray` does and returns its msgpack body preceded by
 * `headerBytes` bytes the caller fills in (one allocation of the exact size). Throws `RangeError` naming
 * the first invalid field.
 */
export function encodeBody(
  packetName: string,
  specs: readonly FieldSpec[],
  p: Record<string, unknown>,
  headerBytes: number,
): Uint8Array {
  pos = 0;
  reserve(headerBytes);
  pos = headerBytes;
  writeArrayHeader(specs.length);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    const v = p[s.name];
    if (v === null || v === undefined) {
      if (!s.optional) throw new RangeError(`${packetName}.${s.name}: required field is ${String(v)}`);
      reserve(1);
      scratch[pos++] = 0xc0;
      continue;
    }
    const why = invalidReason(s.kind, v);
    if (why !== null) throw new RangeError(`${packetName}.${s.name}: ${why}`);
    const kind = s.kind;
    switch (kind.t) {
      case 'uint':
      case 'mask': {
        const n = v as number;
        // Validation admits negative values only for a negative lower bound, which no schema declares.
        if (n < 0) throw new RangeError(`${packetName}.${s.name}: negative integers are not encoded here`);
        writeUint(n);
        break;
      }
      case 'bytes':
        writeBin(v as Uint8Array);
        break;
      case 'int8s': {
        const a = v as Int8Array;
        writeBin(new Uint8Array(a.buffer, a.byteOffset, a.length));
        break;
      }
      case 'endpoint': {
        const e = v as { readonly ipv4: Uint8Array; readonly port: number };
        writeBinHeader(6);
        scratch.set(e.ipv4, pos);
        scratch[pos + 4] = e.port >>> 8;
        scratch[pos + 5] = e.port & 0xff;
        pos += 6;
        break;
      }
      case 'bytesList': {
        const list = v as readonly Uint8Array[];
        writeArrayHeader(list.length);
        for (const item of list) writeBin(item);
        break;
      }
    }
  }
  return scratch.slice(0, pos);
}

/** A parse that left the common shape: the caller falls back to the library. */
const notCommon = undefined;

let rb: Uint8Array = scratch;
let rp = 0;

/** One item of the common shape at `rp`, or `notCommon` (`depth` 0: an item of a nested array). */
function readItem(depth: number): unknown {
  const b = rb;
  if (rp >= b.length) return notCommon;
  const h = b[rp]!;
  if (h < 0x80) {
    rp++;
    return h;
  }
  switch (h) {
    case 0xc0:
      rp++;
      return null;
    case 0xcc:
      if (rp + 2 > b.length) return notCommon;
      rp += 2;
      return b[rp - 1]!;
    case 0xcd:
      if (rp + 3 > b.length) return notCommon;
      rp += 3;
      return (b[rp - 2]! << 8) | b[rp - 1]!;
    case 0xce:
      if (rp + 5 > b.length) return notCommon;
      rp += 5;
      return ((b[rp - 4]! << 24) | (b[rp - 3]! << 16) | (b[rp - 2]! << 8) | b[rp - 1]!) >>> 0;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      let n: number;
      let head: number;
      if (h === 0xc4) {
        if (rp + 2 > b.length) return notCommon;
        n = b[rp + 1]!;
        head = 2;
      } else if (h === 0xc5) {
        if (rp + 3 > b.length) return notCommon;
        n = (b[rp + 1]! << 8) | b[rp + 2]!;
        head = 3;
      } else {
        if (rp + 5 > b.length) return notCommon;
        n = ((b[rp + 1]! << 24) | (b[rp + 2]! << 16) | (b[rp + 3]! << 8) | b[rp + 4]!) >>> 0;
        head = 5;
      }
      if (n > msgpackBinLengthMaxBytes) return notCommon;
      const start = rp + head;
      if (start + n > b.length) return notCommon;
      rp = start + n;
      return b.subarray(start, start + n);
    }
    default: {
      if (depth === 0 || h < 0x90 || h > 0x9f) return notCommon;
      // A fixarray inside the body (a `bytesList`): its items, one level only.
      const n = h - 0x90;
      if (n > msgpackArrayLengthMax) return notCommon;
      rp++;
      const arr = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const item = readItem(0);
        if (item === notCommon) return notCommon;
        arr[i] = item;
      }
      return arr;
    }
  }
}

/**
 * The items of a body that is a fixarray of `count` common-shape items and nothing more, or undefined
 * when the body is not of that shape (then the library decides). Byte strings are views into `body`.
 */
export function readBodyItems(body: Uint8Array, count: number): unknown[] | undefined {
  if (count > 15 || count > msgpackArrayLengthMax || body.length === 0 || body[0] !== 0x90 + count) {
    return undefined;
  }
  rb = body;
  rp = 1;
  const arr = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const item = readItem(1);
    if (item === notCommon) {
      rb = scratch;
      return undefined;
    }
    arr[i] = item;
  }
  const done = rp === body.length;
  rb = scratch;
  return done ? arr : undefined;
}
