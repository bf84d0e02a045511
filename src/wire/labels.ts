/**
 * Domain-separation labels. Every signature covers a msgpack array whose first item is one of the
 * signature labels, so a signature made for one purpose never verifies for another; every HKDF
 * call uses one of the key labels as `info`, and every transcript hashed into an HKDF salt starts
 * with one of the transcript labels. docs/protocol.md §Cryptography lists which is used where.
 */

// ---- Ed25519 signature labels (first item of the covered array) ----
export const signatureLabel = {
  registerReq: 'dcomms/drp/register-req/v1',
  registerAck1: 'dcomms/drp/register-ack1/v1',
  registerAck2: 'dcomms/drp/register-ack2/v1',
  registerCfmResponder: 'dcomms/drp/register-cfm-responder/v1',
  registerCfmRequester: 'dcomms/drp/register-cfm-requester/v1',
  inviteReq: 'dcomms/drp/invite-req/v1',
  inviteAck1: 'dcomms/drp/invite-ack1/v1',
  inviteAck2: 'dcomms/drp/invite-ack2/v1',
  inviteCfm: 'dcomms/drp/invite-cfm/v1',
  /** Session description, signed by the user's device key (src/dmp/session.ts). */
  dmpSessionDescription: 'dcomms/dmp/session-description/v1',
} as const;

// ---- transcript labels (first item of an array whose SHA-256 is an HKDF salt) ----
export const transcriptLabel = {
  registerAck1Kdf: 'dcomms/drp/register-ack1-kdf/v1',
  registerAck2Kdf: 'dcomms/drp/register-ack2-kdf/v1',
  linkKdf: 'dcomms/drp/link-kdf/v1',
  inviteAck1Kdf: 'dcomms/drp/invite-ack1-kdf/v1',
  inviteAck2Kdf: 'dcomms/drp/invite-ack2-kdf/v1',
  dmpPingKdf: 'dcomms/dmp/ping-kdf/v1',
  dmpChannelKdf: 'dcomms/dmp/channel-kdf/v1',
  dmpAad: 'dcomms/dmp/aad/v1',
} as const;

// ---- HKDF-SHA256 `info` labels, one per derived key ----
export const keyLabel = {
  /** AEAD key of the responder's link parameters in REGISTER ack1. */
  registerAck1Params: 'dcomms/drp/register-ack1-params/v1',
  /** AEAD key of the requester's link parameters in REGISTER ack2. */
  registerAck2Params: 'dcomms/drp/register-ack2-params/v1',
  /** HMAC key of link packets sent by the REGISTER requester to the responder. */
  linkKeyRequesterToResponder: 'dcomms/drp/link-key/requester-to-responder/v1',
  /** HMAC key of link packets sent by the REGISTER responder to the requester. */
  linkKeyResponderToRequester: 'dcomms/drp/link-key/responder-to-requester/v1',
  /** AEAD key of the responder's session description in INVITE ack1. */
  inviteAck1SessionDescription: 'dcomms/drp/invite-ack1-sd/v1',
  /** AEAD key of the requester's session description in INVITE ack2. */
  inviteAck2SessionDescription: 'dcomms/drp/invite-ack2-sd/v1',
  /** HMAC key of DmpPing/DmpPong (hole punching, key exchange, keep-alive). */
  dmpPingKey: 'dcomms/dmp/ping-key/v1',
  /** AEAD key of direct-channel packets sent by the INVITE requester. */
  dmpKeyRequesterToResponder: 'dcomms/dmp/channel-key/requester-to-responder/v1',
  /** AEAD key of direct-channel packets sent by the INVITE responder. */
  dmpKeyResponderToRequester: 'dcomms/dmp/channel-key/responder-to-requester/v1',
} as const;
