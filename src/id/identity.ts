/**
 * User identity, registration keys and device certificates.
 *
 * Theory of operation. A *user* is a set of 1–3 long-term Ed25519 **root keys** plus a threshold
 * (`signaturesRequired`): that pair is the `UserIdentity`, exchanged in person, and its **userId** is the
 * SHA-256 of its canonical encoding. Root private keys stay offline as much as the application allows;
 * day-to-day a *device* acts with its own Ed25519 key, which the root keys vouch for with a
 * **device certificate**: (device public key, userId, validity window) signed by at least
 * `signaturesRequired` distinct root keys. A peer that knows the user's identity checks a certificate
 * with `verifyDeviceCertificate` and from then on trusts signatures made with the device key.
 *
 * Independently, a device reaches the DRP network through **registration keys**: an Ed25519 key pair
 * whose 32-byte public key *is* the regID (its SHA-256 gives the point in the 8-D torus, see geometry).
 *
 * All keys derive from 32-byte seeds drawn from the caller's `Rng`, so a simulated run replays exactly.
 *
 * Encodings (all @msgpack/msgpack fixed-order arrays, integers in their shortest form):
 * - UserIdentity: `[1, signaturesRequired, [rootPublicKey0, rootPublicKey1, ...]]`
 *   (keys as bin 32); userId = SHA-256 of exactly these bytes.
 * - DeviceCertificate: `[1, devicePublicKey, userId, validFromMs, validToMs, [[rootIndex, signature], ...]]`.
 * - **The bytes each root key signs** (`deviceCertificateSignedBytes`):
 *   `["dcomms/device-certificate/v1", devicePublicKey (bin 32), userId (bin 32), validFromMs, validToMs]`
 *   — the domain string keeps a root signature from being valid in any other context; the root index is
 *   not signed (it only says which key to check against).
 *
 * Decoders accept only the canonical encoding (decode → re-encode must give the same bytes), bound their
 * input size and every msgpack length, and return a code from a closed set instead of throwing.
 * Programmer errors on the issuing side (wrong sizes, a root key that is not the identity's) throw.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  type Crypto,
  type Ed25519PrivateKey,
  ed25519PublicKeyBytes,
  ed25519PublicKeyIsStrict,
  ed25519SeedBytes,
  ed25519SignatureBytes,
  sha256Bytes,
} from '../crypto/crypto.js';
import type { Rng } from '../seams/rng.js';

/** At most three root keys, as in the original (keeps identities and certificates small on the wire). */
export const rootKeyCountMax = 3;
export const userIdBytes = sha256Bytes;
export const userIdentityFormatVersion = 1;
export const deviceCertificateFormatVersion = 1;
/** The longest certificate the messenger issues: 3 years and 10 days, as the original's default. */
export const deviceCertificateValidityMaxMs = (3 * 365 + 10) * 24 * 60 * 60 * 1000;
/** Largest accepted encodings; a full 3-root identity is ~105 bytes, a 3-signature certificate ~300. */
export const userIdentitySizeMaxBytes = 192;
export const deviceCertificateSizeMaxBytes = 512;
export const deviceCertificateSignedDomain = 'dcomms/device-certificate/v1';

export type Result<T, C extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: C };

export interface UserIdentity {
  /** 1..rootKeyCountMax distinct, strict Ed25519 public keys; a certificate names them by index. */
  readonly rootPublicKeys: readonly Uint8Array[];
  /** How many distinct root keys must sign a device certificate; 1..rootPublicKeys.length. */
  readonly signaturesRequired: number;
}

/**
 * Why an identity is unusable (closed set):
 * - `wrongLength`: a root public key is not 32 bytes;
 * - `badRootKeyCount`: no root key, or more than `rootKeyCountMax`;
 * - `badThreshold`: `signaturesRequired` not an integer in [1, number of root keys];
 * - `duplicateRootKey`: the same key twice (it would let one key pass for two signatures);
 * - `weakRootKey`: a small-order or non-canonical key, for which anybody can make signatures.
 */
export type UserIdentityCode =
  | 'wrongLength'
  | 'badRootKeyCount'
  | 'badThreshold'
  | 'duplicateRootKey'
  | 'weakRootKey';

/** Decoding adds: `tooLarge` (input over the size cap), `malformed` (not msgpack of the right shape),
 * `unsupportedVersion`, `nonCanonical` (not the one canonical encoding of its value). */
