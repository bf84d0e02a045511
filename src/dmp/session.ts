/**
 * Session descriptions: what each side of an INVITE tells the other about its end of the direct channel,
 * and the callee's policy for whom it opens a channel to.
 *
 * Theory of operation. INVITE ack1 (callee → caller) and ack2 (caller → callee) carry each side's session
 * description, AEAD-encrypted under keys from the INVITE's X25519 exchange and covered by the INVITE
 * signatures of the two *registration* keys (src/drp/invite.ts). A registration key says nothing about
 * which *user* holds it, so the session description is also signed by the sender's **device key**, whose
 * device certificate (src/id/identity.ts) it carries: a receiver that knows the user's root keys checks
 * that the certificate chains to them and that the device key signed this description.
 *
 * The signature also covers the two regIDs of the INVITE that carries it (`SessionContext`: the sender's
 * and the receiver's). Without them a peer that received Alice's description could put it in its own
 * INVITE to Carol and pass for Alice; with them it verifies only inside an INVITE between Alice's regID
 * and the intended receiver's, and that INVITE's transcript salts the channel keys (./channel.ts). So the
 * chain is: device certificate → device signature → regID pair → INVITE signatures → channel keys.
 *
 * Encoding (msgpack fixed-order array, `sessionDescriptionSizeMaxBytes` at most so that the encrypted
 * form fits `sessionDescriptionCiphertextMaxBytes`):
 *
 *   [version 1, endpoint (bin 6: IPv4 ‖ port u16 BE), channelToken u32, sessionType u8,
 *    deviceCertificate (bin, src/id encoding), invitationToken (bin 16 | nil), signature (bin 64)]
 *
 * Signed bytes (Ed25519 by the device key):
 *
 *   msgpack(["dcomms/dmp/session-description/v1", senderRegId (bin 32), receiverRegId (bin 32),
 *            version, endpoint (bin 6), channelToken, sessionType, deviceCertificate (bin),
 *            invitationToken (bin 16 | nil)])
 *
 * Acceptance policy (`acceptSessionDescription`): a description is accepted when its certificate chains
 * to the root keys of a contact (users added in person), or, for a first contact, when it carries a
 * valid, unexpired, unused one-time contact-invitation token that this user issued (`InvitationTokens`).
 * Untrusted bytes never throw: every refusal is a code from `SessionRefusalCode`.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  type Crypto,
  type Ed25519PrivateKey,
  ed25519SignatureBytes,
  portableConstantTimeEqual,
} from '../crypto/crypto.js';
import {
  type DeviceCertificate,
  type DeviceCertificateDecodeCode,
  type DeviceCertificateVerifyCode,
  decodeDeviceCertificate,
  deviceCertificateSizeMaxBytes,
  type UserIdentity,
  userIdOf,
  verifyDeviceCertificate,
} from '../id/identity.js';
import type { Rng } from '../seams/rng.js';
import type { Endpoint } from '../seams/transport.js';
import {
  aeadTagBytes,
  contactInvitationTokenBytes,
  endpointBytes,
  regIdBytes,
  sessionDescriptionCiphertextMaxBytes,
  u32Max,
} from '../wire/constants.js';
import { endpointFromWire, endpointToWire } from '../wire/endpoint.js';
import { signatureLabel } from '../wire/labels.js';
import { endpointToBytes } from '../wire/schema.js';

export const sessionDescriptionFormatVersion = 1;
/** Largest encoded description: its AEAD ciphertext must fit the INVITE ack1/ack2 field. */
export const sessionDescriptionSizeMaxBytes = sessionDescriptionCiphertextMaxBytes - aeadTagBytes;
/** One-time contact-invitation tokens a user has outstanding at most. */
export const invitationTokensMax = 64;
/** Contacts (users added in person) a `Contacts` list holds at most. */
export const contactsMax = 4096;

