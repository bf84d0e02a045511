import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { backends, hex, toHex } from './crypto-helpers.js';
import { rfc8032Ed25519Vectors } from './rfc8032-ed25519.vectors.js';

describe('RFC 8032 §7.1 Ed25519 vectors', () => {
  it('are transcribed with the lengths and contents the RFC states', () => {
    const byName = new Map(rfc8032Ed25519Vectors.map((v) => [v.name, v]));
    expect(hex(byName.get('TEST 1024')!.message).length).toBe(1023);
    // TEST SHA(abc) signs SHA-512("abc").
    expect(byName.get('TEST SHA(abc)')!.message).toBe(toHex(sha512(new TextEncoder().encode('abc'))));
    for (const v of rfc8032Ed25519Vectors) {
      expect(hex(v.secretKey).length).toBe(32);
      expect(hex(v.publicKey).length).toBe(32);
      expect(hex(v.signature).length).toBe(64);
    }
  });

  for (const crypto of backends) {
    describe(`${crypto.backend} backend`, () => {
      for (const v of rfc8032Ed25519Vectors) {
        it(`${v.name}: derives the public key, signs to the expected bytes, verifies`, () => {
          const key = crypto.ed25519FromSeed(hex(v.secretKey));
          expect(toHex(key.publicKey)).toBe(v.publicKey);
          const message = hex(v.message);
          expect(toHex(crypto.ed25519Sign(key, message))).toBe(v.signature);
          expect(crypto.ed25519Verify(hex(v.publicKey), message, hex(v.signature))).toBe(true);
        });

        it(`${v.name}: rejects a changed message, signature or key`, () => {
          const message = hex(v.message);
          const signature = hex(v.signature);
          const publicKey = hex(v.publicKey);
          const otherMessage = message.length === 0 ? new Uint8Array([0]) : message.slice();
          if (message.length > 0) otherMessage[0]! ^= 1;
          expect(crypto.ed25519Verify(publicKey, otherMessage, signature)).toBe(false);
          for (const at of [0, 31, 32, 63]) {
            const bad = signature.slice();
            bad[at]! ^= 0x04;
            expect(crypto.ed25519Verify(publicKey, message, bad)).toBe(false);
          }
          const otherKey = publicKey.slice();
          otherKey[5]! ^= 0x10;
          expect(crypto.ed25519Verify(otherKey, message, signature)).toBe(false);
        });
      }
    });
  }
});
