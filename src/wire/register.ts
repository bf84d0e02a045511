/**
 * REGISTER family: RegisterReq (23), RegisterAck1 (25), RegisterAck2 (26), RegisterCfm (29), and the
 * link parameters encrypted inside ack1/ack2.
 *
 * Flow (A = requester, EP = entry peer, X = proxies, N = responder that becomes A's neighbour):
 *   REQ  A → EP/X … → N   signed by A; every hop verifies A's signature, re-stamps seq, hops, MAC.
 *   ACK1 N → … → A        signed by N over REQ ‖ ACK1; carries N's link params encrypted to A.
 *                          On the EP → A hop the EP adds `requesterEndpoint` (A as the EP sees it).
 *   ACK2 A → … → N        signed by A over REQ ‖ ACK1 ‖ ACK2; carries A's link params encrypted to N.
 *   PING/PONG A ↔ N        direct; the first PONGs carry each side's confirmation signature.
 *   CFM  A → … → N        both confirmation signatures.
 * Each packet travels either in entry mode (A ↔ EP: `linkToken` and `linkMac` nil, no shared key
 * yet) or over a neighbour link (`linkToken` = receiver's token, `linkMac` = HMAC under the link key).
 *
 * Signed bytes chain: ack1's covered bytes embed REQ's, ack2's embed ack1's, so each signature binds
 * the whole transcript so far; the same chain (plus the latest signature) salts each HKDF.
 */
import { defineCodec, linkModeRule } from './codec.js';
import {
  busySectorsMask,
  directionVectorBytes,
  hopsRemainingMax,
  linkMacBytes,
  linkParamsCiphertextMaxBytes,
  linkParamsCiphertextMinBytes,
  linkParamsPlaintextMaxBytes,
  natFlagsMask,
  PacketType,
  pow2NonceBytes,
  randomHopsRemainingMax,
  regIdBytes,
  registerFlagsMask,
  signatureBytes,
  timestampMsMax,
  u32Max,
  x25519KeyBytes,
} from './constants.js';
import { signatureLabel, transcriptLabel } from './labels.js';
import {
  bodyArray,
  bytes,
  bytesRange,
  type DecodeFailure,
  decodeArrayBody,
  endpoint,
  endpointToBytes,
  type FieldSpec,
  int8s,
  mask,
  msgpackEncode,
  opt,
  req,
  uint,
  type WireEndpoint,
} from './schema.js';

const linkToken = uint(0, u32Max);
const seq = uint(0, u32Max);
const timestamp = uint(0, timestampMsMax);

export interface RegisterReq {
  readonly type: typeof PacketType.RegisterReq;
  /** Receiver's link token; null in entry mode (A → EP). Per hop. */
  readonly linkToken: number | null;
  /** A's regID (Ed25519 public key). Signed. */
  readonly requesterRegId: Uint8Array;
  /** A's fresh X25519 public key for this registration. Signed. */
  readonly requesterEphemeralKey: Uint8Array;
  /** Ms since the Unix epoch when A created the request. Signed. With the regID, the request's id. */
  readonly timestampMs: number;
  /** A's busy-sector mask (9 bits). Signed. */
  readonly busySectors: number;
  /** `RegisterFlags` bits. Signed. */
  readonly requesterFlags: number;
  /** Direction to steer towards (8 signed components), or null. Signed. */
  readonly directionVector: Int8Array | null;
  /** The endpoint A sent the request to (the EP, or the neighbour). Signed. */
  readonly epEndpoint: WireEndpoint;
  /** A's Ed25519 signature over `registerReqSignedBytes`. */
  readonly requesterSignature: Uint8Array;
  /** PoW2 nonce: present exactly in entry mode. */
  readonly pow2Nonce: Uint8Array | null;
  /** 0..30, decremented per hop. */
  readonly hopsRemaining: number;
  /** 0..9, decremented per random hop. */
  readonly randomHopsRemaining: number;
  /** Per-hop sequence number, acknowledged by NPACK. */
  readonly seq: number;
  /** HMAC-SHA256 under the link key; null in entry mode. */
  readonly linkMac: Uint8Array | null;
}

/** Fields covered by A's REQ signature. */
export type RegisterReqSigned = Pick<
  RegisterReq,
  | 'requesterRegId'
  | 'requesterEphemeralKey'
  | 'timestampMs'
  | 'busySectors'
  | 'requesterFlags'
  | 'directionVector'
  | 'epEndpoint'
