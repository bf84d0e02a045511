/**
 * INVITE family: InviteReq (30), InviteAck1 (31), InviteAck2 (32), InviteCfm (33). Always sent over
 * neighbour links (link token + link MAC on every hop).
 *
 * Flow (A = requester, B = responder, the callee whose regID A targets):
 *   REQ  A → … → B   signed by A; routed greedily towards B's point; every proxy verifies A's signature.
 *   ACK1 B → … → A   signed by B over REQ ‖ ACK1; carries B's session description AEAD-encrypted to A.
 *   ACK2 A → … → B   signed by A over REQ ‖ ACK1 ‖ ACK2; carries A's session description encrypted to B.
 *   CFM  B → … → A   signed by B over the whole transcript.
 * Then A and B open the direct channel (dmp.ts). Proxies relay ACK1/ACK2/CFM by the transaction id
 * (requesterRegId, responderRegId, timestampMs). The session description's inner format belongs to
 * the direct-channel layer; here it is opaque bytes with a bound.
 */
import { defineCodec } from './codec.js';
import {
  contactInvitationTokenBytes,
  hopsRemainingMax,
  linkMacBytes,
  PacketType,
  regIdBytes,
  sessionDescriptionCiphertextMaxBytes,
  sessionDescriptionCiphertextMinBytes,
  signatureBytes,
  timestampMsMax,
  u32Max,
  x25519KeyBytes,
} from './constants.js';
import { signatureLabel, transcriptLabel } from './labels.js';
import { bytes, bytesRange, msgpackEncode, opt, req, uint } from './schema.js';

const u32 = uint(0, u32Max);
const timestamp = uint(0, timestampMsMax);
const regId = bytes(regIdBytes);
const sd = bytesRange(sessionDescriptionCiphertextMinBytes, sessionDescriptionCiphertextMaxBytes);

export interface InviteReq {
  readonly type: typeof PacketType.InviteReq;
  readonly linkToken: number;
  /** Signed. With both regIDs, the transaction id. */
  readonly timestampMs: number;
  /** Signed. */
  readonly requesterRegId: Uint8Array;
  /** The callee; routing target. Signed. */
  readonly responderRegId: Uint8Array;
  /** A's fresh X25519 key for this INVITE. Signed. */
  readonly requesterEphemeralKey: Uint8Array;
  /** Token from B's out-of-band contact invitation (first contact), or null. Signed. */
  readonly contactInvitationToken: Uint8Array | null;
  readonly requesterSignature: Uint8Array;
  /** 0..30, per hop. */
  readonly hopsRemaining: number;
  /**
   * Per hop: null while the search makes progress; set by the hop that steps past a local minimum to
   * the hops the search may still explore there (decremented per hop, a hop receiving 1 forwards no
   * further).
   */
  readonly exploreHopsRemaining: number | null;
  readonly seq: number;
  readonly linkMac: Uint8Array;
}
export type InviteReqSigned = Pick<
  InviteReq,
  'timestampMs' | 'requesterRegId' | 'responderRegId' | 'requesterEphemeralKey' | 'contactInvitationToken'
>;
export type InviteReqTranscript = InviteReqSigned & Pick<InviteReq, 'requesterSignature'>;

export const inviteReqCodec = defineCodec<InviteReq>({
  type: PacketType.InviteReq,
  name: 'InviteReq',
  fields: [
    req('linkToken', u32),
    req('timestampMs', timestamp),
    req('requesterRegId', regId),
    req('responderRegId', regId),
    req('requesterEphemeralKey', bytes(x25519KeyBytes)),
    opt('contactInvitationToken', bytes(contactInvitationTokenBytes)),
    req('requesterSignature', bytes(signatureBytes)),
    req('hopsRemaining', uint(0, hopsRemainingMax)),
    opt('exploreHopsRemaining', uint(0, hopsRemainingMax)),
    req('seq', u32),
    req('linkMac', bytes(linkMacBytes)),
  ],
});

