/**
 * The simulator's `Crypto`: the real backend, with the pure, expensive calls memoised across the whole
 * simulated network. In one process, every proxy on a REGISTER's path verifies the same signature over
 * the same bytes; the answer is a pure function of (public key, message, signature), so it is computed
 * once and looked up afterwards. Ed25519 signing is deterministic (RFC 8032), so (key, message) →
 * signature memoises exactly too. Each simulated peer still performs every check the protocol requires;
 * only the arithmetic is shared. Keys are exact (the message enters through its SHA-256), so a forged
 * message or signature never hits another's entry. Both tables are bounded LRU maps.
 */
import { Buffer } from 'node:buffer';
import type { Crypto, Ed25519PrivateKey } from '../../src/crypto/crypto.js';

/** Entries kept per memo table. */
export const cryptoMemoEntriesMax = 32_768;

class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(k, v);
  }
}

export interface MemoStats {
  verifyHits: number;
  verifyMisses: number;
  signHits: number;
  signMisses: number;
}

export function memoCrypto(
  inner: Crypto,
  entriesMax = cryptoMemoEntriesMax,
): Crypto & { readonly memo: MemoStats } {
  const verified = new Lru<boolean>(entriesMax);
  const signed = new Lru<Uint8Array>(entriesMax);
  const memo: MemoStats = { verifyHits: 0, verifyMisses: 0, signHits: 0, signMisses: 0 };
  return {
    ...inner,
    backend: inner.backend,
    memo,
    ed25519FromSeed: (seed) => inner.ed25519FromSeed(seed),
    ed25519Sign(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
      const k = Buffer.concat([key.publicKey, inner.sha256(message)]).toString('base64');
      const hit = signed.get(k);
      if (hit !== undefined) {
        memo.signHits++;
        return hit.slice();
      }
      memo.signMisses++;
      const sig = inner.ed25519Sign(key, message);
      signed.set(k, sig.slice());
      return sig;
    },
    ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (publicKey.length !== 32 || signature.length !== 64)
        return inner.ed25519Verify(publicKey, message, signature);
      // One flat key string (a rope built by `+=` would keep every step alive as a map key).
      const k = Buffer.concat([publicKey, signature, inner.sha256(message)]).toString('base64');
      const hit = verified.get(k);
      if (hit !== undefined) {
        memo.verifyHits++;
        return hit;
      }
      memo.verifyMisses++;
      const ok = inner.ed25519Verify(publicKey, message, signature);
      verified.set(k, ok);
      return ok;
    },
    x25519PublicKey: (k) => inner.x25519PublicKey(k),
    x25519: (k, p) => inner.x25519(k, p),
    hkdf: (ikm, salt, label, length) => inner.hkdf(ikm, salt, label, length),
    aeadSeal: (key, nonce, plaintext, aad) => inner.aeadSeal(key, nonce, plaintext, aad),
    aeadOpen: (key, nonce, sealed, aad) => inner.aeadOpen(key, nonce, sealed, aad),
    hmacSha256: (key, data) => inner.hmacSha256(key, data),
    sha256: (data) => inner.sha256(data),
    constantTimeEqual: (a, b) => inner.constantTimeEqual(a, b),
  };
}
