/**
 * Complete, correctly signed REGISTER and INVITE transcripts built from a seeded Rng, for the
 * signature tests and the golden vectors. Keys come from the Rng, so the output is reproducible.
 */
import { nodeCrypto } from '../../../src/crypto/index.js';
import type { Rng } from '../../../src/seams/rng.js';
import {
  type InviteAck1,
  type InviteAck2,
  type InviteCfm,
  type InviteReq,
  inviteAck1SignedBytes,
  inviteAck2SignedBytes,
  inviteCfmSignedBytes,
  inviteReqSignedBytes,
  PacketType,
  type RegisterAck1,
  type RegisterAck2,
  type RegisterCfm,
  type RegisterReq,
  registerAck1SignedBytes,
  registerAck2SignedBytes,
  registerReqSignedBytes,
  registerRequesterCfmSignedBytes,
  registerResponderCfmSignedBytes,
} from '../../../src/wire/index.js';

export interface RegisterFlow {
  readonly requesterPublicKey: Uint8Array;
  readonly responderPublicKey: Uint8Array;
  readonly req: RegisterReq;
  readonly ack1: RegisterAck1;
  readonly ack2: RegisterAck2;
  readonly cfm: RegisterCfm;
}

export interface InviteFlow {
  readonly requesterPublicKey: Uint8Array;
  readonly responderPublicKey: Uint8Array;
  readonly req: InviteReq;
  readonly ack1: InviteAck1;
  readonly ack2: InviteAck2;
  readonly cfm: InviteCfm;
}

const zeroSig = new Uint8Array(64);

/** A REGISTER through a neighbour link (link mode), or A → EP (entry mode) when `entry`. */
export function registerFlow(rng: Rng, entry: boolean): RegisterFlow {
  const a = nodeCrypto.ed25519FromSeed(rng.bytes(32));
  const n = nodeCrypto.ed25519FromSeed(rng.bytes(32));
  const link = (token: number) =>
    entry ? { linkToken: null, linkMac: null } : { linkToken: token, linkMac: rng.bytes(32) };
  const timestampMs = 1_760_000_000_000 + rng.int(1_000_000);
  const req0: RegisterReq = {
    type: PacketType.RegisterReq,
    ...link(rng.uint32()),
    requesterRegId: a.publicKey,
    requesterEphemeralKey: nodeCrypto.x25519PublicKey(rng.bytes(32)),
    timestampMs,
    busySectors: rng.int(512),
    requesterFlags: entry ? 1 : 0,
    directionVector: entry ? null : new Int8Array(rng.bytes(8).buffer),
    epEndpoint: { ipv4: Uint8Array.of(198, 51, 100, 7), port: 12000 },
    requesterSignature: zeroSig,
    pow2Nonce: entry ? rng.bytes(16) : null,
    hopsRemaining: 30,
    randomHopsRemaining: entry ? 0 : 1 + rng.int(9),
    seq: rng.uint32(),
  };
  const req: RegisterReq = {
    ...req0,
    requesterSignature: nodeCrypto.ed25519Sign(a, registerReqSignedBytes(req0)),
  };
  const ack10: RegisterAck1 = {
    type: PacketType.RegisterAck1,
    ...link(rng.uint32()),
    requesterRegId: a.publicKey,
    timestampMs,
    responderRegId: n.publicKey,
    responderEphemeralKey: nodeCrypto.x25519PublicKey(rng.bytes(32)),
    responderParamsCiphertext: rng.bytes(30),
    responderSignature: zeroSig,
    requesterEndpoint: entry ? { ipv4: Uint8Array.of(203, 0, 113, 45), port: 42777 } : null,
    seq: rng.uint32(),
  };
  const ack1: RegisterAck1 = {
    ...ack10,
    responderSignature: nodeCrypto.ed25519Sign(n, registerAck1SignedBytes(req, ack10)),
  };
  const ack20: RegisterAck2 = {
    type: PacketType.RegisterAck2,
    ...link(rng.uint32()),
    requesterRegId: a.publicKey,
    timestampMs,
    requesterParamsCiphertext: rng.bytes(29),
    requesterSignature: zeroSig,
    seq: rng.uint32(),
  };
  const ack2: RegisterAck2 = {
    ...ack20,
    requesterSignature: nodeCrypto.ed25519Sign(a, registerAck2SignedBytes(req, ack1, ack20)),
  };
  const responderCfm = nodeCrypto.ed25519Sign(n, registerResponderCfmSignedBytes(req, ack1, ack2));
  const cfm: RegisterCfm = {
    type: PacketType.RegisterCfm,
    ...link(rng.uint32()),
    requesterRegId: a.publicKey,
    timestampMs,
    responderConfirmationSignature: responderCfm,
    requesterConfirmationSignature: nodeCrypto.ed25519Sign(
      a,
      registerRequesterCfmSignedBytes(req, ack1, ack2, responderCfm),
    ),
    seq: rng.uint32(),
  };
  return { requesterPublicKey: a.publicKey, responderPublicKey: n.publicKey, req, ack1, ack2, cfm };
}

