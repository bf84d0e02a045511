import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import {
  expectedHashes,
  hasLeadingZeroBits,
  leadingZeroBits,
  modelledSolveMs,
  pow1Digest,
  pow2Digest,
  powBitsDefault,
  sampledHashesToSolve,
  solvePow1,
  solvePow2,
  verifyPow1,
  verifyPow2,
} from './pow.js';

const ip = Uint8Array.of(203, 0, 113, 7);
const otherIp = Uint8Array.of(203, 0, 113, 8);
const ts = 1_700_000_000;

function bigEndian(bytes: Uint8Array): bigint {
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return x;
}

describe('leadingZeroBits', () => {
  it('counts exactly on crafted digests', () => {
    expect(leadingZeroBits(Uint8Array.of(0x80, 0))).toBe(0);
    expect(leadingZeroBits(Uint8Array.of(0x7f))).toBe(1);
    expect(leadingZeroBits(Uint8Array.of(0x0f, 0xff))).toBe(4);
    expect(leadingZeroBits(Uint8Array.of(0x00, 0x01))).toBe(15);
    expect(leadingZeroBits(Uint8Array.of(0x00, 0x00, 0x7f, 0xff))).toBe(17);
    expect(leadingZeroBits(new Uint8Array(32))).toBe(256);
    expect(leadingZeroBits(new Uint8Array(0))).toBe(0);
  });

  it('hasLeadingZeroBits agrees with leadingZeroBits', () => {
    const digest = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((d) => {
      // Bias towards leading zeros so the interesting cases occur.
      const shift = d[3]! % 32;
      const word = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> shift;
      return Uint8Array.of(word >>> 24, (word >>> 16) & 255, (word >>> 8) & 255, word & 255);
    });
    fc.assert(
      fc.property(digest, fc.integer({ min: 0, max: 40 }), (d, bits) => {
        expect(hasLeadingZeroBits(d, bits)).toBe(leadingZeroBits(d) >= bits);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('PoW1', () => {
  it('hashes timestampS (u32 big-endian) ‖ IPv4 ‖ nonce', () => {
    const nonce = new SeededRng('pow/layout').bytes(16);
    const input = Buffer.concat([Uint8Array.of(0x65, 0x53, 0xf1, 0x00), ip, nonce]);
    expect(ts.toString(16)).toBe('6553f100');
    expect(Buffer.from(pow1Digest(ts, ip, nonce))).toEqual(createHash('sha256').update(input).digest());
  });

  it('solve then verify at 8–12 bits; changing any input breaks it', () => {
    const rng = new SeededRng('pow/solve1');
    for (const bits of [8, 10, 12]) {
      const start = rng.bytes(16);
      const solved = solvePow1(ts, ip, bits, start);
      expect(solved).not.toBeNull();
      const { nonce, hashesTried } = solved!;
      expect(verifyPow1(ts, ip, nonce, bits)).toBe(true);
      expect(leadingZeroBits(pow1Digest(ts, ip, nonce))).toBeGreaterThanOrEqual(bits);
      // The solver counts up from the start nonce.
      expect(bigEndian(nonce) - bigEndian(start)).toBe(BigInt(hashesTried - 1));
      // Bound to the address and the time.
      expect(verifyPow1(ts, otherIp, nonce, bits)).toBe(false);
      expect(verifyPow1(ts + 1, ip, nonce, bits)).toBe(false);
    }
  });

  it('rejects a nonce that fails, and gives up after maxHashes', () => {
    const rng = new SeededRng('pow/fail1');
    let nonce = rng.bytes(16);
    while (leadingZeroBits(pow1Digest(ts, ip, nonce)) >= 4) nonce = rng.bytes(16);
    expect(verifyPow1(ts, ip, nonce, 4)).toBe(false);
    expect(solvePow1(ts, ip, 4, nonce, 1)).toBeNull();
    expect(solvePow1(ts, ip, 4, nonce, 0)).toBeNull();
    expect(verifyPow1(ts, ip, nonce, 0)).toBe(true); // zero bits: every nonce passes
  });

  it('returns false, never throws, on malformed untrusted input', () => {
    const nonce = new Uint8Array(16);
    expect(verifyPow1(-1, ip, nonce, 0)).toBe(false);
    expect(verifyPow1(2 ** 32, ip, nonce, 0)).toBe(false);
    expect(verifyPow1(Number.NaN, ip, nonce, 0)).toBe(false);
    expect(verifyPow1(1.5, ip, nonce, 0)).toBe(false);
    expect(verifyPow1(ts, new Uint8Array(16), nonce, 0)).toBe(false);
    expect(verifyPow1(ts, ip, new Uint8Array(15), 0)).toBe(false);
    expect(verifyPow1(ts, ip, new Uint8Array(64), 0)).toBe(false);
    expect(verifyPow1(ts, ip, nonce, 257)).toBe(false);
    expect(verifyPow1(ts, ip, nonce, -1)).toBe(false);
    expect(() => pow1Digest(ts, ip, new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('PoW2', () => {
  it('solve then verify; another challenge or regID fails', () => {
    const rng = new SeededRng('pow/solve2');
    const challenge = rng.bytes(16);
    const regId = rng.bytes(32);
    const solved = solvePow2(challenge, regId, 10, rng);
    expect(solved).not.toBeNull();
    const { nonce } = solved!;
    expect(verifyPow2(challenge, regId, nonce, 10)).toBe(true);
    const input = Buffer.concat([challenge, regId, nonce]);
    expect(Buffer.from(pow2Digest(challenge, regId, nonce))).toEqual(
      createHash('sha256').update(input).digest(),
    );
    expect(verifyPow2(rng.bytes(16), regId, nonce, 10)).toBe(false);
    expect(verifyPow2(challenge, rng.bytes(32), nonce, 10)).toBe(false);
    expect(verifyPow2(challenge, regId.subarray(1), nonce, 10)).toBe(false);
    expect(verifyPow2(challenge, regId, nonce.subarray(1), 10)).toBe(false);
  });
});

describe('solve-time model', () => {
  it('expected hashes and modelled time', () => {
    expect(powBitsDefault).toBe(15);
    expect(expectedHashes(15)).toBe(32_768);
    expect(modelledSolveMs(15, 1_000_000)).toBeCloseTo(32.768, 9);
  });

  it('sampled hash counts are geometric with mean 2^bits', () => {
    const rng = new SeededRng('pow/sample');
    const n = 20_000;
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const h = sampledHashesToSolve(10, rng);
      sum += h;
      min = Math.min(min, h);
    }
    expect(min).toBeGreaterThanOrEqual(1);
    expect(Math.abs(sum / n / 1024 - 1)).toBeLessThan(0.05);
    expect(sampledHashesToSolve(0, rng)).toBe(1);
  });
});
