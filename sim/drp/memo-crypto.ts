/**
 * The simulator's `Crypto`: the real backend, with the pure, expensive calls memoised across the whole
 * simulated network. In one process, every proxy on a REGISTER's path verifies the same signature over
 * the same bytes; the answer is a pure function of (public key, message, signature), so it is computed
 * once and looked up afterwards. Ed25519 signing is deterministic (RFC 8032), so (key, message) →
 * signature memoises exactly too. Each simulated peer still performs every check the protocol requires;
 * only the arithmetic is shared. Keys are exact (the message enters through its SHA-256), so a forged
 * message or signature never hits another's entry. Both tables are bounded LRU maps. A signature made
 * with a key this memo made is entered as verified under that key's public half (an honest Ed25519
 * signature always verifies), so the first check of it is a lookup too. X25519 is shared the same way:
 * the second side of an exchange finds the secret the first side computed, keyed by both public keys;
 * and HKDF, whose outputs both sides derive from the same secret and transcript.
 *
 * Link MACs likewise: the sender of a link packet computes HMAC(link key, bytes) and its neighbour checks
 * the MAC it received over the same bytes under the same key a few simulated milliseconds later. The
 * sender's (key, bytes, MAC) is kept in a small table indexed by the MAC's first bytes; the receiver's
 * check compares key, bytes and MAC in full before answering yes, so only an exact repeat is served
 * from it, and anything else is computed.
 */
import { Buffer } from 'node:buffer';
import type { Crypto, Ed25519PrivateKey } from '../../src/crypto/crypto.js';

/** Entries kept per memo table. */
export const cryptoMemoEntriesMax = 32_768;
/** Link MACs kept for the receiver's check (a power of two; datagrams in flight network-wide, with room). */
export const macMemoSlots = 16_384;
/** Longest key and message a MAC slot holds (every link key and link datagram's covered bytes fit). */
const macKeyBytesMax = 64;
const macDataBytesMax = 1200;
const macBytes = 32;
const macSlotBytes = macKeyBytesMax + macBytes + macDataBytesMax;

/**
 * A direct-mapped table of (key, message, MAC) in one arena (allocated on first use). A slot is chosen
 * by the MAC's first bytes (uniform: the MAC is the hash), so neither side hashes the message again; the
 * next MAC that maps to a slot overwrites it, and nothing is allocated per entry.
 */
class MacMemo {
  /** Allocated by the first `set`: a world that never MACs a link datagram does not pay for it. */
  private arena: Uint8Array | null = null;
  private readonly keyLens = new Uint8Array(macMemoSlots);
  /** Message length + 1 (0: empty slot). */
  private readonly dataLens = new Uint16Array(macMemoSlots);

  private static slotOf(mac: Uint8Array): number {
    return (mac[0]! | (mac[1]! << 8) | (mac[2]! << 16)) & (macMemoSlots - 1);
  }

  /** Whether exactly (key, data, mac) was stored: every byte of all three is compared. */
  has(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean {
    const a = this.arena;
    if (a === null || mac.length !== macBytes) return false;
    const slot = MacMemo.slotOf(mac);
    if (this.dataLens[slot] !== data.length + 1 || this.keyLens[slot] !== key.length) return false;
    const base = slot * macSlotBytes;
    for (let i = 0; i < key.length; i++) if (a[base + i] !== key[i]) return false;
    const m = base + macKeyBytesMax;
    for (let i = 0; i < macBytes; i++) if (a[m + i] !== mac[i]) return false;
    const d = m + macBytes;
    for (let i = 0; i < data.length; i++) if (a[d + i] !== data[i]) return false;
    return true;
  }

  set(key: Uint8Array, data: Uint8Array, mac: Uint8Array): void {
    if (key.length > macKeyBytesMax || data.length > macDataBytesMax || mac.length !== macBytes) return;
    const slot = MacMemo.slotOf(mac);
    const base = slot * macSlotBytes;
    this.arena ??= new Uint8Array(macMemoSlots * macSlotBytes);
    const a = this.arena;
    a.set(key, base);
    a.set(mac, base + macKeyBytesMax);
    a.set(data, base + macKeyBytesMax + macBytes);
    this.keyLens[slot] = key.length;
    this.dataLens[slot] = data.length + 1;
  }
}

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
  macHits: number;
  x25519Hits: number;
  x25519Misses: number;
  hkdfHits: number;
  hkdfMisses: number;
  macMisses: number;
}