export function inviteFlow(rng: Rng, withToken: boolean): InviteFlow {
  const a = nodeCrypto.ed25519FromSeed(rng.bytes(32));
  const b = nodeCrypto.ed25519FromSeed(rng.bytes(32));
  const timestampMs = 1_760_000_000_000 + rng.int(1_000_000);
  const ids = { timestampMs, requesterRegId: a.publicKey, responderRegId: b.publicKey };
  const hop = () => ({ linkToken: rng.uint32(), seq: rng.uint32(), linkMac: rng.bytes(32) });
  const req0: InviteReq = {
    type: PacketType.InviteReq,
    ...hop(),
    ...ids,
    requesterEphemeralKey: nodeCrypto.x25519PublicKey(rng.bytes(32)),
    contactInvitationToken: withToken ? rng.bytes(16) : null,
    requesterSignature: zeroSig,
    hopsRemaining: 30 - rng.int(5),
    exploreHopsRemaining: withToken ? 1 + rng.int(5) : null,
  };
  const req: InviteReq = {
    ...req0,
    requesterSignature: nodeCrypto.ed25519Sign(a, inviteReqSignedBytes(req0)),
  };
  const ack10: InviteAck1 = {
    type: PacketType.InviteAck1,
    ...hop(),
    ...ids,
    responderEphemeralKey: nodeCrypto.x25519PublicKey(rng.bytes(32)),
    responderSessionCiphertext: rng.bytes(40 + rng.int(200)),
    responderSignature: zeroSig,
  };
  const ack1: InviteAck1 = {
    ...ack10,
    responderSignature: nodeCrypto.ed25519Sign(b, inviteAck1SignedBytes(req, ack10)),
  };
  const ack20: InviteAck2 = {
    type: PacketType.InviteAck2,
    ...hop(),
    ...ids,
    requesterSessionCiphertext: rng.bytes(40 + rng.int(200)),
    requesterSignature: zeroSig,
  };
  const ack2: InviteAck2 = {
    ...ack20,
    requesterSignature: nodeCrypto.ed25519Sign(a, inviteAck2SignedBytes(req, ack1, ack20)),
  };
  const cfm0: InviteCfm = { type: PacketType.InviteCfm, ...hop(), ...ids, responderSignature: zeroSig };
  const cfm: InviteCfm = {
    ...cfm0,
    responderSignature: nodeCrypto.ed25519Sign(b, inviteCfmSignedBytes(req, ack1, ack2, cfm0)),
  };
  return { requesterPublicKey: a.publicKey, responderPublicKey: b.publicKey, req, ack1, ack2, cfm };
}

/** Every signature of a REGISTER flow, as (signer, covered bytes, signature) checks. */
export function registerChecks(f: RegisterFlow): [string, Uint8Array, Uint8Array, Uint8Array][] {
  return [
    ['req', f.requesterPublicKey, registerReqSignedBytes(f.req), f.req.requesterSignature],
    ['ack1', f.responderPublicKey, registerAck1SignedBytes(f.req, f.ack1), f.ack1.responderSignature],
    ['ack2', f.requesterPublicKey, registerAck2SignedBytes(f.req, f.ack1, f.ack2), f.ack2.requesterSignature],
    [
      'cfm-responder',
      f.responderPublicKey,
      registerResponderCfmSignedBytes(f.req, f.ack1, f.ack2),
      f.cfm.responderConfirmationSignature,
    ],
    [
      'cfm-requester',
      f.requesterPublicKey,
      registerRequesterCfmSignedBytes(f.req, f.ack1, f.ack2, f.cfm.responderConfirmationSignature),
      f.cfm.requesterConfirmationSignature,
    ],
  ];
}

export function inviteChecks(f: InviteFlow): [string, Uint8Array, Uint8Array, Uint8Array][] {
  return [
    ['req', f.requesterPublicKey, inviteReqSignedBytes(f.req), f.req.requesterSignature],
    ['ack1', f.responderPublicKey, inviteAck1SignedBytes(f.req, f.ack1), f.ack1.responderSignature],
    ['ack2', f.requesterPublicKey, inviteAck2SignedBytes(f.req, f.ack1, f.ack2), f.ack2.requesterSignature],
    [
      'cfm',
      f.responderPublicKey,
      inviteCfmSignedBytes(f.req, f.ack1, f.ack2, f.cfm),
      f.cfm.responderSignature,
    ],
  ];
}