export type UserIdentityDecodeCode =
  | UserIdentityCode
  | 'tooLarge'
  | 'malformed'
  | 'unsupportedVersion'
  | 'nonCanonical';

export interface RootSignature {
  /** Index into the identity's `rootPublicKeys`. */
  readonly rootIndex: number;
  readonly signature: Uint8Array;
}

export interface DeviceCertificate {
  readonly devicePublicKey: Uint8Array;
  readonly userId: Uint8Array;
  /** Valid on [validFromMs, validToMs): integer milliseconds of the same clock as `nowMs`. */
  readonly validFromMs: number;
  readonly validToMs: number;
  readonly signatures: readonly RootSignature[];
}

/**
 * Why a certificate encoding was refused (closed set):
 * - `tooLarge`: input longer than `deviceCertificateSizeMaxBytes` (not even parsed);
 * - `malformed`: not msgpack, trailing bytes, or not the fixed-order array of the right types;
 * - `unsupportedVersion`: a format version other than 1;
 * - `wrongLength`: a key, userId or signature of the wrong byte length;
 * - `badTime`: a time that is not a non-negative safe integer, or validFromMs > validToMs;
 * - `tooManySignatures`: more signatures than `rootKeyCountMax`;
 * - `nonCanonical`: a valid value, but not encoded the one canonical way.
 */
export type DeviceCertificateDecodeCode =
  | 'tooLarge'
  | 'malformed'
  | 'unsupportedVersion'
  | 'wrongLength'
  | 'badTime'
  | 'tooManySignatures'
  | 'nonCanonical';

/**
 * Why a certificate was not accepted for an identity at a time (closed set), in the order checked:
 * - `wrongLength`, `badTime`, `tooManySignatures`: as for decoding (certificates built in memory);
 * - `badIdentity`: the identity itself is unusable (see `UserIdentityCode`);
 * - `userMismatch`: the certificate names another userId;
 * - `weakDeviceKey`: the device key is small-order or non-canonical;
 * - `validityTooLong`: the window exceeds `deviceCertificateValidityMaxMs`;
 * - `notYetValid`: nowMs < validFromMs; `expired`: nowMs >= validToMs;
 * - `unknownRootIndex`: a rootIndex that names no root key; `duplicateRootIndex`: one key counted twice;
 * - `tooFewSignatures`: fewer signatures than the identity requires;
 * - `badSignature`: a listed signature does not verify (every listed one must).
 */
export type DeviceCertificateVerifyCode =
  | 'wrongLength'
  | 'badTime'
  | 'tooManySignatures'
  | 'badIdentity'
  | 'userMismatch'
  | 'weakDeviceKey'
  | 'validityTooLong'
  | 'notYetValid'
  | 'expired'
  | 'unknownRootIndex'
  | 'duplicateRootIndex'
  | 'tooFewSignatures'
  | 'badSignature';

export interface RegistrationKeyPair {
  readonly privateKey: Ed25519PrivateKey;
  /** The regID: the 32-byte Ed25519 public key. */
  readonly regId: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------
// Keys

/** `count` fresh root key pairs (1..rootKeyCountMax), each from 32 bytes of `rng`. */
export function generateRootKeys(crypto: Crypto, rng: Rng, count: number): Ed25519PrivateKey[] {
  if (!Number.isInteger(count) || count < 1 || count > rootKeyCountMax) {
    throw new RangeError(`root key count must be an integer in [1, ${rootKeyCountMax}], got ${count}`);
  }
  const keys: Ed25519PrivateKey[] = [];
  for (let i = 0; i < count; i++) keys.push(crypto.ed25519FromSeed(rng.bytes(ed25519SeedBytes)));
  return keys;
}

/** A registration key pair; its public key is the regID. */
export function generateRegistrationKeyPair(crypto: Crypto, rng: Rng): RegistrationKeyPair {
  const privateKey = crypto.ed25519FromSeed(rng.bytes(ed25519SeedBytes));
  return { privateKey, regId: privateKey.publicKey };
}

/** A device key pair, to be vouched for by a device certificate. */
export function generateDeviceKeyPair(crypto: Crypto, rng: Rng): Ed25519PrivateKey {
  return crypto.ed25519FromSeed(rng.bytes(ed25519SeedBytes));
}

// ---------------------------------------------------------------------------------------------------
// Identity

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks an identity without throwing. */
export function checkUserIdentity(
  identity: UserIdentity,
): { ok: true } | { ok: false; code: UserIdentityCode } {
  const keys = identity.rootPublicKeys;
  if (keys.length < 1 || keys.length > rootKeyCountMax) return { ok: false, code: 'badRootKeyCount' };
  for (const key of keys) if (key.length !== ed25519PublicKeyBytes) return { ok: false, code: 'wrongLength' };
  const t = identity.signaturesRequired;
  if (!Number.isInteger(t) || t < 1 || t > keys.length) return { ok: false, code: 'badThreshold' };
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      if (bytesEqual(keys[i]!, keys[j]!)) return { ok: false, code: 'duplicateRootKey' };
    }
  }
  for (const key of keys) if (!ed25519PublicKeyIsStrict(key)) return { ok: false, code: 'weakRootKey' };
  return { ok: true };
}