/**
 * How the two sides reach each other: `direct` (hole-punched UDP between the endpoints) or `relayed`
 * (the sender expects direct UDP not to work and asks for its datagrams to travel along the DRP path).
 * Wire codes are the indices.
 */
export const sessionTypes = ['direct', 'relayed'] as const;
export type SessionType = (typeof sessionTypes)[number];

export interface SessionDescription {
  /** The sender's public endpoint for the channel (as learned from its entry peer / neighbours). */
  readonly endpoint: Endpoint;
  /** The token the *other* side must put in every channel datagram it sends to this one. */
  readonly channelToken: number;
  readonly sessionType: SessionType;
  /** The sender's device certificate, encoded (src/id `encodeDeviceCertificate`). */
  readonly deviceCertificate: Uint8Array;
  /** A one-time contact-invitation token the receiver issued (first contact), or null. */
  readonly invitationToken: Uint8Array | null;
}

/** A decoded description with its signature and parsed certificate. */
export interface SignedSessionDescription extends SessionDescription {
  readonly signature: Uint8Array;
  readonly certificate: DeviceCertificate;
}

/** The INVITE a description travels in: the sender's and the receiver's regIDs. Signed, never sent. */
export interface SessionContext {
  readonly senderRegId: Uint8Array;
  readonly receiverRegId: Uint8Array;
}

/**
 * Why a description was refused (closed set), in the order checked:
 * - `tooLarge`: more than `sessionDescriptionSizeMaxBytes` (not parsed);
 * - `malformed`: not msgpack, trailing bytes, wrong shape, a field of the wrong kind, length or range;
 * - `unsupportedVersion`: a format version other than 1;
 * - `badCertificate`: the certificate does not decode, or (for a contact) does not verify against the
 *   contact's identity at `now` (expired, not yet valid, wrong signatures…; `certificateCode` says which);
 * - `badSignature`: the device key did not sign these bytes for this regID pair;
 * - `unknownContact`: the certificate's user is not a contact and no invitation token was offered;
 * - `unknownInvitation`: the token was never issued, was already used, or was evicted;
 * - `expiredInvitation`: the token was issued but its lifetime is over.
 */
export type SessionRefusalCode =
  | 'tooLarge'
  | 'malformed'
  | 'unsupportedVersion'
  | 'badCertificate'
  | 'badSignature'
  | 'unknownContact'
  | 'unknownInvitation'
  | 'expiredInvitation';

export type SessionRefusal =
  | { readonly ok: false; readonly code: Exclude<SessionRefusalCode, 'badCertificate'> }
  | {
      readonly ok: false;
      readonly code: 'badCertificate';
      readonly certificateCode: DeviceCertificateDecodeCode | DeviceCertificateVerifyCode;
    };

const encoder = new Encoder();
/** Limits for every msgpack length a description can contain (no str, map or ext; the certificate is the
 * longest bin). */
const decoder = new Decoder({
  maxStrLength: 0,
  maxBinLength: deviceCertificateSizeMaxBytes,
  maxArrayLength: 7,
  maxMapLength: 0,
  maxExtLength: 0,
  useBigInt64: false,
});

function checkContext(context: SessionContext): void {
  if (context.senderRegId.length !== regIdBytes || context.receiverRegId.length !== regIdBytes) {
    throw new RangeError('SessionContext: regIDs must be 32 bytes');
  }
}

/** The bytes the device key signs (see the module comment). */
export function sessionDescriptionSignedBytes(sd: SessionDescription, context: SessionContext): Uint8Array {
  return encoder.encode([
    signatureLabel.dmpSessionDescription,
    context.senderRegId,
    context.receiverRegId,
    sessionDescriptionFormatVersion,
    endpointToBytes(endpointToWire(sd.endpoint)),
    sd.channelToken,
    sessionTypes.indexOf(sd.sessionType),
    sd.deviceCertificate,
    sd.invitationToken,
  ]);
}

