/**
 * Datagram framing and dispatch: version byte, type byte, msgpack body.
 *
 * `decodeDatagram` is the single entry point for untrusted bytes: it checks the size bounds and the
 * two header bytes, picks the packet's schema by type, validates the body (schema.ts) and the
 * packet's cross-field rule, and returns a result from a closed set of codes. It never throws and
 * never allocates more than one private copy of the input plus the decoded values.
 *
 * `encodeDatagram` is for packets the engine built itself: an invalid field or an oversized result is
 * a programmer error and throws `RangeError` naming it.
 */

import { encodeBody, readBodyItems } from './body-codec.js';
import type { PacketCodec } from './codec.js';
import { datagramHeaderBytes, datagramSizeMaxBytes, protocolVersion } from './constants.js';
import type { DmpPing, DmpPong, MessageAck, MessagePart, MessageStart } from './dmp.js';
import { dmpPingCodec, dmpPongCodec, messageAckCodec, messagePartCodec, messageStartCodec } from './dmp.js';
import type { NatTestReq, NatTestResp, Pow1Request, Pow1Response } from './entry.js';
import { natTestReqCodec, natTestRespCodec, pow1RequestCodec, pow1ResponseCodec } from './entry.js';
import type { InviteAck1, InviteAck2, InviteCfm, InviteReq } from './invite.js';
import { inviteAck1Codec, inviteAck2Codec, inviteCfmCodec, inviteReqCodec } from './invite.js';
import type { Failure, LinkClose, Npack, Ping, Pong } from './link.js';
import { failureCodec, linkCloseCodec, npackCodec, pingCodec, pongCodec } from './link.js';
import type { RegisterAck1, RegisterAck2, RegisterCfm, RegisterReq } from './register.js';
import { registerAck1Codec, registerAck2Codec, registerCfmCodec, registerReqCodec } from './register.js';
import { type Relay, relayCodec } from './relay.js';
import { type DecodeFailure, decodeArrayBody, fieldsFromArray } from './schema.js';

/** Every packet of protocol version 1, discriminated on `type`. */
export type Packet =
  | Pow1Request
  | Pow1Response
  | RegisterReq
  | Npack
  | RegisterAck1
  | RegisterAck2
  | Ping
  | Pong
  | RegisterCfm
  | InviteReq
  | InviteAck1
  | InviteAck2
  | InviteCfm
  | Failure
  | LinkClose
  | Relay
  | DmpPing
  | DmpPong
  | MessageStart
  | MessagePart
  | MessageAck
  | NatTestReq
  | NatTestResp;

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous table of codecs, narrowed by `type` at use.
type AnyCodec = PacketCodec<any>;

/** All codecs, in type-number order. */
export const packetCodecs: readonly AnyCodec[] = [
  pow1RequestCodec,
  pow1ResponseCodec,
  registerReqCodec,
  npackCodec,
  registerAck1Codec,
  registerAck2Codec,
  pingCodec,
  pongCodec,
  registerCfmCodec,
  inviteReqCodec,
  inviteAck1Codec,
  inviteAck2Codec,
  inviteCfmCodec,
  failureCodec,
  linkCloseCodec,
  relayCodec,
  dmpPingCodec,
  dmpPongCodec,
  messageStartCodec,
  messagePartCodec,
  messageAckCodec,
  natTestReqCodec,
  natTestRespCodec,
];

/** Type byte → codec (undefined for unknown types). */
const codecByType: readonly (AnyCodec | undefined)[] = (() => {
  const table = new Array<AnyCodec | undefined>(256).fill(undefined);
  for (const c of packetCodecs) table[c.type] = c;
  return table;
})();

/** The codec of a packet type, or undefined. */
export function codecOf(type: number): AnyCodec | undefined {
  return codecByType[type];
}

/** Name of a packet type for diagnostics ("unknown(99)" for others). */
export function packetTypeName(type: number): string {
  return codecByType[type]?.name ?? `unknown(${type})`;
}

export type DecodeResult = { readonly ok: true; readonly packet: Packet } | DecodeFailure;

/** Smallest datagram: version, type and a one-byte body. */
export const datagramSizeMinBytes = datagramHeaderBytes + 1;

/** Decodes one untrusted datagram. Never throws; failures carry a code from `DecodeErrorCode`. */
export function decodeDatagram(bytes: Uint8Array): DecodeResult {
  if (bytes.length < datagramSizeMinBytes) return { ok: false, code: 'tooShort' };
  if (bytes.length > datagramSizeMaxBytes) return { ok: false, code: 'tooLarge' };
  if (bytes[0] !== protocolVersion) return { ok: false, code: 'badVersion' };
  const codec = codecByType[bytes[1]!];
  if (codec === undefined) return { ok: false, code: 'unknownType' };
  // One private copy: decoded byte fields are views into it, so they never alias the caller's
  // (possibly reused) receive buffer, and a Node Buffer becomes a plain Uint8Array.
  const body = new Uint8Array(bytes.subarray(datagramHeaderBytes));
  // The common shape is read directly (body-codec.ts); anything else goes through the library.
  const items = readBodyItems(body, codec.fields.length);
  let r: ReturnType<typeof decodeArrayBody>;
  if (items !== undefined) {
    const f = fieldsFromArray(codec.fields, items);
    r = f.ok ? f : { ok: false, code: 'badField', field: f.field };
  } else {
    r = decodeArrayBody(body, codec.fields);
  }
  if (!r.ok) return r;
  const packet = r.fields as Record<string, unknown> & { type: number };
  packet.type = codec.type;
  const bad = codec.refine?.(packet) ?? null;
  if (bad !== null) return { ok: false, code: 'badField', field: bad };
  return { ok: true, packet: packet as unknown as Packet };
}

/** Encodes a packet: [protocolVersion, type, ...msgpack body]. Throws RangeError on invalid input. */
export function encodeDatagram(packet: Packet): Uint8Array {
  const codec = codecByType[packet.type];
  if (codec === undefined) throw new RangeError(`encodeDatagram: unknown packet type ${String(packet.type)}`);
  const p = packet as unknown as Record<string, unknown>;
  // The same bytes as `msgpackEncode(bodyArray(...))`, written directly (body-codec.ts).
  const out = encodeBody(codec.name, codec.fields, p, datagramHeaderBytes);
  const bad = codec.refine?.(packet) ?? null;
  if (bad !== null) throw new RangeError(`${codec.name}.${bad}: violates the packet's cross-field rule`);
  out[0] = protocolVersion;
  out[1] = codec.type;
  if (out.length > datagramSizeMaxBytes) {
    throw new RangeError(
      `${codec.name}: ${out.length} bytes exceeds datagramSizeMaxBytes=${datagramSizeMaxBytes}`,
    );
  }
  return out;
}
