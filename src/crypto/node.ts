/**
 * The `node:crypto` backend (OpenSSL): the default, in the simulator as on real UDP.
 *
 * Theory of operation: OpenSSL works on `KeyObject`s, and building one from raw bytes is the dominant
 * hidden cost (measured on this machine: ~350 µs through a PKCS#8/SPKI DER parser, ~5 µs for a public
 * key and ~35 µs for a private key through JWK, against ~35 µs for a signature or an X25519 step). So:
 * - keys are imported through JWK, never DER;
 * - an Ed25519 private key handle carries its private `KeyObject`, built once by `ed25519FromSeed`;
 * - public keys for `ed25519Verify` come from a bounded cache keyed by the key's bytes (a neighbour's
 *   regID signs many packets);
 * - X25519 private keys come from a small bounded cache, because the protocol uses an ephemeral key
 *   twice (`x25519PublicKey`, then `x25519`) and importing a private key costs as much as the exchange.
 *   The bound is small on purpose: the cache must not keep many past ephemeral secrets alive;
 * - X25519 peer public keys likewise (small: fresh ephemeral peer keys rarely recur).
 *
 * Outputs are returned as plain `Uint8Array` views, not `Buffer`s (whose `slice` aliases memory).
 * Nothing here draws randomness: every key comes from bytes the caller supplies.
 */
import { Buffer } from 'node:buffer';
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hash,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import {
  aeadKeyBytes,
  aeadNonceBytes,
  aeadTagBytes,
  assertHkdfLength,
  assertLength,
  type Crypto,
  type Ed25519PrivateKey,
  ed25519PublicKeyIsStrict,
  ed25519SeedBytes,
  ed25519SignatureBytes,
  isAllZero,
  x25519KeyBytes,
} from './crypto.js';
import { KeyCache } from './key-cache.js';

/** Public keys kept ready for `ed25519Verify` (a peer's neighbours and contacts, with room to spare). */
export const ed25519VerifyKeyCacheEntriesMax = 4096;
/** Recently used X25519 private keys kept as key objects (see the module comment for why so few). */
export const x25519PrivateKeyCacheEntriesMax = 16;
/**
 * Recently used X25519 peer public keys. Ephemeral peer keys are mostly used once, so this only pays off
 * when a key recurs (a repeated handshake step); it is small because it rarely hits.
 */
export const x25519PublicKeyCacheEntriesMax = 16;

/**
 * OpenSSL's JWK import of a private OKP key reads only `d` and derives the public half itself; `x` must
 * be present as a string, so a fixed placeholder of the right length is passed rather than a value we do
 * not know yet. (The RFC vector tests pin the derived public keys, so a change of that behaviour shows.)
 */
const jwkPublicPlaceholder = 'A'.repeat(43);

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function fromBase64url(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64url');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
}

/** A plain `Uint8Array` over a freshly allocated `Buffer`'s memory (no copy). */
function view(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function importPrivate(crv: 'Ed25519' | 'X25519', d: string): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d, x: jwkPublicPlaceholder }, format: 'jwk' });
}

function importPublic(crv: 'Ed25519' | 'X25519', x: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x }, format: 'jwk' });
}

function publicKeyOf(privateKey: KeyObject): Uint8Array {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('OpenSSL exported a public key without x');
  return fromBase64url(jwk.x);
}

/** The node backend's private key handle: the RFC 8032 seed, its public key and the OpenSSL key object. */
class NodeEd25519PrivateKey implements Ed25519PrivateKey {
  constructor(
    readonly seed: Uint8Array,
    readonly publicKey: Uint8Array,
    readonly keyObject: KeyObject,
  ) {}
}

function ed25519FromSeed(seed: Uint8Array): NodeEd25519PrivateKey {
  assertLength('Ed25519 seed', seed, ed25519SeedBytes);
  const keyObject = importPrivate('Ed25519', base64url(seed));
  return new NodeEd25519PrivateKey(seed.slice(), publicKeyOf(keyObject), keyObject);
}

const verifyKeys = new KeyCache<KeyObject>(ed25519VerifyKeyCacheEntriesMax);

interface X25519CacheEntry {
  readonly keyObject: KeyObject;
  publicKey: Uint8Array | undefined;
}
const x25519PrivateKeys = new KeyCache<X25519CacheEntry>(x25519PrivateKeyCacheEntriesMax);
const x25519PublicKeys = new KeyCache<KeyObject>(x25519PublicKeyCacheEntriesMax);

function x25519Public(publicKey: Uint8Array): KeyObject {
  const x = base64url(publicKey);
  let keyObject = x25519PublicKeys.get(x);
  if (keyObject === undefined) {
    keyObject = importPublic('X25519', x);
    x25519PublicKeys.set(x, keyObject);
  }
  return keyObject;
}

function x25519Private(privateKey: Uint8Array): X25519CacheEntry {
  const d = base64url(privateKey);
  let entry = x25519PrivateKeys.get(d);
  if (entry === undefined) {
    entry = { keyObject: importPrivate('X25519', d), publicKey: undefined };
    x25519PrivateKeys.set(d, entry);
  }
  return entry;
}

/** ChaCha20-Poly1305 seal through OpenSSL (also used by the noble backend; see noble.ts). */
export function nodeAeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  assertLength('AEAD key', key, aeadKeyBytes);
  assertLength('AEAD nonce', nonce, aeadNonceBytes);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(body.length + tail.length + aeadTagBytes);
  out.set(body, 0);
  out.set(tail, body.length);
  out.set(tag, body.length + tail.length);
  return out;
}