/** Builds an identity from root public keys; throws RangeError if it would be unusable. */
export function createUserIdentity(
  rootPublicKeys: readonly Uint8Array[],
  signaturesRequired: number,
): UserIdentity {
  const identity: UserIdentity = { rootPublicKeys: rootPublicKeys.map((k) => k.slice()), signaturesRequired };
  const check = checkUserIdentity(identity);
  if (!check.ok) throw new RangeError(`unusable user identity: ${check.code}`);
  return identity;
}

const encoder = new Encoder();

/** The canonical encoding (see the module comment). Throws RangeError on an unusable identity. */
export function encodeUserIdentity(identity: UserIdentity): Uint8Array {
  const check = checkUserIdentity(identity);
  if (!check.ok) throw new RangeError(`unusable user identity: ${check.code}`);
  return encoder.encode([
    userIdentityFormatVersion,
    identity.signaturesRequired,
    [...identity.rootPublicKeys],
  ]);
}

/** userId = SHA-256 of the identity's canonical encoding. */
export function userIdOf(crypto: Crypto, identity: UserIdentity): Uint8Array {
  return crypto.sha256(encodeUserIdentity(identity));
}

/** Bounds for every msgpack length the identity and certificate formats can contain (no str, map, ext). */
const decoder = new Decoder({
  maxStrLength: 0,
  maxBinLength: ed25519SignatureBytes,
  maxArrayLength: 6,
  maxMapLength: 0,
  maxExtLength: 0,
});

/** msgpack decode that reports failure instead of throwing. */
function decodeMsgpack(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: decoder.decode(bytes) };
  } catch {
    return { ok: false };
  }
}

function isSafeUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function decodeUserIdentity(bytes: Uint8Array): Result<UserIdentity, UserIdentityDecodeCode> {
  if (bytes.length > userIdentitySizeMaxBytes) return { ok: false, code: 'tooLarge' };
  const decoded = decodeMsgpack(bytes);
  if (!decoded.ok || !Array.isArray(decoded.value) || decoded.value.length !== 3) {
    return { ok: false, code: 'malformed' };
  }
  const [version, signaturesRequired, keys] = decoded.value as unknown[];
  if (!isSafeUint(version)) return { ok: false, code: 'malformed' };
  if (version !== userIdentityFormatVersion) return { ok: false, code: 'unsupportedVersion' };
  if (!isSafeUint(signaturesRequired) || !Array.isArray(keys)) return { ok: false, code: 'malformed' };
  if (!keys.every((k) => k instanceof Uint8Array)) return { ok: false, code: 'malformed' };
  const identity: UserIdentity = {
    rootPublicKeys: (keys as Uint8Array[]).map((k) => k.slice()),
    signaturesRequired,
  };
  const check = checkUserIdentity(identity);
  if (!check.ok) return check;
  if (!bytesEqual(encodeUserIdentity(identity), bytes)) return { ok: false, code: 'nonCanonical' };
  return { ok: true, value: identity };
}

// ---------------------------------------------------------------------------------------------------
// Device certificates

interface CertificateBody {
  readonly devicePublicKey: Uint8Array;
  readonly userId: Uint8Array;
  readonly validFromMs: number;
  readonly validToMs: number;
}