export interface InviteAck1 {
  readonly type: typeof PacketType.InviteAck1;
  readonly linkToken: number;
  readonly timestampMs: number;
  readonly requesterRegId: Uint8Array;
  readonly responderRegId: Uint8Array;
  /** B's fresh X25519 key. Signed. */
  readonly responderEphemeralKey: Uint8Array;
  /** B's session description, AEAD-encrypted to A (key label invite-ack1-sd). Signed. */
  readonly responderSessionCiphertext: Uint8Array;
  readonly responderSignature: Uint8Array;
  readonly seq: number;
  readonly linkMac: Uint8Array;
}
export type InviteAck1Transcript = Pick<
  InviteAck1,
  | 'timestampMs'
  | 'requesterRegId'
  | 'responderRegId'
  | 'responderEphemeralKey'
  | 'responderSessionCiphertext'
  | 'responderSignature'
>;

export const inviteAck1Codec = defineCodec<InviteAck1>({
  type: PacketType.InviteAck1,
  name: 'InviteAck1',
  fields: [
    req('linkToken', u32),
    req('timestampMs', timestamp),
    req('requesterRegId', regId),
    req('responderRegId', regId),
    req('responderEphemeralKey', bytes(x25519KeyBytes)),
    req('responderSessionCiphertext', sd),
    req('responderSignature', bytes(signatureBytes)),
    req('seq', u32),
    req('linkMac', bytes(linkMacBytes)),
  ],
});

export interface InviteAck2 {
  readonly type: typeof PacketType.InviteAck2;
  readonly linkToken: number;
  readonly timestampMs: number;
  readonly requesterRegId: Uint8Array;
  readonly responderRegId: Uint8Array;
  /** A's session description, AEAD-encrypted to B (key label invite-ack2-sd). Signed. */
  readonly requesterSessionCiphertext: Uint8Array;
  readonly requesterSignature: Uint8Array;
  readonly seq: number;
  readonly linkMac: Uint8Array;
}
export type InviteAck2Transcript = Pick<
  InviteAck2,
  'timestampMs' | 'requesterRegId' | 'responderRegId' | 'requesterSessionCiphertext' | 'requesterSignature'
>;

export const inviteAck2Codec = defineCodec<InviteAck2>({
  type: PacketType.InviteAck2,
  name: 'InviteAck2',
  fields: [
    req('linkToken', u32),
    req('timestampMs', timestamp),
    req('requesterRegId', regId),
    req('responderRegId', regId),
    req('requesterSessionCiphertext', sd),
    req('requesterSignature', bytes(signatureBytes)),
    req('seq', u32),
    req('linkMac', bytes(linkMacBytes)),
  ],
});

export interface InviteCfm {
  readonly type: typeof PacketType.InviteCfm;
  readonly linkToken: number;
  readonly timestampMs: number;
  readonly requesterRegId: Uint8Array;
  readonly responderRegId: Uint8Array;
  readonly responderSignature: Uint8Array;
  readonly seq: number;
  readonly linkMac: Uint8Array;
}
export type InviteCfmTranscript = Pick<
  InviteCfm,
  'timestampMs' | 'requesterRegId' | 'responderRegId' | 'responderSignature'
>;

export const inviteCfmCodec = defineCodec<InviteCfm>({
  type: PacketType.InviteCfm,
  name: 'InviteCfm',
  fields: [
    req('linkToken', u32),
    req('timestampMs', timestamp),
    req('requesterRegId', regId),
    req('responderRegId', regId),
    req('responderSignature', bytes(signatureBytes)),
    req('seq', u32),
    req('linkMac', bytes(linkMacBytes)),
  ],
});

// ---- covered bytes ----

/**
 * Bytes A signs in InviteReq: msgpack([label 'dcomms/drp/invite-req/v1', timestampMs,
 * requesterRegId, responderRegId, requesterEphemeralKey, contactInvitationToken (bin16 | nil)]).
 * Not covered (per hop): linkToken, hopsRemaining, seq, linkMac.
 */
export function inviteReqSignedBytes(p: InviteReqSigned): Uint8Array {
  return msgpackEncode([
    signatureLabel.inviteReq,
    p.timestampMs,
    p.requesterRegId,
    p.responderRegId,
    p.requesterEphemeralKey,
    p.contactInvitationToken,
  ]);
}

