/**
 * The one cryptography interface of the protocol core.
 *
 * Theory of operation: every primitive DRP and DMP need — Ed25519 for regID and user signatures,
 * X25519 for ephemeral key agreement, HKDF-SHA256 with a distinct label per derived key,
 * ChaCha20-Poly1305 for encrypted fields and channel payloads, HMAC-SHA256 for neighbour-link
 * packets, SHA-256, constant-time comparison — goes through `Crypto`, so the engine never names a
 * library. Two backends implement it: `nodeCrypto` (OpenSSL through `node:crypto`, the default because
 * it is an order of magnitude faster for the curves) and `nobleCrypto` (@noble, portable, the reference
 * the tests cross-check against).
 *
 * Error policy: a wrong *key or nonce size handed in by our own code* is a bug and throws `RangeError`;
 * anything that may come from the network (a signature, a peer's public key, a sealed box) is judged and
 * answered with `false`/`null`, never an exception, so untrusted bytes cannot throw past the receive path.
 *
 * No randomness lives here: key pairs are derived from 32-byte seeds that callers draw from the `Rng`
 * they were handed, so a simulated run's keys replay exactly.
 */

export const ed25519SeedBytes = 32;
export const ed25519PublicKeyBytes = 32;
export const ed25519SignatureBytes = 64;
export const x25519KeyBytes = 32;
export const aeadKeyBytes = 32;
export const aeadNonceBytes = 12;
export const aeadTagBytes = 16;
export const hmacBytes = 32;
export const sha256Bytes = 32;
/** RFC 5869: HKDF-SHA256 yields at most 255 blocks of 32 bytes. */
export const hkdfOutputMaxBytes = 255 * 32;

/** Opaque Ed25519 private key handle; a backend may cache native key objects inside. */
export interface Ed25519PrivateKey {
  /** The 32-byte RFC 8032 private key (the seed the signing scalar and prefix are hashed from). */
  readonly seed: Uint8Array;
  /** The 32-byte encoded public key (for a registration key: the regID). */
  readonly publicKey: Uint8Array;
}

export interface Crypto {
  readonly backend: 'node' | 'noble';
  /** Throws RangeError if `seed.length !== 32` (a programmer error: seeds come from our own Rng). */
  ed25519FromSeed(seed: Uint8Array): Ed25519PrivateKey;
  /** RFC 8032 pure Ed25519; 64 bytes. */
  ed25519Sign(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array;
  /**
   * RFC 8032 verification, strict: S < L, canonical encodings, and public keys of small order refused
   * (see `ed25519PublicKeyIsStrict`). Never throws; false on any bad input.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** X25519 public key (u-coordinate of k·9) of a 32-byte private key; throws RangeError on a wrong length. */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519 shared secret. `null` on wrong lengths or an all-zero result (the peer sent a small-order
   * point, which would make the "secret" known to everyone). Never throws.
   */
  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null;
  /** HKDF-SHA256 (RFC 5869) with info = UTF-8 of `label`; `length` in [0, 8160], else RangeError. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array;
  /** ChaCha20-Poly1305 (RFC 8439): ciphertext ‖ 16-byte tag. Throws RangeError on a wrong key/nonce size. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** The plaintext, or `null` on any failure (wrong sizes, bad tag). Never throws. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
  /** HMAC-SHA256; 32 bytes. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Whether `mac` is HMAC-SHA256(key, data), compared in constant time; false on a wrong length. */
  hmacSha256Verify(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean;
  /** SHA-256; 32 bytes. */
  sha256(data: Uint8Array): Uint8Array;
  /** Equal contents, in time independent of where they differ; false on a length mismatch. */
  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

export function assertLength(what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) {
    throw new RangeError(`${what} must be ${expected} bytes, got ${bytes.length}`);
  }
}

export function assertHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > hkdfOutputMaxBytes) {
    throw new RangeError(
      `HKDF output length must be an integer in [0, ${hkdfOutputMaxBytes}], got ${length}`,
    );
  }
}

/**
 * Portable constant-time comparison: OR of XORs over the whole length, so the running time depends only
 * on the length (which is public), never on the position of the first difference.
 */
export function portableConstantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** True when all bytes are zero (an X25519 result from a small-order point); constant time. */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The y-coordinates (little-endian, sign bit clear) of the eight Ed25519 torsion points: y = 1 (the
 * identity), y = 0 and y = p − 1 (orders 4 and 2), and the two order-8 values. Checked against
 * @noble/curves' `ED25519_TORSION_SUBGROUP` in the tests.
 */
const smallOrderEdwardsY: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
].map(fromHex);

/**
 * Whether a 32-byte Ed25519 public key may be used to verify at all: its y is canonical (< p = 2^255 − 19)
 * and it is not one of the small-order points.
 *
 * Why: RFC 8032 verification accepts the signature (R = identity, S = 0) on *every* message for the
 * identity or another small-order key, and OpenSSL does so (measured); such a key is one everybody can
 * sign for. noble in strict mode refuses those keys. Refusing them in both backends (as libsodium
 * does) makes the backends agree and keeps "a valid signature" meaning "made by the key's owner".
 * Honestly generated keys are never small-order, so nothing legitimate is refused.
 */
export function ed25519PublicKeyIsStrict(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ed25519PublicKeyBytes) return false;
  // y >= p only when byte 31 (sign bit cleared) is 0x7f, bytes 1..30 are 0xff and byte 0 >= 0xed.
  if ((publicKey[31]! & 0x7f) === 0x7f && publicKey[0]! >= 0xed) {
    let middle = 0xff;
    for (let i = 1; i < 31; i++) middle &= publicKey[i]!;
    if (middle === 0xff) return false;
  }
  for (const y of smallOrderEdwardsY) {
    let diff = (publicKey[31]! & 0x7f) ^ y[31]!;
    for (let i = 0; i < 31; i++) diff |= publicKey[i]! ^ y[i]!;
    if (diff === 0) return false;
  }
  return true;
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of an HKDF label. */
export function labelBytes(label: string): Uint8Array {
  return utf8.encode(label);
}