>;
/** A REQ as later transcripts need it: the signed fields and the signature. */
export type RegisterReqTranscript = RegisterReqSigned & Pick<RegisterReq, 'requesterSignature'>;

export const registerReqCodec = defineCodec<RegisterReq>({
  type: PacketType.RegisterReq,
  name: 'RegisterReq',
  fields: [
    opt('linkToken', linkToken),
    req('requesterRegId', bytes(regIdBytes)),
    req('requesterEphemeralKey', bytes(x25519KeyBytes)),
    req('timestampMs', timestamp),
    req('busySectors', mask(busySectorsMask)),
    req('requesterFlags', mask(registerFlagsMask)),
    opt('directionVector', int8s(directionVectorBytes)),
    req('epEndpoint', endpoint),
    req('requesterSignature', bytes(signatureBytes)),
    opt('pow2Nonce', bytes(pow2NonceBytes)),
    req('hopsRemaining', uint(0, hopsRemainingMax)),
    req('randomHopsRemaining', uint(0, randomHopsRemainingMax)),
    req('seq', seq),
    opt('linkMac', bytes(linkMacBytes)),
  ],
  refine: (p) => linkModeRule(p) ?? ((p.linkToken === null) !== (p.pow2Nonce !== null) ? 'pow2Nonce' : null),
});

export interface RegisterAck1 {
  readonly type: typeof PacketType.RegisterAck1;
  readonly linkToken: number | null;
  /** Copied from the REQ: with `timestampMs`, identifies the transaction at every hop. Signed. */
  readonly requesterRegId: Uint8Array;
  readonly timestampMs: number;
  /** N's regID. Signed. */
  readonly responderRegId: Uint8Array;
  /** N's fresh X25519 public key. Signed. */
  readonly responderEphemeralKey: Uint8Array;
  /** N's `LinkParams`, AEAD-encrypted to A (key label register-ack1-params). Signed. */
  readonly responderParamsCiphertext: Uint8Array;
  /** N's Ed25519 signature over `registerAck1SignedBytes`. */
  readonly responderSignature: Uint8Array;
  /** A's public endpoint as the EP sees it (STUN-like reflection): present exactly in entry mode. Unsigned. */
  readonly requesterEndpoint: WireEndpoint | null;
  readonly seq: number;
  readonly linkMac: Uint8Array | null;
}
export type RegisterAck1Transcript = Pick<
  RegisterAck1,
  | 'requesterRegId'
  | 'timestampMs'
  | 'responderRegId'
  | 'responderEphemeralKey'
  | 'responderParamsCiphertext'
  | 'responderSignature'
>;

export const registerAck1Codec = defineCodec<RegisterAck1>({
  type: PacketType.RegisterAck1,
  name: 'RegisterAck1',
  fields: [
    opt('linkToken', linkToken),
    req('requesterRegId', bytes(regIdBytes)),
    req('timestampMs', timestamp),
    req('responderRegId', bytes(regIdBytes)),
    req('responderEphemeralKey', bytes(x25519KeyBytes)),
    req('responderParamsCiphertext', bytesRange(linkParamsCiphertextMinBytes, linkParamsCiphertextMaxBytes)),
    req('responderSignature', bytes(signatureBytes)),
    opt('requesterEndpoint', endpoint),
    req('seq', seq),
    opt('linkMac', bytes(linkMacBytes)),
  ],
  refine: (p) =>
    linkModeRule(p) ??
    ((p.linkToken === null) !== (p.requesterEndpoint !== null) ? 'requesterEndpoint' : null),
});

export interface RegisterAck2 {
  readonly type: typeof PacketType.RegisterAck2;
  readonly linkToken: number | null;
  readonly requesterRegId: Uint8Array;
  readonly timestampMs: number;
  /** A's `LinkParams`, AEAD-encrypted to N (key label register-ack2-params). Signed. */
  readonly requesterParamsCiphertext: Uint8Array;
  /** A's Ed25519 signature over `registerAck2SignedBytes`. */
  readonly requesterSignature: Uint8Array;
  readonly seq: number;
  readonly linkMac: Uint8Array | null;
}
export type RegisterAck2Transcript = Pick<
  RegisterAck2,
  'requesterRegId' | 'timestampMs' | 'requesterParamsCiphertext' | 'requesterSignature'
