/**
 * Direct-channel (DMP) family: DmpPing (50), DmpPong (51), MessageStart (52), MessagePart (53),
 * MessageAck (54). These travel straight between the two users' endpoints learned from the INVITE
 * session descriptions (or relayed along the DRP path when hole punching cannot work).
 *
 * - DmpPing/DmpPong punch the NAT holes, exchange each side's fresh X25519 channel key (once), and
 *   later keep the channel's NAT bindings alive (key nil). Authenticated by `mac`, HMAC-SHA256 under
 *   the ping key derived from the INVITE transcript, over the datagram before the MAC's value bytes.
 * - MessageStart/MessagePart carry AEAD ciphertext (ChaCha20-Poly1305) under the sender's direction
 *   key. Nonce = 4 zero bytes ‖ packetCounter as u64 big-endian; AAD = `dmpAad(packet)`. Each
 *   direction numbers every AEAD packet it sends (data and acks) from 0 upwards; a retransmission gets
 *   a new counter, so a (key, nonce) pair is never reused and the receiver's replay window is by counter.
 *   MessageStart opens a message (its plaintext holds the message id and part count), MessagePart
 *   continues it; the plaintext format is the direct-channel layer's.
 * - MessageAck acknowledges by packet counter: `cumulativeAck` = the largest c such that every
 *   counter 0..c has arrived (nil before counter 0 has); bit i of `selectiveAck` (byte i>>3, bit i&7,
 *   least significant first) says counter base+i arrived, base = (cumulativeAck ?? −1) + 1. Its
 *   `tag` is the AEAD tag of an empty plaintext with the same nonce rule and AAD `dmpAad(ack)`.
 */
import { defineCodec } from './codec.js';
import {
  aeadTagBytes,
  datagramSizeMaxBytes,
  dmpCiphertextMaxBytes,
  dmpCiphertextMinBytes,
  linkMacBytes,
  PacketType,
  packetCounterMax,
  protocolVersion,
  selectiveAckMaxBytes,
  u32Max,
  x25519KeyBytes,
} from './constants.js';
import { transcriptLabel } from './labels.js';
import { bytes, bytesRange, msgpackEncode, opt, req, uint } from './schema.js';

const u32 = uint(0, u32Max);
const counter = uint(0, packetCounterMax);

interface DmpPingFields {
  /** The receiver's channel token (from its session description). */
  readonly channelToken: number;
  readonly pingId: number;
  /** The sender's X25519 channel key while the channel keys are not yet agreed; null in keep-alives. */
  readonly channelKey: Uint8Array | null;
  readonly mac: Uint8Array;
}
export interface DmpPing extends DmpPingFields {
  readonly type: typeof PacketType.DmpPing;
}
export interface DmpPong extends DmpPingFields {
  readonly type: typeof PacketType.DmpPong;
}

const pingFields = [
  req('channelToken', u32),
  req('pingId', u32),
  opt('channelKey', bytes(x25519KeyBytes)),
  req('mac', bytes(linkMacBytes)),
] as const;

export const dmpPingCodec = defineCodec<DmpPing>({
  type: PacketType.DmpPing,
  name: 'DmpPing',
  fields: pingFields,
});
export const dmpPongCodec = defineCodec<DmpPong>({
  type: PacketType.DmpPong,
  name: 'DmpPong',
  fields: pingFields,
});

interface DmpDataFields {
  readonly channelToken: number;
  /** Per-direction AEAD packet counter (nonce and replay window). */
  readonly packetCounter: number;
  /** ChaCha20-Poly1305 ciphertext ‖ 16-byte tag. */
  readonly ciphertext: Uint8Array;
}
export interface MessageStart extends DmpDataFields {
  readonly type: typeof PacketType.MessageStart;
}
export interface MessagePart extends DmpDataFields {
  readonly type: typeof PacketType.MessagePart;
}

const dataFields = [
  req('channelToken', u32),
  req('packetCounter', counter),
  req('ciphertext', bytesRange(dmpCiphertextMinBytes, dmpCiphertextMaxBytes)),
] as const;

export const messageStartCodec = defineCodec<MessageStart>({
  type: PacketType.MessageStart,
  name: 'MessageStart',
  fields: dataFields,
});
export const messagePartCodec = defineCodec<MessagePart>({
  type: PacketType.MessagePart,
  name: 'MessagePart',
  fields: dataFields,
});

