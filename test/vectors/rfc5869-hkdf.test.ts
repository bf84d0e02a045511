import { describe, expect, it } from 'vitest';
import { hkdfOutputMaxBytes, nobleHkdfBytes, nodeHkdfBytes } from '../../src/crypto/index.js';
import { backends, hex, toHex } from './crypto-helpers.js';
import { rfc5869Sha256Cases } from './rfc5869-hkdf.vectors.js';

const rawHkdfs = [
  { name: 'node', hkdfBytes: nodeHkdfBytes },
  { name: 'noble', hkdfBytes: nobleHkdfBytes },
] as const;

describe('RFC 5869 HKDF-SHA256 vectors', () => {
  for (const { name, hkdfBytes } of rawHkdfs) {
    describe(`${name} hkdfBytes`, () => {
      for (const v of rfc5869Sha256Cases) {
        it(v.name, () => {
          expect(toHex(hkdfBytes(hex(v.ikm), hex(v.salt), hex(v.info), v.length))).toBe(v.okm);
        });
      }
    });
  }

  for (const crypto of backends) {
    describe(`${crypto.backend} backend hkdf(label)`, () => {
      it('PRK: extract is HMAC(salt, ikm)', () => {
        for (const v of rfc5869Sha256Cases) {
          // RFC 5869 §2.2: an absent salt means HashLen zero bytes.
          const salt = v.salt === '' ? new Uint8Array(32) : hex(v.salt);
          expect(toHex(crypto.hmacSha256(salt, hex(v.ikm)))).toBe(v.prk);
        }
      });

      it('a label is its UTF-8 bytes as info (test case 1 info is not UTF-8; use ASCII and non-ASCII labels)', () => {
        const v = rfc5869Sha256Cases[0];
        for (const label of ['dcomms/link-key', 'ключ/ü/✓', '']) {
          const viaLabel = crypto.hkdf(hex(v.ikm), hex(v.salt), label, 42);
          expect(toHex(viaLabel)).toBe(
            toHex(nobleHkdfBytes(hex(v.ikm), hex(v.salt), new TextEncoder().encode(label), 42)),
          );
        }
        // Test case 3 has an empty info, so the empty label reproduces it exactly.
        const v3 = rfc5869Sha256Cases[2];
        expect(toHex(crypto.hkdf(hex(v3.ikm), hex(v3.salt), '', v3.length))).toBe(v3.okm);
      });

      it('refuses output lengths outside [0, 8160] as programmer errors', () => {
        expect(crypto.hkdf(new Uint8Array(1), new Uint8Array(0), 'x', hkdfOutputMaxBytes).length).toBe(8160);
        expect(crypto.hkdf(new Uint8Array(1), new Uint8Array(0), 'x', 0).length).toBe(0);
        expect(() => crypto.hkdf(new Uint8Array(1), new Uint8Array(0), 'x', 8161)).toThrow(RangeError);
        expect(() => crypto.hkdf(new Uint8Array(1), new Uint8Array(0), 'x', -1)).toThrow(RangeError);
        expect(() => crypto.hkdf(new Uint8Array(1), new Uint8Array(0), 'x', 1.5)).toThrow(RangeError);
      });
    });
  }
});
