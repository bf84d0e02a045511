import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../../src/crypto/index.js';
import { SeededRng } from '../kernel/rng.js';
import { memoCrypto } from './memo-crypto.js';

describe('memoCrypto', () => {
  it('answers exactly as the backend, for genuine, forged and repeated inputs', () => {
    const rng = new SeededRng('memo');
    const c = memoCrypto(nodeCrypto, 64);
    const keys = Array.from({ length: 8 }, () => nodeCrypto.ed25519FromSeed(rng.bytes(32)));
    for (let i = 0; i < 2_000; i++) {
      const key = keys[rng.int(keys.length)]!;
      const msg = rng.bytes(1 + rng.int(200));
      const sig = c.ed25519Sign(key, msg);
      expect(sig).toEqual(nodeCrypto.ed25519Sign(key, msg));
      const other = keys[rng.int(keys.length)]!.publicKey;
      const forged = msg.slice();
      forged[rng.int(forged.length)]! ^= 1 << rng.int(8);
      const badSig = sig.slice();
      badSig[rng.int(64)]! ^= 1;
      for (const [pub, m, s] of [
        [key.publicKey, msg, sig],
        [other, msg, sig],
        [key.publicKey, forged, sig],
        [key.publicKey, msg, badSig],
      ] as const) {
        expect(c.ed25519Verify(pub, m, s)).toBe(nodeCrypto.ed25519Verify(pub, m, s));
        expect(c.ed25519Verify(pub, m, s)).toBe(nodeCrypto.ed25519Verify(pub, m, s));
      }
    }
    expect(c.memo.verifyHits).toBeGreaterThan(1000);
    expect(c.ed25519Verify(new Uint8Array(3), new Uint8Array(1), new Uint8Array(64))).toBe(false);
  });
});

describe('memoCrypto signatures it made', () => {
  it('answers the first check of its own signatures from the table, and still checks everything else', () => {
    const rng = new SeededRng('memo-own');
    const c = memoCrypto(nodeCrypto);
    const keys = Array.from({ length: 4 }, () => c.ed25519FromSeed(rng.bytes(32)));
    for (let i = 0; i < 500; i++) {
      const key = keys[rng.int(keys.length)]!;
      const msg = rng.bytes(1 + rng.int(100));
      const sig = c.ed25519Sign(key, msg);
      const forged = msg.slice();
      forged[rng.int(forged.length)]! ^= 1;
      const other = keys[(keys.indexOf(key) + 1) % keys.length]!.publicKey;
      for (const [pub, m] of [
        [key.publicKey, msg],
        [key.publicKey, forged],
        [other, msg],
      ] as const) {
        expect(c.ed25519Verify(pub, m, sig)).toBe(nodeCrypto.ed25519Verify(pub, m, sig));
      }
    }
    // Every genuine check hit; every altered one was computed.
    expect(c.memo.verifyHits).toBe(500);
    expect(c.memo.verifyMisses).toBe(1000);
  });
});

describe('memoCrypto X25519', () => {
  it('gives each side of an exchange the backend’s secret, the second from the table', () => {
    const rng = new SeededRng('memo-x25519');
    const c = memoCrypto(nodeCrypto);
    for (let i = 0; i < 300; i++) {
      const a = rng.bytes(32);
      const b = rng.bytes(32);
      const pa = c.x25519PublicKey(a);
      const pb = c.x25519PublicKey(b);
      expect(pa).toEqual(nodeCrypto.x25519PublicKey(a));
      expect(c.x25519(a, pb)).toEqual(nodeCrypto.x25519(a, pb));
      expect(c.x25519(b, pa)).toEqual(nodeCrypto.x25519(b, pa));
      // A key the other side never made, and a degenerate one.
      const odd = rng.bytes(32);
      expect(c.x25519(a, odd)).toEqual(nodeCrypto.x25519(a, odd));
      expect(c.x25519(a, new Uint8Array(32))).toBe(null);
    }
    expect(c.memo.x25519Hits).toBe(300);
    for (let i = 0; i < 300; i++) {
      const ikm = rng.bytes(32);
      const salt = rng.bytes(rng.int(200));
      for (const [k, sa, label, len] of [
        [ikm, salt, 'a', 32],
        [ikm, salt, 'a', 32],
        [ikm, salt, 'b', 32],
        [ikm, salt, 'a', 64],
        // The same bytes split differently between key material and salt.
        [ikm.subarray(0, 31), new Uint8Array([...ikm.subarray(31), ...salt]), 'a', 32],
      ] as const) {
        expect(c.hkdf(k, sa, label, len)).toEqual(nodeCrypto.hkdf(k, sa, label, len));
      }
    }
    expect(c.memo.hkdfHits).toBe(300);
  });
});

describe('memoCrypto link MACs', () => {
  it('answers exactly as the backend, for repeated, altered and re-keyed inputs', () => {
    const rng = new SeededRng('memo-mac');
    const c = memoCrypto(nodeCrypto);
    const keys = Array.from({ length: 4 }, () => rng.bytes(32));
    const sent: [Uint8Array, Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 3_000; i++) {
      const key = keys[rng.int(keys.length)]!;
      const data = rng.bytes(rng.int(120));
      const mac = c.hmacSha256(key, data);
      expect(mac).toEqual(nodeCrypto.hmacSha256(key, data));
      sent.push([key, data, mac]);
    }
    for (const [key, data, mac] of sent) {
      // The receiver's copy of the same bytes, then under another key, altered bytes, an altered MAC.
      expect(c.hmacSha256Verify(key, data.slice(), mac.slice())).toBe(true);
      const other = keys[(keys.indexOf(key) + 1) % keys.length]!;
      expect(c.hmacSha256Verify(other, data, mac)).toBe(false);
      if (data.length > 0) {
        const altered = data.slice();
        altered[rng.int(altered.length)]! ^= 1 << rng.int(8);
        expect(c.hmacSha256Verify(key, altered, mac)).toBe(false);
      }
      const badMac = mac.slice();
      badMac[rng.int(badMac.length)]! ^= 1 << rng.int(8);
      expect(c.hmacSha256Verify(key, data, badMac)).toBe(false);
      expect(c.hmacSha256Verify(key, data, mac.subarray(0, 31))).toBe(false);
    }
    expect(c.memo.macHits).toBeGreaterThan(1000);
  });
});
