import { describe, expect, it } from 'vitest';
import { backends, hex, toHex } from './crypto-helpers.js';
import { rfc8439Open, rfc8439Seal } from './rfc8439-aead.vectors.js';

const utf8 = new TextEncoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

describe('RFC 8439 ChaCha20-Poly1305 vectors', () => {
  for (const crypto of backends) {
    describe(`${crypto.backend} backend`, () => {
      it('§2.8.2 seals to the published ciphertext and tag, and opens it back', () => {
        const v = rfc8439Seal;
        const plaintext = utf8.encode(v.plaintextUtf8);
        expect(plaintext.length).toBe(114);
        const sealed = crypto.aeadSeal(hex(v.key), hex(v.nonce), plaintext, hex(v.aad));
        expect(toHex(sealed)).toBe(v.ciphertext + v.tag);
        const opened = crypto.aeadOpen(hex(v.key), hex(v.nonce), sealed, hex(v.aad));
        expect(opened).not.toBeNull();
        expect(toHex(opened!)).toBe(toHex(plaintext));
      });

      it('A.5 opens the published ciphertext to the published plaintext', () => {
        const v = rfc8439Open;
        const sealed = concat(hex(v.ciphertext), hex(v.tag));
        const opened = crypto.aeadOpen(hex(v.key), hex(v.nonce), sealed, hex(v.aad));
        expect(opened).not.toBeNull();
        expect(toHex(opened!)).toBe(toHex(hex(v.plaintext)));
        expect(new TextDecoder().decode(opened!).startsWith('Internet-Drafts are draft documents')).toBe(
          true,
        );
        // And sealing the plaintext reproduces the ciphertext.
        expect(toHex(crypto.aeadSeal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.aad)))).toBe(
          toHex(sealed),
        );
      });

      it('A.5 with any one bit flipped in ciphertext, tag, aad or nonce opens to null', () => {
        const v = rfc8439Open;
        const sealed = concat(hex(v.ciphertext), hex(v.tag));
        const key = hex(v.key);
        const nonce = hex(v.nonce);
        const aad = hex(v.aad);
        for (const at of [0, 100, sealed.length - 17, sealed.length - 16, sealed.length - 1]) {
          const bad = sealed.slice();
          bad[at]! ^= 0x80;
          expect(crypto.aeadOpen(key, nonce, bad, aad)).toBeNull();
        }
        for (let at = 0; at < aad.length; at++) {
          const bad = aad.slice();
          bad[at]! ^= 1;
          expect(crypto.aeadOpen(key, nonce, sealed, bad)).toBeNull();
        }
        for (let at = 0; at < nonce.length; at++) {
          const bad = nonce.slice();
          bad[at]! ^= 1;
          expect(crypto.aeadOpen(key, bad, sealed, aad)).toBeNull();
        }
        const badKey = key.slice();
        badKey[31]! ^= 1;
        expect(crypto.aeadOpen(badKey, nonce, sealed, aad)).toBeNull();
      });
    });
  }
});