/**
 * Encodes and signs a description with the device key its certificate names. Throws RangeError on a
 * programmer error: a bad endpoint, token, session type, invitation-token length, regID length, a
 * certificate that does not decode or names another device key, or an encoding over the size bound.
 */
export function encodeSessionDescription(
  crypto: Crypto,
  sd: SessionDescription,
  deviceKey: Ed25519PrivateKey,
  context: SessionContext,
): Uint8Array {
  checkContext(context);
  if (!Number.isInteger(sd.channelToken) || sd.channelToken < 0 || sd.channelToken > u32Max) {
    throw new RangeError(`SessionDescription.channelToken: ${sd.channelToken} is not a u32`);
  }
  if (!sessionTypes.includes(sd.sessionType)) {
    throw new RangeError(`SessionDescription.sessionType: unknown '${String(sd.sessionType)}'`);
  }
  if (sd.invitationToken !== null && sd.invitationToken.length !== contactInvitationTokenBytes) {
    throw new RangeError(`SessionDescription.invitationToken: must be ${contactInvitationTokenBytes} bytes`);
  }
  const cert = decodeDeviceCertificate(sd.deviceCertificate);
  if (!cert.ok) throw new RangeError(`SessionDescription.deviceCertificate: ${cert.code}`);
  if (!portableConstantTimeEqual(cert.value.devicePublicKey, deviceKey.publicKey)) {
    throw new RangeError('SessionDescription.deviceCertificate: names another device key than the signer');
  }
  const signature = crypto.ed25519Sign(deviceKey, sessionDescriptionSignedBytes(sd, context));
  const out = encoder.encode([
    sessionDescriptionFormatVersion,
    endpointToBytes(endpointToWire(sd.endpoint)),
    sd.channelToken,
    sessionTypes.indexOf(sd.sessionType),
    sd.deviceCertificate,
    sd.invitationToken,
    signature,
  ]);
  if (out.length > sessionDescriptionSizeMaxBytes) {
    throw new RangeError(
      `SessionDescription: ${out.length} bytes exceeds sessionDescriptionSizeMaxBytes=${sessionDescriptionSizeMaxBytes}`,
    );
  }
  return out;
}

function isU32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= u32Max;
}

/**
 * Parses a description without checking any signature. Never throws. Byte fields of the result are
 * private copies (the caller may reuse its buffer).
 */
export function decodeSessionDescription(
  bytes: Uint8Array,
): { readonly ok: true; readonly value: SignedSessionDescription } | SessionRefusal {
  if (bytes.length > sessionDescriptionSizeMaxBytes) return { ok: false, code: 'tooLarge' };
  let decoded: unknown;
  try {
    decoded = decoder.decode(bytes);
  } catch {
    return { ok: false, code: 'malformed' };
  }
  if (!Array.isArray(decoded) || decoded.length !== 7) return { ok: false, code: 'malformed' };
  const [version, endpoint, channelToken, sessionType, deviceCertificate, invitationToken, signature] =
    decoded as unknown[];
  if (!isU32(version)) return { ok: false, code: 'malformed' };
  if (version !== sessionDescriptionFormatVersion) return { ok: false, code: 'unsupportedVersion' };
  if (!(endpoint instanceof Uint8Array) || endpoint.length !== endpointBytes) {
    return { ok: false, code: 'malformed' };
  }
  const port = (endpoint[4]! << 8) | endpoint[5]!;
  if (port === 0) return { ok: false, code: 'malformed' };
  if (!isU32(channelToken)) return { ok: false, code: 'malformed' };
  if (!isU32(sessionType) || sessionType >= sessionTypes.length) return { ok: false, code: 'malformed' };
  if (!(deviceCertificate instanceof Uint8Array)) return { ok: false, code: 'malformed' };
  if (
    invitationToken !== null &&
    !(invitationToken instanceof Uint8Array && invitationToken.length === contactInvitationTokenBytes)
  ) {
    return { ok: false, code: 'malformed' };
  }
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) {
    return { ok: false, code: 'malformed' };
  }
  const certificate = decodeDeviceCertificate(deviceCertificate);
  if (!certificate.ok) return { ok: false, code: 'badCertificate', certificateCode: certificate.code };
  return {
    ok: true,
    value: {
      endpoint: endpointFromWire({ ipv4: endpoint.subarray(0, 4), port }),
      channelToken,
      sessionType: sessionTypes[sessionType]!,
      deviceCertificate: deviceCertificate.slice(),
      invitationToken: invitationToken === null ? null : (invitationToken as Uint8Array).slice(),
      signature: signature.slice(),
      certificate: certificate.value,
    },
  };
}