>;

export const registerAck2Codec = defineCodec<RegisterAck2>({
  type: PacketType.RegisterAck2,
  name: 'RegisterAck2',
  fields: [
    opt('linkToken', linkToken),
    req('requesterRegId', bytes(regIdBytes)),
    req('timestampMs', timestamp),
    req('requesterParamsCiphertext', bytesRange(linkParamsCiphertextMinBytes, linkParamsCiphertextMaxBytes)),
    req('requesterSignature', bytes(signatureBytes)),
    req('seq', seq),
    opt('linkMac', bytes(linkMacBytes)),
  ],
  refine: linkModeRule,
});

export interface RegisterCfm {
  readonly type: typeof PacketType.RegisterCfm;
  readonly linkToken: number | null;
  readonly requesterRegId: Uint8Array;
  readonly timestampMs: number;
  /** N's signature over `registerResponderCfmSignedBytes` (A received it in N's first PONG). */
  readonly responderConfirmationSignature: Uint8Array;
  /** A's signature over `registerRequesterCfmSignedBytes`. */
  readonly requesterConfirmationSignature: Uint8Array;
  readonly seq: number;
  readonly linkMac: Uint8Array | null;
}

export const registerCfmCodec = defineCodec<RegisterCfm>({
  type: PacketType.RegisterCfm,
  name: 'RegisterCfm',
  fields: [
    opt('linkToken', linkToken),
    req('requesterRegId', bytes(regIdBytes)),
    req('timestampMs', timestamp),
    req('responderConfirmationSignature', bytes(signatureBytes)),
    req('requesterConfirmationSignature', bytes(signatureBytes)),
    req('seq', seq),
    opt('linkMac', bytes(linkMacBytes)),
  ],
  refine: linkModeRule,
});

// ---- covered bytes ----

function directionBytes(v: Int8Array | null): Uint8Array | null {
  return v === null ? null : new Uint8Array(v.buffer, v.byteOffset, v.length);
}

/**
 * Bytes A signs in RegisterReq: msgpack([label 'dcomms/drp/register-req/v1', requesterRegId,
 * requesterEphemeralKey, timestampMs, busySectors, requesterFlags, directionVector (bin8 | nil),
 * epEndpoint (bin6)]). Not covered (per hop): linkToken, pow2Nonce, hop counters, seq, linkMac.
 */
export function registerReqSignedBytes(p: RegisterReqSigned): Uint8Array {
  return msgpackEncode([
    signatureLabel.registerReq,
    p.requesterRegId,
    p.requesterEphemeralKey,
    p.timestampMs,
    p.busySectors,
    p.requesterFlags,
    directionBytes(p.directionVector),
    endpointToBytes(p.epEndpoint),
  ]);
}

/**
 * Bytes N signs in RegisterAck1: msgpack([label 'dcomms/drp/register-ack1/v1',
 * registerReqSignedBytes(req) (bin), req.requesterSignature, requesterRegId, timestampMs,
 * responderRegId, responderEphemeralKey, responderParamsCiphertext]).
 */
export function registerAck1SignedBytes(
  req: RegisterReqTranscript,
  ack1: Omit<RegisterAck1Transcript, 'responderSignature'>,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.registerAck1,
    registerReqSignedBytes(req),
    req.requesterSignature,
    ack1.requesterRegId,
    ack1.timestampMs,
    ack1.responderRegId,
    ack1.responderEphemeralKey,
    ack1.responderParamsCiphertext,
  ]);
}

/**
 * Bytes A signs in RegisterAck2: msgpack([label 'dcomms/drp/register-ack2/v1',
 * registerAck1SignedBytes(req, ack1) (bin), ack1.responderSignature, requesterRegId, timestampMs,
 * requesterParamsCiphertext]).
 */
export function registerAck2SignedBytes(
  req: RegisterReqTranscript,
  ack1: RegisterAck1Transcript,
  ack2: Omit<RegisterAck2Transcript, 'requesterSignature'>,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.registerAck2,
    registerAck1SignedBytes(req, ack1),
    ack1.responderSignature,
    ack2.requesterRegId,
    ack2.timestampMs,
    ack2.requesterParamsCiphertext,
  ]);
}

