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
  dmpCiphertextMaxBytes,
  dmpCiphertextMinBytes,
  linkMacBytes,
  PacketType,
  packetCounterMax,
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

/**
 * AEAD associated data: msgpack([label 'dcomms/dmp/aad/v1', type (u8),
 * channelToken, packetCounter]) for data packets, and for MessageAck additionally
 * [cumulativeAck (u | nil), selectiveAck (bin)].
 */
export function dmpAad(p: MessageStart | MessagePart | MessageAck): Uint8Array {
  if (p.type === PacketType.MessageAck) {
    return msgpackEncode([
      transcriptLabel.dmpAad,
      p.type,
      p.channelToken,
      p.packetCounter,
      p.cumulativeAck,
      p.selectiveAck,
    ]);
  }
  return msgpackEncode([transcriptLabel.dmpAad, p.type, p.channelToken, p.packetCounter]);
}

/** ChaCha20-Poly1305 nonce of a direct-channel packet: 4 zero bytes ‖ counter as u64 big-endian. */
export function dmpNonce(packetCounter: number): Uint8Array {
  if (!Number.isSafeInteger(packetCounter) || packetCounter < 0) {
    throw new RangeError(`dmpNonce: packetCounter ${packetCounter} is not a non-negative safe integer`);
  }
  const out = new Uint8Array(12);
  const high = Math.floor(packetCounter / 0x1_0000_0000);
  const low = packetCounter >>> 0;
  const view = new DataView(out.buffer);
  view.setUint32(4, high);
  view.setUint32(8, low);
  return out;
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