export function memoCrypto(
  inner: Crypto,
  entriesMax = cryptoMemoEntriesMax,
): Crypto & { readonly memo: MemoStats } {
  const verified = new Lru<boolean>(entriesMax);
  /** Private key handles this instance made (their public keys are known to match their seeds). */
  const ownKeys = new WeakSet<Ed25519PrivateKey>();
  const signed = new Lru<Uint8Array>(entriesMax);
  /** X25519 private key → its public key, and a pair of public keys → their shared secret (or null). */
  const x25519Publics = new Lru<Uint8Array>(entriesMax);
  const x25519Shared = new Lru<Uint8Array | null>(entriesMax);
  /** HKDF outputs by (length, label, SHA-256 of the input key material and salt). */
  const derived = new Lru<Uint8Array>(entriesMax);
  const macs = new MacMemo();
  const memo: MemoStats = {
    verifyHits: 0,
    verifyMisses: 0,
    signHits: 0,
    signMisses: 0,
    macHits: 0,
    macMisses: 0,
    x25519Hits: 0,
    x25519Misses: 0,
    hkdfHits: 0,
    hkdfMisses: 0,
  };
  function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    if (privateKey.length !== 32) return inner.x25519PublicKey(privateKey);
    const k = Buffer.from(privateKey.buffer, privateKey.byteOffset, 32).toString('base64');
    const hit = x25519Publics.get(k);
    if (hit !== undefined) return hit.slice();
    const pub = inner.x25519PublicKey(privateKey);
    x25519Publics.set(k, pub.slice());
    return pub;
  }

  return {
    ...inner,
    backend: inner.backend,
    memo,
    ed25519FromSeed(seed: Uint8Array): Ed25519PrivateKey {
      const key = inner.ed25519FromSeed(seed);
      ownKeys.add(key);
      return key;
    },
    ed25519Sign(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
      const digest = inner.sha256(message);
      const k = Buffer.concat([key.publicKey, digest]).toString('base64');
      const hit = signed.get(k);
      if (hit !== undefined) {
        memo.signHits++;
        return hit.slice();
      }
      memo.signMisses++;
      const sig = inner.ed25519Sign(key, message);
      signed.set(k, sig.slice());
      // A signature made here by a key made here (its public half derived from its seed) verifies under
      // that public key: RFC 8032 verification accepts every honest signature. The receiver's check of
      // exactly these bytes is answered from the table.
      if (ownKeys.has(key) && sig.length === 64) {
        verified.set(Buffer.concat([key.publicKey, sig, digest]).toString('base64'), true);
      }
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
    x25519PublicKey,
    x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null {
      if (privateKey.length !== 32 || peerPublicKey.length !== 32)
        return inner.x25519(privateKey, peerPublicKey);
      // Our public key (the side that answers computes it next anyway; the key object is cached by then).
      const mine = x25519PublicKey(privateKey);
      // X25519(a, X25519(b, 9)) = X25519(b, X25519(a, 9)), and a public key fixes its clamped scalar (two
      // clamped scalars with one public key would have to lie within 2^-125 of the range's ends), so the
      // unordered pair of public keys determines the shared secret.
      const k = (
        Buffer.compare(mine, peerPublicKey) <= 0
          ? Buffer.concat([mine, peerPublicKey])
          : Buffer.concat([peerPublicKey, mine])
      ).toString('base64');
      const hit = x25519Shared.get(k);
      if (hit !== undefined) {
        memo.x25519Hits++;
        return hit === null ? null : hit.slice();
      }
      memo.x25519Misses++;
      const shared = inner.x25519(privateKey, peerPublicKey);
      x25519Shared.set(k, shared === null ? null : shared.slice());
      return shared;
    },
    hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
      // Both ends of a link or exchange derive the same keys from the same secret and transcript.
      const lengths = new Uint8Array(8);
      new DataView(lengths.buffer).setUint32(0, ikm.length);
      new DataView(lengths.buffer).setUint32(4, salt.length);
      const k = `${length}:${label}:${Buffer.from(inner.sha256(Buffer.concat([lengths, ikm, salt]))).toString('base64')}`;
      const hit = derived.get(k);
      if (hit !== undefined) {
        memo.hkdfHits++;
        return hit.slice();
      }
      memo.hkdfMisses++;
      const out = inner.hkdf(ikm, salt, label, length);
      derived.set(k, out.slice());
      return out;
    },
    aeadSeal: (key, nonce, plaintext, aad) => inner.aeadSeal(key, nonce, plaintext, aad),
    aeadOpen: (key, nonce, sealed, aad) => inner.aeadOpen(key, nonce, sealed, aad),
    hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
      const mac = inner.hmacSha256(key, data);
      macs.set(key, data, mac);
      return mac;
    },
    hmacSha256Verify(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean {
      // The sender's MAC over the same bytes under the same key: the check's answer is known.
      if (macs.has(key, data, mac)) {
        memo.macHits++;
        return true;
      }
      memo.macMisses++;
      return inner.hmacSha256Verify(key, data, mac);
    },
    sha256: (data) => inner.sha256(data),
    constantTimeEqual: (a, b) => inner.constantTimeEqual(a, b),
  };
}
