/**
 * The plaintexts inside MessageStart and MessagePart (the wire format leaves them to this layer).
 *
 * A message of n bytes (0 ≤ n ≤ `messageSizeMaxBytes`) is cut into `partCount` = max(1, ⌈n / chunk⌉)
 * chunks of `messageChunkMaxBytes` (the last one shorter). Part 0 travels in a MessageStart, parts
 * 1..partCount−1 in MessageParts, each AEAD-sealed under the sender's direction key with its own packet
 * counter (a retransmission is a new packet with a new counter and the same plaintext fields except
 * `ackFloor`):
 *
 *   MessageStart plaintext = msgpack([ackFloor, messageId, partCount, chunk (bin)])
 *   MessagePart  plaintext = msgpack([ackFloor, messageId, partIndex, chunk (bin)])
 *
 * - `messageId`: per direction, 0, 1, 2, … in `send` order; the receiver delivers in id order, exactly once.
 * - `partCount` ∈ 1..`messagePartCountMax`; `partIndex` ∈ 1..`messagePartCountMax` − 1.
 * - `ackFloor` ≤ the packet's own counter: the sender no longer needs any counter below it acknowledged
 *   (every data packet it still waits for has a counter ≥ ackFloor). Acknowledgements share the counter
 *   space of data packets and are never retransmitted, so a lost MessageAck leaves a hole the receiver's
 *   cumulative ack could never pass; the floor lets the receiver count counters below it as done
 *   ("received or released") and keeps the cumulative ack moving. It never makes a lost *data* packet
 *   look acknowledged: its sender holds the floor at or below it until it is acknowledged or resent.
 */
import { Decoder } from '@msgpack/msgpack';
import { messageChunkMaxBytes, messagePartCountMax, messagePlaintextMaxBytes } from './config.js';

export interface StartPlaintext {
  readonly ackFloor: number;
  readonly messageId: number;
  readonly partCount: number;
  readonly chunk: Uint8Array;
}

export interface PartPlaintext {
  readonly ackFloor: number;
  readonly messageId: number;
  readonly partIndex: number;
  readonly chunk: Uint8Array;
}

const decoder = new Decoder({
  maxStrLength: 0,
  maxBinLength: messagePlaintextMaxBytes,
  maxArrayLength: 4,
  maxMapLength: 0,
  maxExtLength: 0,
  useBigInt64: false,
});

function isCounter(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parts a message of `length` bytes is cut into. */
export function partCountOf(length: number): number {
  return Math.max(1, Math.ceil(length / messageChunkMaxBytes));
}

/** The chunk of part `index` of `message` (a view, no copy). */
export function chunkOf(message: Uint8Array, index: number): Uint8Array {
  return message.subarray(index * messageChunkMaxBytes, (index + 1) * messageChunkMaxBytes);
}

function uintBytes(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x1_0000 ? 3 : v < 0x1_0000_0000 ? 5 : 9;
}

function writeUint(out: Uint8Array, at: number, v: number): number {
  if (v < 0x80) {
    out[at] = v;
    return at + 1;
  }
  let width: number;
  if (v < 0x100) {
    out[at] = 0xcc;
    width = 1;
  } else if (v < 0x1_0000) {
    out[at] = 0xcd;
    width = 2;
  } else if (v < 0x1_0000_0000) {
    out[at] = 0xce;
    width = 4;
  } else {
    out[at] = 0xcf;
    width = 8;
  }
  let x = v;
  for (let i = width; i >= 1; i--) {
    out[at + i] = x % 256;
    x = Math.floor(x / 256);
  }
  return at + 1 + width;
}

/**
 * msgpack([ackFloor, messageId, third, chunk]) written by hand into one buffer: one message part is
 * encoded per transmission, and the generic encoder's array walk and output copy were a visible share
 * of a channel's cost. The bytes are the shortest msgpack form, as `Encoder` writes them
 * (./plaintext.test.ts checks).
 */
function encode(ackFloor: number, messageId: number, third: number, chunk: Uint8Array): Uint8Array {
  if (!isCounter(ackFloor) || !isCounter(messageId)) {
    throw new RangeError(`message plaintext: ackFloor ${ackFloor} / messageId ${messageId} not counters`);
  }
  if (chunk.length > messageChunkMaxBytes) {
    throw new RangeError(`message plaintext: chunk of ${chunk.length} bytes exceeds messageChunkMaxBytes`);
  }
  const binHeader = chunk.length < 0x100 ? 2 : 3;
  const out = new Uint8Array(
    1 + uintBytes(ackFloor) + uintBytes(messageId) + uintBytes(third) + binHeader + chunk.length,
  );
  out[0] = 0x94;
  let at = writeUint(out, 1, ackFloor);
  at = writeUint(out, at, messageId);
  at = writeUint(out, at, third);
  if (binHeader === 2) {
    out[at] = 0xc4;
    out[at + 1] = chunk.length;
  } else {
    out[at] = 0xc5;
    out[at + 1] = chunk.length >>> 8;
    out[at + 2] = chunk.length & 0xff;
  }
  out.set(chunk, at + binHeader);
  if (out.length > messagePlaintextMaxBytes) {
    throw new RangeError(`message plaintext: ${out.length} bytes exceeds messagePlaintextMaxBytes`);
  }
  return out;
}

export function encodeStartPlaintext(p: StartPlaintext): Uint8Array {
  if (!Number.isInteger(p.partCount) || p.partCount < 1 || p.partCount > messagePartCountMax) {
    throw new RangeError(`StartPlaintext.partCount: ${p.partCount} outside 1..${messagePartCountMax}`);
  }
  return encode(p.ackFloor, p.messageId, p.partCount, p.chunk);
}

export function encodePartPlaintext(p: PartPlaintext): Uint8Array {
  if (!Number.isInteger(p.partIndex) || p.partIndex < 1 || p.partIndex >= messagePartCountMax) {
    throw new RangeError(`PartPlaintext.partIndex: ${p.partIndex} outside 1..${messagePartCountMax - 1}`);
  }
  return encode(p.ackFloor, p.messageId, p.partIndex, p.chunk);
}

function decode(bytes: Uint8Array): [number, number, number, Uint8Array] | null {
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 4) return null;
  const [ackFloor, messageId, third, chunk] = v as unknown[];
  if (!isCounter(ackFloor) || !isCounter(messageId) || !isCounter(third)) return null;
  if (!(chunk instanceof Uint8Array) || chunk.length > messageChunkMaxBytes) return null;
  return [ackFloor, messageId, third, chunk];
}

/** Parses an authenticated MessageStart plaintext; null when it breaks the format (never throws). */
export function decodeStartPlaintext(bytes: Uint8Array): StartPlaintext | null {
  const r = decode(bytes);
  if (r === null) return null;
  const [ackFloor, messageId, partCount, chunk] = r;
  if (partCount < 1 || partCount > messagePartCountMax) return null;
  return { ackFloor, messageId, partCount, chunk };
}

/** Parses an authenticated MessagePart plaintext; null when it breaks the format (never throws). */
export function decodePartPlaintext(bytes: Uint8Array): PartPlaintext | null {
  const r = decode(bytes);
  if (r === null) return null;
  const [ackFloor, messageId, partIndex, chunk] = r;
  if (partIndex < 1 || partIndex >= messagePartCountMax) return null;
  return { ackFloor, messageId, partIndex, chunk };
}
