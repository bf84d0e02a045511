/**
 * Entry-peer family, all unauthenticated and stateless on the entry peer's side:
 * Pow1Request (21) / Pow1Response (22) — the stateless PoW that buys a PoW2 challenge — and
 * NatTestReq (70) / NatTestResp (71) — a STUN-like reflection of the requester's public endpoint.
 *
 * PoW1 input is SHA-256(timestampS u32be ‖ requester IPv4 (4) ‖ nonce (16)); the IPv4 is not on the
 * wire, the entry peer takes it from the datagram's source. NatTestReq is padded so the request is
 * never smaller than the response: an entry peer must not be a UDP amplifier.
 */
import { defineCodec } from './codec.js';
import {
  natTestPaddingBytes,
  PacketType,
  Pow1Status,
  pow1NonceBytes,
  pow1StatusMax,
  pow2ChallengeBytes,
  u32Max,
} from './constants.js';
import { bytes, endpoint, opt, req, uint, type WireEndpoint } from './schema.js';

const u32 = uint(0, u32Max);

export interface Pow1Request {
  readonly type: typeof PacketType.Pow1Request;
  /** Unix seconds when the PoW was solved (u32; the entry peer admits ±20 min). */
  readonly timestampS: number;
  /** The 16-byte nonce that makes the PoW1 hash meet the difficulty. */
  readonly nonce: Uint8Array;
  /** Requester-chosen id echoed in the response. */
  readonly requestId: number;
}

export const pow1RequestCodec = defineCodec<Pow1Request>({
  type: PacketType.Pow1Request,
  name: 'Pow1Request',
  fields: [req('timestampS', u32), req('nonce', bytes(pow1NonceBytes)), req('requestId', u32)],
});

export interface Pow1Response {
  readonly type: typeof PacketType.Pow1Response;
  readonly requestId: number;
  /** `Pow1Status`. */
  readonly status: number;
  /** 16-byte PoW2 challenge, present exactly when status is ok. Bound to the requester's IP:port. */
  readonly pow2Challenge: Uint8Array | null;
}

export const pow1ResponseCodec = defineCodec<Pow1Response>({
  type: PacketType.Pow1Response,
  name: 'Pow1Response',
  fields: [
    req('requestId', u32),
    req('status', uint(0, pow1StatusMax)),
    opt('pow2Challenge', bytes(pow2ChallengeBytes)),
  ],
  refine: (p) => ((p.status === Pow1Status.ok) !== (p.pow2Challenge !== null) ? 'pow2Challenge' : null),
});

export interface NatTestReq {
  readonly type: typeof PacketType.NatTestReq;
  readonly requestId: number;
  /** 16 bytes of any value (zeros are fine); only there so the request outweighs the response. */
  readonly padding: Uint8Array;
}

export const natTestReqCodec = defineCodec<NatTestReq>({
  type: PacketType.NatTestReq,
  name: 'NatTestReq',
  fields: [req('requestId', u32), req('padding', bytes(natTestPaddingBytes))],
});

export interface NatTestResp {
  readonly type: typeof PacketType.NatTestResp;
  readonly requestId: number;
  /** The request's source endpoint as the responder saw it. */
  readonly requesterEndpoint: WireEndpoint;
}

export const natTestRespCodec = defineCodec<NatTestResp>({
  type: PacketType.NatTestResp,
  name: 'NatTestResp',
  fields: [req('requestId', u32), req('requesterEndpoint', endpoint)],
});
