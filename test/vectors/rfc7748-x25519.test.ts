import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { backends, hex, toHex } from './crypto-helpers.js';
import {
  order8U,
  rfc7748DiffieHellman,
  rfc7748Iterated,
  rfc7748SingleSteps,
} from './rfc7748-x25519.vectors.js';

const p = 2n ** 255n - 19n;

function leToBigInt(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x;
}

function bigIntToLe(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = ((base % p) + p) % p;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % p;
    b = (b * b) % p;
  }
  return result;
}

/**
 * The small-order u-coordinates, derived independently of any X25519 code: each Edwards torsion point
 * (x, y) maps to the Montgomery u = (1 + y) / (1 − y); the identity (y = 1) has no u.
 */
function torsionUs(): bigint[] {
  const us = new Set<bigint>();
  for (const encoded of ED25519_TORSION_SUBGROUP) {
    const y = leToBigInt(hex(encoded)) & ((1n << 255n) - 1n);
    if (y === 1n) continue;
    us.add(((((1n + y) * modPow(1n - y, p - 2n)) % p) + p) % p);
  }
  return [...us].sort((a, b) => (a < b ? -1 : 1));
}

/** Every 32-byte encoding of a small-order point: 0, 1, both order-8 points, p−1, p, p+1, each also with bit 255 set. */
function smallOrderEncodings(): Uint8Array[] {
  const canonical = [0n, 1n, leToBigInt(hex(order8U[0])), leToBigInt(hex(order8U[1])), p - 1n, p, p + 1n];
  const out: Uint8Array[] = [];
  for (const u of canonical) {
    const plain = bigIntToLe(u);
    const high = plain.slice();
    high[31]! |= 0x80;
    out.push(plain, high);
  }
  return out;
}

describe('RFC 7748 X25519 vectors', () => {
  for (const crypto of backends) {
    describe(`${crypto.backend} backend`, () => {
      it('§5.2 single steps', () => {
        for (const v of rfc7748SingleSteps) {
          expect(toHex(crypto.x25519(hex(v.scalar), hex(v.u))!)).toBe(v.output);
        }
      });

      it('§5.2 iterated ladder: 1 and 1,000 iterations', () => {
        let k: Uint8Array = new Uint8Array(32);
        k[0] = 9;
        let u: Uint8Array = k.slice();
        for (let i = 1; i <= 1000; i++) {
          const r = crypto.x25519(k, u);
          expect(r).not.toBeNull();
          u = k;
          k = r!;
          if (i === 1) expect(toHex(k)).toBe(rfc7748Iterated.after1);
        }
        expect(toHex(k)).toBe(rfc7748Iterated.after1000);
      });

      it('§6.1 Diffie-Hellman: public keys and the shared secret', () => {
        const v = rfc7748DiffieHellman;
        expect(toHex(crypto.x25519PublicKey(hex(v.alicePrivate)))).toBe(v.alicePublic);
        expect(toHex(crypto.x25519PublicKey(hex(v.bobPrivate)))).toBe(v.bobPublic);
        expect(toHex(crypto.x25519(hex(v.alicePrivate), hex(v.bobPublic))!)).toBe(v.shared);
        expect(toHex(crypto.x25519(hex(v.bobPrivate), hex(v.alicePublic))!)).toBe(v.shared);
      });

      it('returns null for every small-order public key, whatever the private key', () => {
        const rng = new SeededRng('x25519/small-order');
        const encodings = smallOrderEncodings();
        expect(encodings.length).toBe(14);
        for (const point of encodings) {
          for (let i = 0; i < 4; i++) {
            expect(crypto.x25519(rng.bytes(32), point), toHex(point)).toBeNull();
          }
        }
        // ...while an ordinary point still works with the same private keys.
        expect(crypto.x25519(rng.bytes(32), hex(rfc7748DiffieHellman.bobPublic))).not.toBeNull();
      });

      it('returns null on wrong lengths, without throwing', () => {
        const good = hex(rfc7748DiffieHellman.alicePrivate);
        for (const n of [0, 31, 33, 64]) {
          expect(crypto.x25519(new Uint8Array(n), good)).toBeNull();
          expect(crypto.x25519(good, new Uint8Array(n))).toBeNull();
        }
        expect(() => crypto.x25519PublicKey(new Uint8Array(31))).toThrow(RangeError);
      });
    });
  }

  it('the order-8 u-values match the Edwards torsion points mapped to Montgomery form', () => {
    const fromTorsion = torsionUs();
    // u = 0 (order 4 on Edwards: y = −1), u = 1 (y = 0) and the two order-8 values.
    expect(fromTorsion).toContain(0n);
    expect(fromTorsion).toContain(1n);
    expect(fromTorsion).toContain(leToBigInt(hex(order8U[0])));
    expect(fromTorsion).toContain(leToBigInt(hex(order8U[1])));
    expect(fromTorsion.length).toBe(4);
    expect(leToBigInt(hex(order8U[0]))).toBe(
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
    );
    expect(leToBigInt(hex(order8U[1]))).toBe(
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    );
  });
});
