/**
 * Neighbour-link family: NPACK (24), PING (27), PONG (28), FAILURE (34), LinkClose (35).
 *
 * Every packet on an established link carries the receiver's `linkToken` (which link) and a
 * `linkMac` (HMAC-SHA256 under the sender→receiver link key) as its last field; the MAC covers the
 * whole datagram before the MAC's 32 value bytes (see mac.ts). NPACK and FAILURE also exist in
 * entry mode (A ↔ EP) with both nil.
 *
 * Sequence numbers: each side numbers the requests it sends on a link (REGISTER/INVITE family,
 * FAILURE, LinkClose) with its own u32 counter; NPACK echoes `seq` of the packet it acknowledges.
 * Because the acknowledged packet came from the NPACK's receiver, the pair (link, direction, seq)
 * is unambiguous. FAILURE names the failed request by `failedSeq` — the seq that request carried
 * when it arrived on this link from the FAILURE's receiver.
 */
import { defineCodec, linkModeRule } from './codec.js';
import {
  busySectorsMask,
  linkCloseReasonMax,
  linkMacBytes,
  PacketType,
  pingFlagsMask,
  pingNeighbourRegIdsMaxCount,
  regIdBytes,
  resultCodeMax,
  signatureBytes,
  u16Max,
  u32Max,
} from './constants.js';
import { bytes, bytesList, mask, opt, req, uint } from './schema.js';

const u32 = uint(0, u32Max);
const mac = bytes(linkMacBytes);

export interface Npack {
  readonly type: typeof PacketType.Npack;
  readonly linkToken: number | null;
  /** seq of the acknowledged packet. */
  readonly seq: number;
  /** `ResultCode`: accepted, or why this hop rejected the packet. */
  readonly code: number;
  readonly linkMac: Uint8Array | null;
}

export const npackCodec = defineCodec<Npack>({
  type: PacketType.Npack,
  name: 'Npack',
  fields: [opt('linkToken', u32), req('seq', u32), req('code', uint(0, resultCodeMax)), opt('linkMac', mac)],
  refine: linkModeRule,
});

export interface Ping {
  readonly type: typeof PacketType.Ping;
  readonly linkToken: number;
  /** Sender-chosen id echoed by the PONG (RTT measurement, matching). */
  readonly pingId: number;
  /** `PingFlags` bits. */
  readonly flags: number;
  /** Sender's busy-sector mask (9 bits): the receiver's routing scores links with it. */
  readonly busySectors: number;
  /** Requests per minute the sender accepts from the receiver (its token-bucket rate). */
  readonly registerRateMaxPerMinute: number;
  readonly inviteRateMaxPerMinute: number;
  /** The sender's current neighbours' regIDs (look-ahead routing), or null when unchanged/not sent. */
  readonly neighbourRegIds: readonly Uint8Array[] | null;
  readonly linkMac: Uint8Array;
}

export const pingCodec = defineCodec<Ping>({
  type: PacketType.Ping,
  name: 'Ping',
  fields: [
    req('linkToken', u32),
    req('pingId', u32),
    req('flags', mask(pingFlagsMask)),
    req('busySectors', mask(busySectorsMask)),
    req('registerRateMaxPerMinute', uint(0, u16Max)),
    req('inviteRateMaxPerMinute', uint(0, u16Max)),
    opt('neighbourRegIds', bytesList(regIdBytes, pingNeighbourRegIdsMaxCount)),
    req('linkMac', mac),
  ],
});

export interface Pong {
  readonly type: typeof PacketType.Pong;
  readonly linkToken: number;
  readonly pingId: number;
  /** The sender's REGISTER confirmation signature, when the PING requested it. */
  readonly confirmationSignature: Uint8Array | null;
  readonly linkMac: Uint8Array;
}

export const pongCodec = defineCodec<Pong>({
  type: PacketType.Pong,
  name: 'Pong',
  fields: [
    req('linkToken', u32),
    req('pingId', u32),
    opt('confirmationSignature', bytes(signatureBytes)),
    req('linkMac', mac),
  ],
});

export interface Failure {
  readonly type: typeof PacketType.Failure;
  readonly linkToken: number | null;
  /** This FAILURE's own seq (the receiver NPACKs it). */
  readonly seq: number;
  /** seq of the failed request as it arrived on this link. */
  readonly failedSeq: number;
  /** `ResultCode` other than accepted. */
  readonly code: number;
  readonly linkMac: Uint8Array | null;
}

export const failureCodec = defineCodec<Failure>({
  type: PacketType.Failure,
  name: 'Failure',
  fields: [
    opt('linkToken', u32),
    req('seq', u32),
    req('failedSeq', u32),
    req('code', uint(1, resultCodeMax)),
    opt('linkMac', mac),
  ],
  refine: linkModeRule,
});

export interface LinkClose {
  readonly type: typeof PacketType.LinkClose;
  readonly linkToken: number;
  /** Acknowledged by NPACK; the sender retransmits until then (or the link's teardown time). */
  readonly seq: number;
  /** `LinkCloseReason`. */
  readonly reason: number;
  readonly linkMac: Uint8Array;
}

export const linkCloseCodec = defineCodec<LinkClose>({
  type: PacketType.LinkClose,
  name: 'LinkClose',
  fields: [
    req('linkToken', u32),
    req('seq', u32),
    req('reason', uint(0, linkCloseReasonMax)),
    req('linkMac', mac),
  ],
});
