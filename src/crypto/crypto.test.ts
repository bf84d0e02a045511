import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import {
  type Crypto,
  defaultCrypto,
  ed25519PublicKeyIsStrict,
  ed25519VerifyKeyCacheEntriesMax,
  nobleCrypto,
  nodeCrypto,
} from './index.js';
import { KeyCache } from './key-cache.js';
import { hmacScratchBytes } from './node.js';

const backends: readonly Crypto[] = [nodeCrypto, nobleCrypto];
const crossCheckRounds = 1000;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function randomLabel(rng: SeededRng): string {
  const alphabet = ['a', 'z', '/', '-', '0', 'é', 'ж', '✓', '𝄞'];
  let s = '';
  const n = rng.int(20);
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

function flipBit(bytes: Uint8Array, rng: SeededRng): Uint8Array {
  const out = bytes.slice();
  if (out.length > 0) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
}

describe('the two backends agree on random inputs', () => {
  it('the default backend is node:crypto', () => {
    expect(defaultCrypto).toBe(nodeCrypto);
    expect(nodeCrypto.backend).toBe('node');
    expect(nobleCrypto.backend).toBe('noble');
  });

  it(`Ed25519: keys, signatures and verdicts (${crossCheckRounds} rounds)`, () => {
    const rng = new SeededRng('crypto/cross/ed25519');
    for (let i = 0; i < crossCheckRounds; i++) {
      const seed = rng.bytes(32);
      const message = rng.bytes(rng.int(200));
      const a = nodeCrypto.ed25519FromSeed(seed);
      const b = nobleCrypto.ed25519FromSeed(seed);
      expect(hex(a.publicKey)).toBe(hex(b.publicKey));
      const sigA = nodeCrypto.ed25519Sign(a, message);
      const sigB = nobleCrypto.ed25519Sign(b, message);
      expect(hex(sigA)).toBe(hex(sigB));
      expect(nodeCrypto.ed25519Verify(b.publicKey, message, sigB)).toBe(true);
      expect(nobleCrypto.ed25519Verify(a.publicKey, message, sigA)).toBe(true);
      // One flipped bit somewhere: both refuse.
      const which = rng.int(3);
      const pk = which === 0 ? flipBit(a.publicKey, rng) : a.publicKey;
      const msg = which === 1 ? (message.length > 0 ? flipBit(message, rng) : new Uint8Array(1)) : message;
      const sig = which === 2 ? flipBit(sigA, rng) : sigA;
      expect(nodeCrypto.ed25519Verify(pk, msg, sig)).toBe(false);
      expect(nobleCrypto.ed25519Verify(pk, msg, sig)).toBe(false);
      // Random garbage: same verdict (false) on both.
      const junkKey = rng.bytes(32);
      const junkSig = rng.bytes(64);
      expect(nodeCrypto.ed25519Verify(junkKey, message, junkSig)).toBe(false);
      expect(nobleCrypto.ed25519Verify(junkKey, message, junkSig)).toBe(false);
    }
  });

  it(`X25519: public keys and shared secrets, also with arbitrary peer bytes (${crossCheckRounds} rounds)`, () => {
    const rng = new SeededRng('crypto/cross/x25519');
    for (let i = 0; i < crossCheckRounds; i++) {
      const a = rng.bytes(32);
      const b = rng.bytes(32);
      const pubA = nodeCrypto.x25519PublicKey(a);
      const pubB = nobleCrypto.x25519PublicKey(b);
      expect(hex(pubA)).toBe(hex(nobleCrypto.x25519PublicKey(a)));
      expect(hex(pubB)).toBe(hex(nodeCrypto.x25519PublicKey(b)));
      const ab = nodeCrypto.x25519(a, pubB);
      const ba = nobleCrypto.x25519(b, pubA);
      expect(ab).not.toBeNull();
      expect(hex(ab!)).toBe(hex(ba!));
      const junk = rng.bytes(32);
      const viaNode = nodeCrypto.x25519(a, junk);
      const viaNoble = nobleCrypto.x25519(a, junk);
      expect(viaNode === null ? null : hex(viaNode)).toBe(viaNoble === null ? null : hex(viaNoble));
    }
  });

  it(`HKDF, HMAC and SHA-256 (${crossCheckRounds} rounds)`, () => {
    const rng = new SeededRng('crypto/cross/hashes');
    for (let i = 0; i < crossCheckRounds; i++) {
      const ikm = rng.bytes(rng.int(80));
      const salt = rng.bytes(rng.int(80));
      const label = randomLabel(rng);
      const length = rng.int(100);
      expect(hex(nodeCrypto.hkdf(ikm, salt, label, length))).toBe(
        hex(nobleCrypto.hkdf(ikm, salt, label, length)),
      );
      // Keys longer than the 64-byte block are hashed first, and data beyond the node backend's scratch
      // buffer takes its other path; cover both sides of each.
      const key = rng.bytes(rng.int(150));
      const data = rng.bytes(i % 50 === 0 ? hmacScratchBytes - 8 + rng.int(16) : rng.int(300));
      const mac = nodeCrypto.hmacSha256(key, data);
      expect(hex(mac)).toBe(hex(nobleCrypto.hmacSha256(key, data)));
      const wrong = mac.slice();
      wrong[rng.int(wrong.length)]! ^= 1 << rng.int(8);
      for (const c of [nodeCrypto, nobleCrypto]) {
        expect(c.hmacSha256Verify(key, data, mac)).toBe(true);
        expect(c.hmacSha256Verify(key, data, wrong)).toBe(false);
        expect(c.hmacSha256Verify(key, data, mac.subarray(0, 16))).toBe(false);
      }
      expect(hex(nodeCrypto.sha256(data))).toBe(hex(nobleCrypto.sha256(data)));
    }
  });

  it(`AEAD: seal/open round trip and refusal of any tampering (${crossCheckRounds} rounds)`, () => {
    const rng = new SeededRng('crypto/cross/aead');
    for (let i = 0; i < crossCheckRounds; i++) {
      const crypto = backends[i % 2]!;
      const key = rng.bytes(32);
      const nonce = rng.bytes(12);
      const aad = rng.bytes(rng.int(40));
      const plaintext = rng.bytes(rng.int(1300));
      const sealed = crypto.aeadSeal(key, nonce, plaintext, aad);
      expect(sealed.length).toBe(plaintext.length + 16);
      expect(hex(crypto.aeadOpen(key, nonce, sealed, aad)!)).toBe(hex(plaintext));
      const which = rng.int(4);
      const opened = crypto.aeadOpen(
        which === 0 ? flipBit(key, rng) : key,
        which === 1 ? flipBit(nonce, rng) : nonce,
        which === 2 ? flipBit(sealed, rng) : sealed,
        which === 3 ? (aad.length > 0 ? flipBit(aad, rng) : new Uint8Array(1)) : aad,
      );
      expect(opened).toBeNull();
    }
  });

  it(`constantTimeEqual matches plain comparison (${crossCheckRounds} rounds)`, () => {
    const rng = new SeededRng('crypto/cross/equal');
    for (let i = 0; i < crossCheckRounds; i++) {
      const a = rng.bytes(rng.int(40));
      const b = rng.int(3) === 0 ? rng.bytes(rng.int(40)) : rng.int(2) === 0 ? a.slice() : flipBit(a, rng);
      const expected = a.length === b.length && a.every((x, j) => x === b[j]);
      for (const crypto of backends) expect(crypto.constantTimeEqual(a, b)).toBe(expected);
    }
  });
});

describe('bad input is judged, never thrown', () => {
  for (const crypto of backends) {
    describe(`${crypto.backend} backend`, () => {
      const key = crypto.ed25519FromSeed(new Uint8Array(32).fill(7));
      const message = new Uint8Array([1, 2, 3]);
      const signature = crypto.ed25519Sign(key, message);

      it('ed25519Verify: wrong-length keys and signatures are false', () => {
        for (const n of [0, 1, 31, 33, 64]) {
          expect(crypto.ed25519Verify(new Uint8Array(n), message, signature)).toBe(false);
        }
        for (const n of [0, 1, 63, 65, 128]) {
          expect(crypto.ed25519Verify(key.publicKey, message, new Uint8Array(n))).toBe(false);
        }
        expect(crypto.ed25519Verify(key.publicKey, message, signature.subarray(0, 63))).toBe(false);
        const padded = new Uint8Array(65);
        padded.set(signature, 0);
        expect(crypto.ed25519Verify(key.publicKey, message, padded)).toBe(false);
        expect(crypto.ed25519Verify(key.publicKey, message, signature)).toBe(true);
      });

      it('ed25519Verify: a non-canonical S (S + L) is false', () => {
        const order = 2n ** 252n + 27742317777372353535851937790883648493n;
        let s = 0n;
        for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
        s += order;
        const bad = signature.slice();
        for (let i = 32; i < 64; i++) {
          bad[i] = Number(s & 0xffn);
          s >>= 8n;
        }
        expect(crypto.ed25519Verify(key.publicKey, message, bad)).toBe(false);
      });

      it('ed25519Verify: small-order and non-canonical public keys accept no signature', () => {
        const identityR = new Uint8Array(64);
        identityR[0] = 1; // R = identity, S = 0: valid under RFC 8032 for any small-order key
        const keys = ED25519_TORSION_SUBGROUP.map(fromHex);
        keys.push(fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')); // y = p + 1
        keys.push(fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')); // y = p, sign set
        for (const pk of keys) {
          expect(crypto.ed25519Verify(pk, message, identityR), hex(pk)).toBe(false);
          const withR = new Uint8Array(64);
          withR.set(pk, 0);
          expect(crypto.ed25519Verify(pk, message, withR), hex(pk)).toBe(false);
        }
      });

      it('ed25519Verify: 2,000 random triples are false without throwing', () => {
        const rng = new SeededRng(`crypto/junk/${crypto.backend}`);
        for (let i = 0; i < 2000; i++) {
          const pk = rng.int(4) === 0 ? rng.bytes(rng.int(40)) : rng.bytes(32);
          const sig = rng.int(4) === 0 ? rng.bytes(rng.int(80)) : rng.bytes(64);
          expect(crypto.ed25519Verify(pk, rng.bytes(rng.int(50)), sig)).toBe(false);
        }
      });

      it('aeadOpen: short, wrong-size and garbage inputs are null', () => {
        const k = new Uint8Array(32);
        const n = new Uint8Array(12);
        expect(crypto.aeadOpen(k, n, new Uint8Array(15), new Uint8Array(0))).toBeNull();
        expect(crypto.aeadOpen(k, n, new Uint8Array(16), new Uint8Array(0))).toBeNull();
        expect(crypto.aeadOpen(new Uint8Array(31), n, new Uint8Array(40), new Uint8Array(0))).toBeNull();
        expect(crypto.aeadOpen(k, new Uint8Array(8), new Uint8Array(40), new Uint8Array(0))).toBeNull();
        const empty = crypto.aeadSeal(k, n, new Uint8Array(0), new Uint8Array(0));
        expect(empty.length).toBe(16);
        expect(crypto.aeadOpen(k, n, empty, new Uint8Array(0))?.length).toBe(0);
      });

      it('programmer errors throw RangeError: wrong seed, AEAD key or nonce sizes', () => {
        expect(() => crypto.ed25519FromSeed(new Uint8Array(31))).toThrow(RangeError);
        expect(() => crypto.aeadSeal(new Uint8Array(16), new Uint8Array(12), message, message)).toThrow(
          RangeError,
        );
        expect(() => crypto.aeadSeal(new Uint8Array(32), new Uint8Array(24), message, message)).toThrow(
          RangeError,
        );
      });

      it('constantTimeEqual: different lengths are unequal, even as prefixes', () => {
        expect(crypto.constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
        expect(crypto.constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
        expect(crypto.constantTimeEqual(new Uint8Array(0), new Uint8Array(1))).toBe(false);
      });

      it('outputs are plain Uint8Arrays (a Buffer slice would alias memory)', () => {
        const outputs = [
          crypto.sha256(message),
          crypto.hmacSha256(message, message),
          crypto.hkdf(message, message, 'l', 32),
          crypto.ed25519Sign(key, message),
          crypto.x25519PublicKey(new Uint8Array(32).fill(5)),
          crypto.aeadSeal(new Uint8Array(32), new Uint8Array(12), message, message),
        ];
        for (const out of outputs) expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
      });

      it('a private key handle from the other backend signs identically', () => {
        const other = crypto === nodeCrypto ? nobleCrypto : nodeCrypto;
        const foreign = other.ed25519FromSeed(new Uint8Array(32).fill(9));
        expect(hex(crypto.ed25519Sign(foreign, message))).toBe(hex(other.ed25519Sign(foreign, message)));
      });

      it('a mutated key array is never served a stale cached key object', () => {
        const priv = new Uint8Array(32).fill(11);
        const before = crypto.x25519PublicKey(priv);
        priv[5] = 12; // (byte 0's low bits are cleared by clamping, so change another)
        const after = crypto.x25519PublicKey(priv);
        expect(hex(after)).not.toBe(hex(before));
        expect(hex(after)).toBe(hex(nobleCrypto.x25519PublicKey(priv)));
      });
    });
  }
});

describe('ed25519PublicKeyIsStrict', () => {
  it('refuses exactly the torsion points (in any sign) and non-canonical y, accepts real keys', () => {
    for (const t of ED25519_TORSION_SUBGROUP) {
      const pk = fromHex(t);
      expect(ed25519PublicKeyIsStrict(pk)).toBe(false);
      pk[31]! ^= 0x80;
      expect(ed25519PublicKeyIsStrict(pk)).toBe(false);
    }
    // y = p .. p + 18 (the only non-canonical values), each with both signs.
    for (let low = 0xed; low <= 0xff; low++) {
      const pk = new Uint8Array(32).fill(0xff);
      pk[0] = low;
      pk[31] = 0x7f;
      expect(ed25519PublicKeyIsStrict(pk)).toBe(false);
      pk[31] = 0xff;
      expect(ed25519PublicKeyIsStrict(pk)).toBe(false);
    }
    // y = p − 2 is canonical (whether or not it is on the curve is verify's business).
    const below = new Uint8Array(32).fill(0xff);
    below[0] = 0xeb;
    below[31] = 0x7f;
    expect(ed25519PublicKeyIsStrict(below)).toBe(true);
    const rng = new SeededRng('crypto/strict');
    for (let i = 0; i < 100; i++) {
      expect(ed25519PublicKeyIsStrict(nodeCrypto.ed25519FromSeed(rng.bytes(32)).publicKey)).toBe(true);
    }
    expect(ed25519PublicKeyIsStrict(new Uint8Array(31))).toBe(false);
  });
});

describe('KeyCache', () => {
  it('keeps at most entriesMax entries and evicts the least recently used', () => {
    const cache = new KeyCache<number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('d', 4); // evicts b
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.get('d')).toBe(4);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect(() => new KeyCache<number>(0)).toThrow(RangeError);
  });

  it('the verify cache stays bounded under many distinct keys and still verifies correctly', () => {
    const rng = new SeededRng('crypto/verify-cache');
    const keys = Array.from({ length: 40 }, () => nodeCrypto.ed25519FromSeed(rng.bytes(32)));
    const message = new Uint8Array([42]);
    const sigs = keys.map((k) => nodeCrypto.ed25519Sign(k, message));
    expect(ed25519VerifyKeyCacheEntriesMax).toBeGreaterThan(0);
    for (let round = 0; round < 3; round++) {
      keys.forEach((k, i) => {
        expect(nodeCrypto.ed25519Verify(k.publicKey, message, sigs[i]!)).toBe(true);
        expect(nodeCrypto.ed25519Verify(k.publicKey, message, sigs[(i + 1) % keys.length]!)).toBe(false);
      });
    }
  });
});