/** The exact bytes every root key signs (see the module comment). */
export function deviceCertificateSignedBytes(body: CertificateBody): Uint8Array {
  return encoder.encode([
    deviceCertificateSignedDomain,
    body.devicePublicKey,
    body.userId,
    body.validFromMs,
    body.validToMs,
  ]);
}

/** Shape checks shared by decode and verify: lengths, times, signature count. */
function checkCertificateShape(
  cert: DeviceCertificate,
): { ok: true } | { ok: false; code: 'wrongLength' | 'badTime' | 'tooManySignatures' } {
  if (cert.devicePublicKey.length !== ed25519PublicKeyBytes || cert.userId.length !== userIdBytes) {
    return { ok: false, code: 'wrongLength' };
  }
  if (!isSafeUint(cert.validFromMs) || !isSafeUint(cert.validToMs) || cert.validFromMs > cert.validToMs) {
    return { ok: false, code: 'badTime' };
  }
  if (cert.signatures.length > rootKeyCountMax) return { ok: false, code: 'tooManySignatures' };
  for (const s of cert.signatures) {
    if (s.signature.length !== ed25519SignatureBytes) return { ok: false, code: 'wrongLength' };
  }
  return { ok: true };
}

export interface IssueDeviceCertificateOptions {
  readonly identity: UserIdentity;
  readonly devicePublicKey: Uint8Array;
  readonly validFromMs: number;
  readonly validToMs: number;
  /** The root keys that sign, with their index in `identity.rootPublicKeys`. */
  readonly signers: readonly { readonly rootIndex: number; readonly key: Ed25519PrivateKey }[];
}

/**
 * Signs a device certificate with the given root keys. Throws RangeError on any programmer error: an
 * unusable identity, a signer that is not the identity's key at its index, a repeated index, fewer signers
 * than required, a bad validity window.
 */
export function issueDeviceCertificate(
  crypto: Crypto,
  options: IssueDeviceCertificateOptions,
): DeviceCertificate {
  const { identity, devicePublicKey, validFromMs, validToMs, signers } = options;
  const check = checkUserIdentity(identity);
  if (!check.ok) throw new RangeError(`unusable user identity: ${check.code}`);
  if (devicePublicKey.length !== ed25519PublicKeyBytes || !ed25519PublicKeyIsStrict(devicePublicKey)) {
    throw new RangeError('device public key must be a strict 32-byte Ed25519 key');
  }
  if (!isSafeUint(validFromMs) || !isSafeUint(validToMs) || validFromMs > validToMs) {
    throw new RangeError(`bad validity window [${validFromMs}, ${validToMs})`);
  }
  if (validToMs - validFromMs > deviceCertificateValidityMaxMs) {
    throw new RangeError(`validity window longer than ${deviceCertificateValidityMaxMs} ms`);
  }
  if (signers.length < identity.signaturesRequired) {
    throw new RangeError(`${signers.length} signers, ${identity.signaturesRequired} required`);
  }
  const seen = new Set<number>();
  for (const { rootIndex, key } of signers) {
    const expected = identity.rootPublicKeys[rootIndex];
    if (expected === undefined || !bytesEqual(expected, key.publicKey)) {
      throw new RangeError(`signer ${rootIndex} is not the identity's root key at that index`);
    }
    if (seen.has(rootIndex)) throw new RangeError(`root index ${rootIndex} signs twice`);
    seen.add(rootIndex);
  }
  const body: CertificateBody = {
    devicePublicKey: devicePublicKey.slice(),
    userId: userIdOf(crypto, identity),
    validFromMs,
    validToMs,
  };
  const signed = deviceCertificateSignedBytes(body);
  const signatures = [...signers]
    .sort((a, b) => a.rootIndex - b.rootIndex)
    .map(({ rootIndex, key }) => ({ rootIndex, signature: crypto.ed25519Sign(key, signed) }));
  return { ...body, signatures };
}

/** The canonical encoding (see the module comment). Throws RangeError on a malformed in-memory certificate. */
export function encodeDeviceCertificate(cert: DeviceCertificate): Uint8Array {
  const shape = checkCertificateShape(cert);
  if (!shape.ok) throw new RangeError(`malformed device certificate: ${shape.code}`);
  for (const s of cert.signatures) {
    if (!isSafeUint(s.rootIndex)) throw new RangeError(`bad root index ${s.rootIndex}`);
  }
  return encoder.encode([
    deviceCertificateFormatVersion,
    cert.devicePublicKey,
    cert.userId,
    cert.validFromMs,
    cert.validToMs,
    cert.signatures.map((s) => [s.rootIndex, s.signature]),
  ]);
}