/**
 * Decodes a description and checks that the device key of its certificate signed it for `context`
 * (the sender's and receiver's regIDs of the INVITE it arrived in). Does not judge the certificate
 * itself: that is the acceptance policy's job. Never throws on `bytes`; a context whose regIDs are not
 * 32 bytes is a programmer error (RangeError).
 */
export function verifySessionDescription(
  crypto: Crypto,
  bytes: Uint8Array,
  context: SessionContext,
): { readonly ok: true; readonly value: SignedSessionDescription } | SessionRefusal {
  checkContext(context);
  const r = decodeSessionDescription(bytes);
  if (!r.ok) return r;
  const sd = r.value;
  if (
    !crypto.ed25519Verify(
      sd.certificate.devicePublicKey,
      sessionDescriptionSignedBytes(sd, context),
      sd.signature,
    )
  ) {
    return { ok: false, code: 'badSignature' };
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Contacts and invitations

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** The users this user added in person, by userId (the SHA-256 of their identity). Bounded. */
export class Contacts {
  private readonly byUserId = new Map<string, UserIdentity>();

  constructor(
    private readonly crypto: Crypto,
    readonly entriesMax: number = contactsMax,
  ) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new RangeError(`Contacts: entriesMax must be a positive integer, got ${entriesMax}`);
    }
  }

  get size(): number {
    return this.byUserId.size;
  }

  /** Adds (or replaces) a contact; returns its userId. Throws RangeError when `entriesMax` contacts exist. */
  add(identity: UserIdentity): Uint8Array {
    const userId = userIdOf(this.crypto, identity);
    const key = hex(userId);
    if (!this.byUserId.has(key) && this.byUserId.size >= this.entriesMax) {
      throw new RangeError(`Contacts: full (${this.entriesMax} contacts, entriesMax)`);
    }
    this.byUserId.set(key, identity);
    return userId;
  }

  remove(userId: Uint8Array): boolean {
    return this.byUserId.delete(hex(userId));
  }

  find(userId: Uint8Array): UserIdentity | undefined {
    return this.byUserId.get(hex(userId));
  }
}

export type InvitationCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'unknownInvitation' | 'expiredInvitation' };

interface InvitationEntry {
  readonly token: Uint8Array;
  readonly expiresMs: number;
}

/**
 * One-time contact-invitation tokens (16 random bytes each) this user handed out in person, e.g. in an
 * invitation string or QR code, so that a stranger's first INVITE is answered. A token is valid on
 * [issued, issued + ttl) and works once: `consume` forgets it. The table holds at most `entriesMax`
 * tokens; issuing into a full table first drops expired tokens, then the one closest to expiry
 * (counted in `evicted`). Lookups compare every entry in constant time.
 */
export class InvitationTokens {
  private readonly entries: InvitationEntry[] = [];
  /** Tokens dropped unused because the table was full. */
  evicted = 0;