/** ChaCha20-Poly1305 open through OpenSSL; `null` on any failure. */
export function nodeAeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  if (key.length !== aeadKeyBytes || nonce.length !== aeadNonceBytes || sealed.length < aeadTagBytes) {
    return null;
  }
  const bodyBytes = sealed.length - aeadTagBytes;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
    decipher.setAuthTag(sealed.subarray(bodyBytes));
    decipher.setAAD(aad, { plaintextLength: bodyBytes });
    const body = decipher.update(sealed.subarray(0, bodyBytes));
    // `final` throws when the tag does not match; only then is the plaintext released.
    const tail = decipher.final();
    if (tail.length === 0) return view(body);
    const out = new Uint8Array(body.length + tail.length);
    out.set(body, 0);
    out.set(tail, body.length);
    return out;
  } catch {
    return null;
  }
}

const hmacBlockBytes = 64;
/**
 * Messages up to this size are MAC'd through a reused scratch buffer (every DRP and DMP datagram is
 * smaller); larger ones fall back to `createHmac`.
 */
export const hmacScratchBytes = 2048;
const hmacInner = Buffer.alloc(hmacBlockBytes + hmacScratchBytes);
const hmacOuter = Buffer.alloc(hmacBlockBytes + 32);

/**
 * HMAC-SHA256 (RFC 2104) as two one-shot hashes over a reused scratch buffer: H((K⊕opad) ‖ H((K⊕ipad) ‖ m)).
 * On this machine that is about 1.5× faster than `createHmac`, which builds a native key and an `Hmac`
 * object per call — and link packets are MAC'd and checked once each, so that cost is per datagram. The
 * pads are recomputed per call (64 byte XORs, cheaper than any cache lookup), so nothing of a key outlives
 * the call except in the scratch buffers, which the next call overwrites.
 */
export function nodeHmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length > hmacBlockBytes || data.length > hmacScratchBytes) {
    return view(createHmac('sha256', key).update(data).digest());
  }
  const inner = hmacInner;
  const outer = hmacOuter;
  for (let i = 0; i < key.length; i++) {
    inner[i] = key[i]! ^ 0x36;
    outer[i] = key[i]! ^ 0x5c;
  }
  inner.fill(0x36, key.length, hmacBlockBytes);
  outer.fill(0x5c, key.length, hmacBlockBytes);
  inner.set(data, hmacBlockBytes);
  const innerHash = hash('sha256', inner.subarray(0, hmacBlockBytes + data.length), 'buffer');
  outer.set(innerHash, hmacBlockBytes);
  return view(hash('sha256', outer, 'buffer'));
}

/** HKDF-SHA256 with binary `info` (RFC 5869 as written); `Crypto.hkdf` is this with a UTF-8 label. */
export function nodeHkdfBytes(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  assertHkdfLength(length);
  // RFC 5869 through the HMAC above: the short inputs of this protocol (a 32-byte secret, a transcript
  // hash, a label) derive about twice as fast as through `hkdfSync`, which builds key objects per call.
  // An empty salt is HashLen zero bytes, which as an HMAC key equals the empty key.
  const prk = nodeHmacSha256(salt, ikm);
  const out = new Uint8Array(length);
  const block = new Uint8Array(32 + info.length + 1);
  block.set(info, 32);
  let previous = 0;
  for (let i = 1, off = 0; off < length; i++, off += 32) {
    block[32 + info.length] = i;
    const t = nodeHmacSha256(prk, block.subarray(32 - previous));
    out.set(t.subarray(0, Math.min(32, length - off)), off);
    block.set(t, 0);
    previous = 32;
  }
  return out;
}

const labelEncoder = new TextEncoder();

export const nodeCrypto: Crypto = {
  backend: 'node',

  ed25519FromSeed,

  ed25519Sign(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
    // A handle from another backend (or a plain object) is imported on each call: correct, but slow.
    const keyObject =
      key instanceof NodeEd25519PrivateKey ? key.keyObject : ed25519FromSeed(key.seed).keyObject;
    return view(sign(null, message, keyObject));
  },

  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== ed25519SignatureBytes || !ed25519PublicKeyIsStrict(publicKey)) return false;
    try {
      const x = base64url(publicKey);
      let keyObject = verifyKeys.get(x);
      if (keyObject === undefined) {
        keyObject = importPublic('Ed25519', x);
        verifyKeys.set(x, keyObject);
      }
      return verify(null, message, keyObject, signature);
    } catch {
      return false;
    }
  },

  x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    assertLength('X25519 private key', privateKey, x25519KeyBytes);
    const entry = x25519Private(privateKey);
    entry.publicKey ??= publicKeyOf(entry.keyObject);
    return entry.publicKey.slice();
  },

  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null {
    if (privateKey.length !== x25519KeyBytes || peerPublicKey.length !== x25519KeyBytes) return null;
    try {
      const { keyObject } = x25519Private(privateKey);
      const shared = diffieHellman({ privateKey: keyObject, publicKey: x25519Public(peerPublicKey) });
      // OpenSSL already refuses an all-zero result; checking here keeps the rule independent of that.
      return isAllZero(shared) ? null : view(shared);
    } catch {
      return null;
    }
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
    assertHkdfLength(length);
    // node:crypto encodes a string `info` as UTF-8, which is the interface's definition.
    return nodeHkdfBytes(ikm, salt, labelEncoder.encode(label), length);
  },

  aeadSeal: nodeAeadSeal,
  aeadOpen: nodeAeadOpen,

  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    return nodeHmacSha256(key, data);
  },

  hmacSha256Verify(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean {
    const want = nodeHmacSha256(key, data);
    return mac.length === want.length && timingSafeEqual(want, mac);
  },

  sha256(data: Uint8Array): Uint8Array {
    return view(hash('sha256', data, 'buffer'));
  },

  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
  },
};