export function decodeDeviceCertificate(
  bytes: Uint8Array,
): Result<DeviceCertificate, DeviceCertificateDecodeCode> {
  if (bytes.length > deviceCertificateSizeMaxBytes) return { ok: false, code: 'tooLarge' };
  const decoded = decodeMsgpack(bytes);
  if (!decoded.ok || !Array.isArray(decoded.value) || decoded.value.length !== 6) {
    return { ok: false, code: 'malformed' };
  }
  const [version, devicePublicKey, userId, validFromMs, validToMs, rawSignatures] =
    decoded.value as unknown[];
  if (!isSafeUint(version)) return { ok: false, code: 'malformed' };
  if (version !== deviceCertificateFormatVersion) return { ok: false, code: 'unsupportedVersion' };
  if (!(devicePublicKey instanceof Uint8Array) || !(userId instanceof Uint8Array)) {
    return { ok: false, code: 'malformed' };
  }
  if (typeof validFromMs !== 'number' || typeof validToMs !== 'number' || !Array.isArray(rawSignatures)) {
    return { ok: false, code: 'malformed' };
  }
  const signatures: RootSignature[] = [];
  for (const entry of rawSignatures as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) return { ok: false, code: 'malformed' };
    const [rootIndex, signature] = entry as unknown[];
    if (!isSafeUint(rootIndex) || !(signature instanceof Uint8Array)) return { ok: false, code: 'malformed' };
    // msgpack hands out views into `bytes`: copy, so the caller may reuse its buffer.
    signatures.push({ rootIndex, signature: signature.slice() });
  }
  const cert: DeviceCertificate = {
    devicePublicKey: devicePublicKey.slice(),
    userId: userId.slice(),
    validFromMs,
    validToMs,
    signatures,
  };
  const shape = checkCertificateShape(cert);
  if (!shape.ok) return shape;
  if (!bytesEqual(encodeDeviceCertificate(cert), bytes)) return { ok: false, code: 'nonCanonical' };
  return { ok: true, value: cert };
}

/**
 * Whether `cert` is a valid certificate of `identity` at `nowMs`. Cheap checks first; signatures last.
 * Never throws on any certificate content.
 */
export function verifyDeviceCertificate(
  crypto: Crypto,
  cert: DeviceCertificate,
  identity: UserIdentity,
  nowMs: number,
): { ok: true } | { ok: false; code: DeviceCertificateVerifyCode } {
  const shape = checkCertificateShape(cert);
  if (!shape.ok) return shape;
  if (!checkUserIdentity(identity).ok) return { ok: false, code: 'badIdentity' };
  if (!crypto.constantTimeEqual(userIdOf(crypto, identity), cert.userId))
    return { ok: false, code: 'userMismatch' };
  if (!ed25519PublicKeyIsStrict(cert.devicePublicKey)) return { ok: false, code: 'weakDeviceKey' };
  if (cert.validToMs - cert.validFromMs > deviceCertificateValidityMaxMs) {
    return { ok: false, code: 'validityTooLong' };
  }
  if (nowMs < cert.validFromMs) return { ok: false, code: 'notYetValid' };
  if (nowMs >= cert.validToMs) return { ok: false, code: 'expired' };
  const keyCount = identity.rootPublicKeys.length;
  const seen = new Set<number>();
  for (const { rootIndex } of cert.signatures) {
    if (!Number.isInteger(rootIndex) || rootIndex < 0 || rootIndex >= keyCount) {
      return { ok: false, code: 'unknownRootIndex' };
    }
    if (seen.has(rootIndex)) return { ok: false, code: 'duplicateRootIndex' };
    seen.add(rootIndex);
  }
  if (cert.signatures.length < identity.signaturesRequired) return { ok: false, code: 'tooFewSignatures' };
  const signed = deviceCertificateSignedBytes(cert);
  for (const { rootIndex, signature } of cert.signatures) {
    if (!crypto.ed25519Verify(identity.rootPublicKeys[rootIndex]!, signed, signature)) {
      return { ok: false, code: 'badSignature' };
    }
  }
  return { ok: true };
}