export interface MessageAck {
  readonly type: typeof PacketType.MessageAck;
  readonly channelToken: number;
  readonly packetCounter: number;
  readonly cumulativeAck: number | null;
  /** 0..32 bytes of bitmap (up to 256 packets beyond the base). */
  readonly selectiveAck: Uint8Array;
  readonly tag: Uint8Array;
}

export const messageAckCodec = defineCodec<MessageAck>({
  type: PacketType.MessageAck,
  name: 'MessageAck',
  fields: [
    req('channelToken', u32),
    req('packetCounter', counter),
    opt('cumulativeAck', counter),
    req('selectiveAck', bytesRange(0, selectiveAckMaxBytes)),
    req('tag', bytes(aeadTagBytes)),
  ],
});

// ---- the direct channel's per-packet hot path ----
//
// A channel seals, opens and frames one AEAD packet per message part and per ack, so the functions below
// write msgpack by hand into one buffer instead of going through the generic encoder (which builds an
// array, walks the schema and copies its output). They produce exactly the bytes the generic path does
// (the shortest msgpack form; src/wire/dmp.test.ts checks it on random packets).

/** Bytes of the shortest msgpack encoding of a non-negative safe integer. */
function uintBytes(v: number): number {
  return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x1_0000 ? 3 : v < 0x1_0000_0000 ? 5 : 9;
}

/** Writes the shortest msgpack encoding of a non-negative safe integer at `at`; returns the next offset. */
function writeUint(out: Uint8Array, at: number, v: number): number {
  if (v < 0x80) {
    out[at] = v;
    return at + 1;
  }
  if (v < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = v;
    return at + 2;
  }
  if (v < 0x1_0000) {
    out[at] = 0xcd;
    out[at + 1] = v >>> 8;
    out[at + 2] = v & 0xff;
    return at + 3;
  }
  if (v < 0x1_0000_0000) {
    out[at] = 0xce;
    writeU32(out, at + 1, v);
    return at + 5;
  }
  out[at] = 0xcf;
  writeU32(out, at + 1, Math.floor(v / 0x1_0000_0000));
  writeU32(out, at + 5, v >>> 0);
  return at + 9;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** Bytes of a msgpack bin header for `n` bytes (bin8 below 256, else bin16; never more here). */
function binHeaderBytes(n: number): number {
  return n < 0x100 ? 2 : 3;
}

function writeBinHeader(out: Uint8Array, at: number, n: number): number {
  if (n < 0x100) {
    out[at] = 0xc4;
    out[at + 1] = n;
    return at + 2;
  }
  out[at] = 0xc5;
  out[at + 1] = n >>> 8;
  out[at + 2] = n & 0xff;
  return at + 3;
}

/** Reads a msgpack non-negative integer at `at` (any width): [value, next offset], or null. */
function readUint(b: Uint8Array, at: number): [number, number] | null {
  if (at >= b.length) return null;
  const h = b[at]!;
  if (h < 0x80) return [h, at + 1];
  const need = h === 0xcc ? 1 : h === 0xcd ? 2 : h === 0xce ? 4 : h === 0xcf ? 8 : 0;
  if (need === 0 || at + 1 + need > b.length) return null;
  let v = 0;
  for (let i = 1; i <= need; i++) v = v * 256 + b[at + i]!;
  return Number.isSafeInteger(v) ? [v, at + 1 + need] : null;
}

const aadLabel = msgpackEncode(transcriptLabel.dmpAad);

/**
 * AEAD associated data: msgpack([label 'dcomms/dmp/aad/v1', type (u8),
 * channelToken, packetCounter]) for data packets, and for MessageAck additionally
 * [cumulativeAck (u | nil), selectiveAck (bin)].
 */
export function dmpAad(p: MessageStart | MessagePart | MessageAck): Uint8Array {
  const ack = p.type === PacketType.MessageAck;
  let n = 1 + aadLabel.length + 1 + uintBytes(p.channelToken) + uintBytes(p.packetCounter);
  if (ack) {
    n += p.cumulativeAck === null ? 1 : uintBytes(p.cumulativeAck);
    n += binHeaderBytes(p.selectiveAck.length) + p.selectiveAck.length;
  }
  const out = new Uint8Array(n);
  out[0] = ack ? 0x96 : 0x94;
  out.set(aadLabel, 1);
  let at = 1 + aadLabel.length;
  out[at++] = p.type;
  at = writeUint(out, at, p.channelToken);
  at = writeUint(out, at, p.packetCounter);
  if (ack) {
    if (p.cumulativeAck === null) out[at++] = 0xc0;
    else at = writeUint(out, at, p.cumulativeAck);
    at = writeBinHeader(out, at, p.selectiveAck.length);
    out.set(p.selectiveAck, at);
  }
  return out;
}

/** ChaCha20-Poly1305 nonce of a direct-channel packet: 4 zero bytes ‖ counter as u64 big-endian. */
export function dmpNonce(packetCounter: number): Uint8Array {
  if (!Number.isSafeInteger(packetCounter) || packetCounter < 0) {
    throw new RangeError(`dmpNonce: packetCounter ${packetCounter} is not a non-negative safe integer`);
  }
  const out = new Uint8Array(12);
  writeU32(out, 4, Math.floor(packetCounter / 0x1_0000_0000));
  writeU32(out, 8, packetCounter >>> 0);
  return out;
}

/**
 * A MessageStart/MessagePart datagram, framed in one buffer: the same bytes as `encodeDatagram` of the
 * packet. Throws RangeError on a field out of its range (a caller bug), like `encodeDatagram`.
 */
export function encodeDmpData(
  type: typeof PacketType.MessageStart | typeof PacketType.MessagePart,
  channelToken: number,
  packetCounter: number,
  ciphertext: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(channelToken) || channelToken < 0 || channelToken > u32Max) {
    throw new RangeError(`encodeDmpData: channelToken ${channelToken} outside 0..${u32Max}`);
  }
  if (!Number.isSafeInteger(packetCounter) || packetCounter < 0) {
    throw new RangeError(`encodeDmpData: packetCounter ${packetCounter} is not a counter`);
  }
  if (ciphertext.length < dmpCiphertextMinBytes || ciphertext.length > dmpCiphertextMaxBytes) {
    throw new RangeError(
      `encodeDmpData: ciphertext of ${ciphertext.length} bytes outside ${dmpCiphertextMinBytes}..${dmpCiphertextMaxBytes}`,
    );
  }
  const out = new Uint8Array(
    3 +
      uintBytes(channelToken) +
      uintBytes(packetCounter) +
      binHeaderBytes(ciphertext.length) +
      ciphertext.length,
  );
  out[0] = protocolVersion;
  out[1] = type;
  out[2] = 0x93;
  let at = writeUint(out, 3, channelToken);
  at = writeUint(out, at, packetCounter);
  at = writeBinHeader(out, at, ciphertext.length);
  out.set(ciphertext, at);
  return out;
}