/**
 * Bytes B signs in InviteAck1: msgpack([label 'dcomms/drp/invite-ack1/v1', inviteReqSignedBytes(req),
 * req.requesterSignature, timestampMs, requesterRegId, responderRegId, responderEphemeralKey,
 * responderSessionCiphertext]).
 */
export function inviteAck1SignedBytes(
  req: InviteReqTranscript,
  ack1: Omit<InviteAck1Transcript, 'responderSignature'>,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.inviteAck1,
    inviteReqSignedBytes(req),
    req.requesterSignature,
    ack1.timestampMs,
    ack1.requesterRegId,
    ack1.responderRegId,
    ack1.responderEphemeralKey,
    ack1.responderSessionCiphertext,
  ]);
}

/**
 * Bytes A signs in InviteAck2: msgpack([label 'dcomms/drp/invite-ack2/v1',
 * inviteAck1SignedBytes(req, ack1), ack1.responderSignature, timestampMs, requesterRegId,
 * responderRegId, requesterSessionCiphertext]).
 */
export function inviteAck2SignedBytes(
  req: InviteReqTranscript,
  ack1: InviteAck1Transcript,
  ack2: Omit<InviteAck2Transcript, 'requesterSignature'>,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.inviteAck2,
    inviteAck1SignedBytes(req, ack1),
    ack1.responderSignature,
    ack2.timestampMs,
    ack2.requesterRegId,
    ack2.responderRegId,
    ack2.requesterSessionCiphertext,
  ]);
}

/**
 * Bytes B signs in InviteCfm: msgpack([label 'dcomms/drp/invite-cfm/v1',
 * inviteAck2SignedBytes(req, ack1, ack2), ack2.requesterSignature, timestampMs, requesterRegId,
 * responderRegId]).
 */
export function inviteCfmSignedBytes(
  req: InviteReqTranscript,
  ack1: InviteAck1Transcript,
  ack2: InviteAck2Transcript,
  cfm: Omit<InviteCfmTranscript, 'responderSignature'>,
): Uint8Array {
  return msgpackEncode([
    signatureLabel.inviteCfm,
    inviteAck2SignedBytes(req, ack1, ack2),
    ack2.requesterSignature,
    cfm.timestampMs,
    cfm.requesterRegId,
    cfm.responderRegId,
  ]);
}

// ---- KDF transcripts (salt = SHA-256 of these; ikm = X25519 of the two INVITE ephemerals) ----

/** msgpack([label 'dcomms/drp/invite-ack1-kdf/v1', inviteReqSignedBytes(req), req.requesterSignature, responderEphemeralKey]). */
export function inviteAck1KdfTranscript(
  req: InviteReqTranscript,
  responderEphemeralKey: Uint8Array,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.inviteAck1Kdf,
    inviteReqSignedBytes(req),
    req.requesterSignature,
    responderEphemeralKey,
  ]);
}

/** msgpack([label 'dcomms/drp/invite-ack2-kdf/v1', inviteAck1SignedBytes(req, ack1), ack1.responderSignature]). */
export function inviteAck2KdfTranscript(req: InviteReqTranscript, ack1: InviteAck1Transcript): Uint8Array {
  return msgpackEncode([
    transcriptLabel.inviteAck2Kdf,
    inviteAck1SignedBytes(req, ack1),
    ack1.responderSignature,
  ]);
}

/**
 * Transcript of the whole INVITE, salting the DmpPing/DmpPong MAC key: msgpack([label
 * 'dcomms/dmp/ping-kdf/v1', inviteCfmSignedBytes(req, ack1, ack2, cfm), cfm.responderSignature]).
 */
export function dmpPingKdfTranscript(
  req: InviteReqTranscript,
  ack1: InviteAck1Transcript,
  ack2: InviteAck2Transcript,
  cfm: InviteCfmTranscript,
): Uint8Array {
  return msgpackEncode([
    transcriptLabel.dmpPingKdf,
    inviteCfmSignedBytes(req, ack1, ack2, cfm),
    cfm.responderSignature,
  ]);
}
