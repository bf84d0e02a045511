/**
 * The @noble backend: audited pure-JavaScript curves and hashes, portable to any JavaScript runtime.
 *
 * Theory of operation: this is the *reference* the tests cross-check `nodeCrypto` against, on the RFC
 * vectors and on random inputs. It is slower than OpenSSL for the curves (measured in bench/crypto.ts),
 * so it is not the default.
 *
 * Ed25519 verification runs with `zip215: false` (strict RFC 8032: canonical encodings, S < L) behind
 * the shared `ed25519PublicKeyIsStrict` gate, as the node backend does, so both backends accept exactly
 * the same signatures — the cross-check tests hold them to that.
 *
 * AEAD: ChaCha20-Poly1305 lives in @noble/ciphers, which is not a dependency of this project. Rather
 * than a hand-written cipher, this backend uses the node:crypto (OpenSSL) ChaCha20-Poly1305 from
 * node.ts — so this backend is portable for everything *except* the AEAD, and the AEAD is not
 * independently cross-checked (it is checked against the RFC 8439 vectors instead).
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  assertHkdfLength,
  assertLength,
  type Crypto,
  type Ed25519PrivateKey,
  ed25519PublicKeyIsStrict,
  ed25519SeedBytes,
  ed25519SignatureBytes,
  isAllZero,
  labelBytes,
  portableConstantTimeEqual,
  x25519KeyBytes,
} from './crypto.js';
import { nodeAeadOpen, nodeAeadSeal } from './node.js';

/** HKDF-SHA256 with binary `info` (RFC 5869 as written); `Crypto.hkdf` is this with a UTF-8 label. */
export function nobleHkdfBytes(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  assertHkdfLength(length);
  if (length === 0) return new Uint8Array(0);
  return hkdf(sha256, ikm, salt, info, length);
}

export const nobleCrypto: Crypto = {
  backend: 'noble',

  ed25519FromSeed(seed: Uint8Array): Ed25519PrivateKey {
    assertLength('Ed25519 seed', seed, ed25519SeedBytes);
    const copy = seed.slice();
    return { seed: copy, publicKey: ed25519.getPublicKey(copy) };
  },

  ed25519Sign(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
    return ed25519.sign(message, key.seed);
  },

  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== ed25519SignatureBytes || !ed25519PublicKeyIsStrict(publicKey)) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },

  x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    assertLength('X25519 private key', privateKey, x25519KeyBytes);
    return x25519.getPublicKey(privateKey);
  },

  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null {
    if (privateKey.length !== x25519KeyBytes || peerPublicKey.length !== x25519KeyBytes) return null;
    try {
      // noble throws on an all-zero result; the explicit check keeps the rule independent of that.
      const shared = x25519.getSharedSecret(privateKey, peerPublicKey);
      return isAllZero(shared) ? null : shared;
    } catch {
      return null;
    }
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
    return nobleHkdfBytes(ikm, salt, labelBytes(label), length);
  },

  aeadSeal: nodeAeadSeal,
  aeadOpen: nodeAeadOpen,

  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    return hmac(sha256, key, data);
  },

  hmacSha256Verify(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean {
    return portableConstantTimeEqual(hmac(sha256, key, data), mac);
  },

  sha256(data: Uint8Array): Uint8Array {
    return sha256(data);
  },

  constantTimeEqual: portableConstantTimeEqual,
};