  constructor(
    private readonly rng: Rng,
    readonly entriesMax: number = invitationTokensMax,
  ) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new RangeError(`InvitationTokens: entriesMax must be a positive integer, got ${entriesMax}`);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** A fresh token valid for `ttlMs` from `nowMs`. */
  issue(nowMs: number, ttlMs: number): Uint8Array {
    if (!Number.isFinite(nowMs) || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
      throw new RangeError(`InvitationTokens.issue: bad time ${nowMs} or ttlMs ${ttlMs}`);
    }
    this.prune(nowMs);
    if (this.entries.length >= this.entriesMax) {
      let soonest = 0;
      for (let i = 1; i < this.entries.length; i++) {
        if (this.entries[i]!.expiresMs < this.entries[soonest]!.expiresMs) soonest = i;
      }
      this.entries.splice(soonest, 1);
      this.evicted++;
    }
    const token = this.rng.bytes(contactInvitationTokenBytes);
    this.entries.push({ token, expiresMs: nowMs + ttlMs });
    return token.slice();
  }

  /** Whether `token` would be accepted now, without using it up (the INVITE handler's first look). */
  check(token: Uint8Array, nowMs: number): InvitationCheck {
    const i = this.indexOf(token);
    if (i < 0) return { ok: false, code: 'unknownInvitation' };
    if (nowMs >= this.entries[i]!.expiresMs) return { ok: false, code: 'expiredInvitation' };
    return { ok: true };
  }

  /** Uses `token` up: accepted once if issued and unexpired; an expired token is forgotten too. */
  consume(token: Uint8Array, nowMs: number): InvitationCheck {
    const i = this.indexOf(token);
    if (i < 0) return { ok: false, code: 'unknownInvitation' };
    const expired = nowMs >= this.entries[i]!.expiresMs;
    this.entries.splice(i, 1);
    return expired ? { ok: false, code: 'expiredInvitation' } : { ok: true };
  }

  private indexOf(token: Uint8Array): number {
    let found = -1;
    for (let i = 0; i < this.entries.length; i++) {
      if (portableConstantTimeEqual(this.entries[i]!.token, token)) found = i;
    }
    return found;
  }

  private prune(nowMs: number): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (nowMs >= this.entries[i]!.expiresMs) this.entries.splice(i, 1);
    }
  }
}

export interface AcceptancePolicy {
  readonly contacts: Contacts;
  readonly invitations: InvitationTokens;
}

export interface AcceptedSession {
  readonly sd: SignedSessionDescription;
  /** `contact`: the certificate chains to a contact's root keys; `invitation`: a first contact. */
  readonly via: 'contact' | 'invitation';
  /** The contact's identity (null for a first contact by invitation). */
  readonly identity: UserIdentity | null;
}

/**
 * The callee's (or caller's) decision on the other side's description: decode, check the device
 * signature for `context`, then accept a contact whose certificate verifies at `nowMs`, or a stranger
 * whose description carries a valid invitation token (used up here, only after the signature checked
 * out). Never throws.
 */
export function acceptSessionDescription(
  crypto: Crypto,
  bytes: Uint8Array,
  context: SessionContext,
  policy: AcceptancePolicy,
  nowMs: number,
): { readonly ok: true; readonly value: AcceptedSession } | SessionRefusal {
  const r = verifySessionDescription(crypto, bytes, context);
  if (!r.ok) return r;
  const sd = r.value;
  const identity = policy.contacts.find(sd.certificate.userId);
  if (identity !== undefined) {
    const v = verifyDeviceCertificate(crypto, sd.certificate, identity, nowMs);
    if (!v.ok) return { ok: false, code: 'badCertificate', certificateCode: v.code };
    return { ok: true, value: { sd, via: 'contact', identity } };
  }
  if (sd.invitationToken === null) return { ok: false, code: 'unknownContact' };
  // A stranger: its root keys are unknown, so only the certificate's own validity window is checked.
  if (nowMs < sd.certificate.validFromMs) {
    return { ok: false, code: 'badCertificate', certificateCode: 'notYetValid' };
  }
  if (nowMs >= sd.certificate.validToMs) {
    return { ok: false, code: 'badCertificate', certificateCode: 'expired' };
  }
  const used = policy.invitations.consume(sd.invitationToken, nowMs);
  if (!used.ok) return used;
  return { ok: true, value: { sd, via: 'invitation', identity: null } };
}