/**
 * Bytes N signs for the confirmation (sent to A in a PONG, relayed back in CFM):
 * msgpack([label 'dcomms/drp/register-cfm-responder/v1', registerAck2SignedBytes(…) (bin),
 * ack2.requesterSignature]).
 */
export function registerResponderCfmSignedBytes(
  req: RegisterReqTranscript,
  ack1: RegisterAck1Transcript,
  ack2: RegisterAck2Transcript,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.registerCfmResponder,
    registerAck2SignedBytes(req, ack1, ack2),
    ack2.requesterSignature,
  ]);
}

/**
 * Bytes A signs for the confirmation: msgpack([label 'dcomms/drp/register-cfm-requester/v1',
 * registerAck2SignedBytes(…) (bin), ack2.requesterSignature, responderConfirmationSignature]).
 */
export function registerRequesterCfmSignedBytes(
  req: RegisterReqTranscript,
  ack1: RegisterAck1Transcript,
  ack2: RegisterAck2Transcript,
  responderConfirmationSignature: Uint8Array,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.registerCfmRequester,
    registerAck2SignedBytes(req, ack1, ack2),
    ack2.requesterSignature,
    responderConfirmationSignature,
  ]);
}

// ---- KDF transcripts (salt = SHA-256 of these bytes; ikm = X25519(ephemeral A, ephemeral N)) ----

/**
 * Transcript for the ack1 parameter key: msgpack([label 'dcomms/drp/register-ack1-kdf/v1',
 * registerReqSignedBytes(req), req.requesterSignature, responderRegId, responderEphemeralKey]).
 */
export function registerAck1KdfTranscript(
  req: RegisterReqTranscript,
  responderRegId: Uint8Array,
  responderEphemeralKey: Uint8Array,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.registerAck1Kdf,
    registerReqSignedBytes(req),
    req.requesterSignature,
    responderRegId,
    responderEphemeralKey,
  ]);
}

/**
 * Transcript for the ack2 parameter key: msgpack([label 'dcomms/drp/register-ack2-kdf/v1',
 * registerAck1SignedBytes(req, ack1), ack1.responderSignature]).
 */
export function registerAck2KdfTranscript(
  req: RegisterReqTranscript,
  ack1: RegisterAck1Transcript,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.registerAck2Kdf,
    registerAck1SignedBytes(req, ack1),
    ack1.responderSignature,
  ]);
}

/**
 * Transcript for both link keys: msgpack([label 'dcomms/drp/link-kdf/v1',
 * registerAck2SignedBytes(req, ack1, ack2), ack2.requesterSignature]).
 */
export function registerLinkKdfTranscript(
  req: RegisterReqTranscript,
  ack1: RegisterAck1Transcript,
  ack2: RegisterAck2Transcript,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.linkKdf,
    registerAck2SignedBytes(req, ack1, ack2),
    ack2.requesterSignature,
  ]);
}

// ---- link parameters (plaintext of responderParamsCiphertext / requesterParamsCiphertext) ----

/** What each side tells the other, encrypted, so the new link can be opened. */
export interface LinkParams {
  /** The sender's public endpoint for the new link (where hole-punching pings go). */
  readonly endpoint: WireEndpoint;
  /** The token the other side must put in every packet it sends on this link. */
  readonly linkToken: number;
  /** `NatFlags` bits. */
  readonly natFlags: number;
}

const linkParamsFields: readonly FieldSpec<keyof LinkParams>[] = [
  req('endpoint', endpoint),
  req('linkToken', linkToken),
  req('natFlags', mask(natFlagsMask)),
];

/** msgpack([endpoint bin6, linkToken u32, natFlags u8]). Throws RangeError on an invalid field. */
export function encodeLinkParams(p: LinkParams): Uint8Array {
  return msgpackEncode(bodyArray('LinkParams', linkParamsFields, p as unknown as Record<string, unknown>));
}

/** Decodes decrypted link parameters (untrusted until the AEAD tag verified; still never throws). */
export function decodeLinkParams(
  plaintext: Uint8Array,
): { readonly ok: true; readonly value: LinkParams } | DecodeFailure {
  if (plaintext.length > linkParamsPlaintextMaxBytes) return { ok: false, code: 'tooLarge' };
  const r = decodeArrayBody(new Uint8Array(plaintext), linkParamsFields);
  if (!r.ok) return r;
  return { ok: true, value: r.fields as unknown as LinkParams };
}