/**
 * Reads a MessageStart/MessagePart datagram without copying (the ciphertext is a view into `bytes`), or
 * returns null for anything else — including valid packets encoded in a form this reader does not take
 * (the caller falls back to `decodeDatagram`, which judges them). Whatever it accepts, `decodeDatagram`
 * accepts with the same fields.
 */
export function decodeDmpData(bytes: Uint8Array): MessageStart | MessagePart | null {
  if (bytes.length < 3 || bytes.length > datagramSizeMaxBytes || bytes[0] !== protocolVersion) return null;
  const type = bytes[1];
  if (type !== PacketType.MessageStart && type !== PacketType.MessagePart) return null;
  if (bytes[2] !== 0x93) return null;
  const token = readUint(bytes, 3);
  if (token === null || token[0] > u32Max) return null;
  const counter = readUint(bytes, token[1]);
  if (counter === null) return null;
  let at = counter[1];
  const h = bytes[at];
  let n: number;
  if (h === 0xc4 && at + 2 <= bytes.length) {
    n = bytes[at + 1]!;
    at += 2;
  } else if (h === 0xc5 && at + 3 <= bytes.length) {
    n = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    at += 3;
  } else return null;
  if (n < dmpCiphertextMinBytes || n > dmpCiphertextMaxBytes || at + n !== bytes.length) return null;
  return { type, channelToken: token[0], packetCounter: counter[0], ciphertext: bytes.subarray(at) };
}

/**
 * Transcript salting the two channel keys: msgpack([label 'dcomms/dmp/channel-kdf/v1',
 * pingKdfTranscript (the INVITE transcript, see `dmpPingKdfTranscript`), requesterChannelKey,
 * responderChannelKey]). ikm = X25519 of the two channel keys.
 */
export function dmpChannelKdfTranscript(
  pingKdfTranscript: Uint8Array,
  requesterChannelKey: Uint8Array,
  responderChannelKey: Uint8Array,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.dmpChannelKdf,
    pingKdfTranscript,
    requesterChannelKey,
    responderChannelKey,
  ]);
}
