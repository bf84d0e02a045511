import { Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { type Crypto, nobleCrypto, nodeCrypto } from '../crypto/index.js';
import {
  checkUserIdentity,
  createUserIdentity,
  type DeviceCertificate,
  decodeDeviceCertificate,
  decodeUserIdentity,
  deviceCertificateSignedBytes,
  deviceCertificateSizeMaxBytes,
  deviceCertificateValidityMaxMs,
  encodeDeviceCertificate,
  encodeUserIdentity,
  generateDeviceKeyPair,
  generateRegistrationKeyPair,
  generateRootKeys,
  issueDeviceCertificate,
  rootKeyCountMax,
  type UserIdentity,
  userIdOf,
  verifyDeviceCertificate,
} from './identity.js';

const dayMs = 24 * 60 * 60 * 1000;
const t0 = 1_700_000_000_000;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A user with `count` root keys (threshold `required`), a device and a certificate valid for a year. */
function fixture(crypto: Crypto, seed: string, count = 1, required = 1) {
  const rng = new SeededRng(seed);
  const rootKeys = generateRootKeys(crypto, rng.fork('root'), count);
  const identity = createUserIdentity(
    rootKeys.map((k) => k.publicKey),
    required,
  );
  const device = generateDeviceKeyPair(crypto, rng.fork('device'));
  const cert = issueDeviceCertificate(crypto, {
    identity,
    devicePublicKey: device.publicKey,
    validFromMs: t0,
    validToMs: t0 + 365 * dayMs,
    signers: rootKeys.map((key, rootIndex) => ({ rootIndex, key })),
  });
  return { rootKeys, identity, device, cert };
}

describe('keys', () => {
  it('derive deterministically from the Rng and match across backends', () => {
    const a = generateRootKeys(nodeCrypto, new SeededRng('keys'), 3);
    const b = generateRootKeys(nobleCrypto, new SeededRng('keys'), 3);
    expect(a.map((k) => hex(k.publicKey))).toEqual(b.map((k) => hex(k.publicKey)));
    expect(new Set(a.map((k) => hex(k.publicKey))).size).toBe(3);
    expect(() => generateRootKeys(nodeCrypto, new SeededRng('k'), 0)).toThrow(RangeError);
    expect(() => generateRootKeys(nodeCrypto, new SeededRng('k'), rootKeyCountMax + 1)).toThrow(RangeError);
  });

  it('a registration key pair: the regID is its 32-byte public key, and it signs', () => {
    const reg = generateRegistrationKeyPair(nodeCrypto, new SeededRng('reg'));
    expect(reg.regId.length).toBe(32);
    expect(hex(reg.regId)).toBe(hex(reg.privateKey.publicKey));
    const msg = new Uint8Array([1, 2, 3]);
    expect(nodeCrypto.ed25519Verify(reg.regId, msg, nodeCrypto.ed25519Sign(reg.privateKey, msg))).toBe(true);
  });
});

describe('UserIdentity and userId', () => {
  it('userId is SHA-256 of the canonical encoding, stable and sensitive to every field', () => {
    const { identity } = fixture(nodeCrypto, 'uid', 3, 2);
    const encoded = encodeUserIdentity(identity);
    expect(hex(userIdOf(nodeCrypto, identity))).toBe(hex(nodeCrypto.sha256(encoded)));
    expect(hex(userIdOf(nobleCrypto, identity))).toBe(hex(userIdOf(nodeCrypto, identity)));
    const decoded = decodeUserIdentity(encoded);
    expect(decoded.ok).toBe(true);
    if (decoded.ok)
      expect(hex(userIdOf(nodeCrypto, decoded.value))).toBe(hex(userIdOf(nodeCrypto, identity)));
    const otherThreshold: UserIdentity = { ...identity, signaturesRequired: 3 };
    expect(hex(userIdOf(nodeCrypto, otherThreshold))).not.toBe(hex(userIdOf(nodeCrypto, identity)));
    const reordered: UserIdentity = { ...identity, rootPublicKeys: [...identity.rootPublicKeys].reverse() };
    expect(hex(userIdOf(nodeCrypto, reordered))).not.toBe(hex(userIdOf(nodeCrypto, identity)));
  });

  it('refuses unusable identities with their codes', () => {
    const [k1, k2] = generateRootKeys(nodeCrypto, new SeededRng('bad-id'), 2).map((k) => k.publicKey);
    const identity = (keys: Uint8Array[], t: number) =>
      checkUserIdentity({ rootPublicKeys: keys, signaturesRequired: t });
    expect(identity([], 1)).toEqual({ ok: false, code: 'badRootKeyCount' });
    expect(identity([k1!, k2!, k1!, k2!], 1)).toEqual({ ok: false, code: 'badRootKeyCount' });
    expect(identity([k1!.subarray(1)], 1)).toEqual({ ok: false, code: 'wrongLength' });
    expect(identity([k1!], 0)).toEqual({ ok: false, code: 'badThreshold' });
    expect(identity([k1!], 2)).toEqual({ ok: false, code: 'badThreshold' });
    expect(identity([k1!, k2!], 1.5)).toEqual({ ok: false, code: 'badThreshold' });
    // The same key twice would let one key count as two signatures.
    expect(identity([k1!, k1!.slice()], 2)).toEqual({ ok: false, code: 'duplicateRootKey' });
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    expect(identity([identityPoint], 1)).toEqual({ ok: false, code: 'weakRootKey' });
    expect(identity([k1!, k2!], 2)).toEqual({ ok: true });
    expect(() => createUserIdentity([k1!, k1!], 1)).toThrow(RangeError);
  });

  it('decodeUserIdentity refuses oversized, malformed, foreign-version and non-canonical input', () => {
    const { identity } = fixture(nodeCrypto, 'uid-dec', 2, 1);
    const enc = new Encoder();
    const keys = [...identity.rootPublicKeys];
    expect(decodeUserIdentity(new Uint8Array(1000))).toEqual({ ok: false, code: 'tooLarge' });
    expect(decodeUserIdentity(new Uint8Array([0xc1]))).toEqual({ ok: false, code: 'malformed' });
    expect(decodeUserIdentity(enc.encode([1, 1]))).toEqual({ ok: false, code: 'malformed' });
    expect(decodeUserIdentity(enc.encode([2, 1, keys]))).toEqual({ ok: false, code: 'unsupportedVersion' });
    expect(decodeUserIdentity(enc.encode([1, 3, keys]))).toEqual({ ok: false, code: 'badThreshold' });
    const good = encodeUserIdentity(identity);
    const withTrailing = new Uint8Array(good.length + 1);
    withTrailing.set(good);
    expect(decodeUserIdentity(withTrailing)).toEqual({ ok: false, code: 'malformed' });
    // The threshold 1 as uint8 (0xcc 0x01) instead of a positive fixint: same value, other bytes.
    const nonCanonical = new Uint8Array([good[0]!, good[1]!, 0xcc, 0x01, ...good.subarray(3)]);
    expect(decodeUserIdentity(nonCanonical)).toEqual({ ok: false, code: 'nonCanonical' });
  });
});

describe('device certificates', () => {
  for (const crypto of [nodeCrypto, nobleCrypto]) {
    it(`${crypto.backend}: issue → encode → decode → verify, for 1-of-1 and 2-of-3 users`, () => {
      for (const [count, required] of [
        [1, 1],
        [3, 2],
      ] as const) {
        const { identity, cert, device } = fixture(crypto, `rt/${count}`, count, required);
        expect(hex(cert.devicePublicKey)).toBe(hex(device.publicKey));
        const bytes = encodeDeviceCertificate(cert);
        expect(bytes.length).toBeLessThanOrEqual(deviceCertificateSizeMaxBytes);
        const decoded = decodeDeviceCertificate(bytes);
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(hex(encodeDeviceCertificate(decoded.value))).toBe(hex(bytes));
        expect(verifyDeviceCertificate(crypto, decoded.value, identity, t0)).toEqual({ ok: true });
        expect(verifyDeviceCertificate(crypto, decoded.value, identity, t0 + 100 * dayMs)).toEqual({
          ok: true,
        });
      }
    });
  }

  it('signs exactly the documented bytes', () => {
    const { identity, cert, rootKeys } = fixture(nodeCrypto, 'signed-bytes');
    const expected = new Encoder().encode([
      'dcomms/device-certificate/v1',
      cert.devicePublicKey,
      userIdOf(nodeCrypto, identity),
      cert.validFromMs,
      cert.validToMs,
    ]);
    expect(hex(deviceCertificateSignedBytes(cert))).toBe(hex(expected));
    expect(hex(cert.signatures[0]!.signature)).toBe(hex(nodeCrypto.ed25519Sign(rootKeys[0]!, expected)));
  });

  it('2-of-3: any two root keys suffice; one does not', () => {
    const { identity, rootKeys, device } = fixture(nodeCrypto, 'threshold', 3, 2);
    const issue = (indices: number[]) =>
      issueDeviceCertificate(nodeCrypto, {
        identity,
        devicePublicKey: device.publicKey,
        validFromMs: t0,
        validToMs: t0 + dayMs,
        signers: indices.map((rootIndex) => ({ rootIndex, key: rootKeys[rootIndex]! })),
      });
    for (const pair of [
      [0, 1],
      [0, 2],
      [2, 1],
    ]) {
      expect(verifyDeviceCertificate(nodeCrypto, issue(pair), identity, t0)).toEqual({ ok: true });
    }
    expect(() => issue([1])).toThrow(RangeError);
    const full = issue([0, 1, 2]);
    const onlyOne: DeviceCertificate = { ...full, signatures: full.signatures.slice(0, 1) };
    expect(verifyDeviceCertificate(nodeCrypto, onlyOne, identity, t0)).toEqual({
      ok: false,
      code: 'tooFewSignatures',
    });
  });

  it('every refusal code is reachable', () => {
    const { identity, cert, rootKeys } = fixture(nodeCrypto, 'codes', 2, 1);
    const v = (c: DeviceCertificate, id: UserIdentity = identity, now = t0) =>
      verifyDeviceCertificate(nodeCrypto, c, id, now);
    const code = (c: DeviceCertificate, id?: UserIdentity, now?: number) => {
      const r = v(c, id, now);
      return r.ok ? 'ok' : r.code;
    };
    const sig0 = cert.signatures[0]!;
    expect(code(cert)).toBe('ok');
    expect(code({ ...cert, devicePublicKey: cert.devicePublicKey.subarray(1) })).toBe('wrongLength');
    expect(code({ ...cert, userId: new Uint8Array(31) })).toBe('wrongLength');
    expect(code({ ...cert, signatures: [{ rootIndex: 0, signature: sig0.signature.subarray(1) }] })).toBe(
      'wrongLength',
    );
    expect(code({ ...cert, validFromMs: cert.validToMs + 1 })).toBe('badTime');
    expect(code({ ...cert, validFromMs: -1 })).toBe('badTime');
    expect(code({ ...cert, validToMs: 1.5 })).toBe('badTime');
    expect(code({ ...cert, signatures: [sig0, sig0, sig0, sig0] })).toBe('tooManySignatures');
    expect(code(cert, { ...identity, signaturesRequired: 5 })).toBe('badIdentity');
    const stranger = fixture(nodeCrypto, 'stranger').identity;
    expect(code(cert, stranger)).toBe('userMismatch');
    const smallOrder = new Uint8Array(32);
    smallOrder[0] = 1;
    expect(code({ ...cert, devicePublicKey: smallOrder })).toBe('weakDeviceKey');
    expect(code({ ...cert, validToMs: cert.validFromMs + deviceCertificateValidityMaxMs + 1 })).toBe(
      'validityTooLong',
    );
    expect(code(cert, identity, t0 - 1)).toBe('notYetValid');
    expect(code(cert, identity, cert.validToMs)).toBe('expired');
    expect(code(cert, identity, cert.validToMs - 1)).toBe('ok');
    expect(code({ ...cert, signatures: [{ rootIndex: 2, signature: sig0.signature }] })).toBe(
      'unknownRootIndex',
    );
    expect(code({ ...cert, signatures: [{ rootIndex: -1, signature: sig0.signature }] })).toBe(
      'unknownRootIndex',
    );
    expect(code({ ...cert, signatures: [sig0, sig0] })).toBe('duplicateRootIndex');
    expect(code({ ...cert, signatures: [] })).toBe('tooFewSignatures');
    // Root 0's signature presented as root 1's.
    expect(code({ ...cert, signatures: [{ rootIndex: 1, signature: sig0.signature }] })).toBe('badSignature');
    // A valid second signature does not excuse an invalid first one.
    const sig1 = cert.signatures[1]!;
    const broken = sig0.signature.slice();
    broken[10]! ^= 1;
    expect(code({ ...cert, signatures: [{ rootIndex: 0, signature: broken }, sig1] })).toBe('badSignature');
    expect(rootKeys.length).toBe(2);
  });

  it('decode refusal codes are reachable', () => {
    const { cert } = fixture(nodeCrypto, 'decode-codes');
    const enc = new Encoder();
    const parts = (over: Partial<Record<'v' | 'dk' | 'uid' | 'from' | 'to' | 'sigs', unknown>>) =>
      enc.encode([
        over.v ?? 1,
        over.dk ?? cert.devicePublicKey,
        over.uid ?? cert.userId,
        over.from ?? cert.validFromMs,
        over.to ?? cert.validToMs,
        over.sigs ?? cert.signatures.map((s) => [s.rootIndex, s.signature]),
      ]);
    const code = (bytes: Uint8Array) => {
      const r = decodeDeviceCertificate(bytes);
      return r.ok ? 'ok' : r.code;
    };
    expect(code(parts({}))).toBe('ok');
    expect(code(new Uint8Array(deviceCertificateSizeMaxBytes + 1))).toBe('tooLarge');
    expect(code(new Uint8Array(0))).toBe('malformed');
    expect(code(enc.encode({ a: 1 }))).toBe('malformed');
    expect(code(enc.encode('certificate'))).toBe('malformed');
    expect(code(parts({ dk: 'x' }))).toBe('malformed');
    expect(code(parts({ sigs: [[0]] }))).toBe('malformed');
    expect(code(parts({ sigs: [[-1, cert.signatures[0]!.signature]] }))).toBe('malformed');
    expect(code(parts({ from: 1.5 }))).toBe('badTime');
    expect(code(parts({ from: cert.validToMs + 1 }))).toBe('badTime');
    expect(code(parts({ v: 2 }))).toBe('unsupportedVersion');
    expect(code(parts({ dk: new Uint8Array(33) }))).toBe('wrongLength');
    expect(code(parts({ uid: new Uint8Array(16) }))).toBe('wrongLength');
    const s = [0, cert.signatures[0]!.signature];
    expect(code(parts({ sigs: [s, s, s, s] }))).toBe('tooManySignatures');
    // Over the msgpack bounds: a 65-byte bin, a 7-element array, a string.
    expect(code(parts({ dk: new Uint8Array(65) }))).toBe('malformed');
    expect(code(enc.encode([1, 2, 3, 4, 5, 6, 7]))).toBe('malformed');
    // validFromMs sits after the array header, the version and two bin-32 fields; it needs a uint64 (0xcf).
    const good = parts({});
    const at = 1 + 1 + 34 + 34;
    expect(good[at]).toBe(0xcf);
    const asFloat = good.slice();
    asFloat[at] = 0xcb; // the same 8 bytes read as a float64: a tiny non-integer
    expect(code(asFloat)).toBe('badTime');
    // The same values with every integer written as a float64: decodes to equal numbers, other bytes.
    const floatBytes = new Encoder({ forceIntegerToFloat: true }).encode([
      1,
      cert.devicePublicKey,
      cert.userId,
      cert.validFromMs,
      cert.validToMs,
      cert.signatures.map((x) => [x.rootIndex, x.signature]),
    ]);
    expect(code(floatBytes)).toBe('nonCanonical');
  });

  it('a single flipped bit anywhere in an encoded certificate makes decode or verify fail', () => {
    const { identity, cert } = fixture(nodeCrypto, 'flips', 2, 2);
    const bytes = encodeDeviceCertificate(cert);
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = bytes.slice();
        bad[i]! ^= bit;
        const decoded = decodeDeviceCertificate(bad);
        const verdict = decoded.ok
          ? verifyDeviceCertificate(nodeCrypto, decoded.value, identity, t0 + dayMs)
          : decoded;
        expect(verdict.ok, `byte ${i} bit ${bit}`).toBe(false);
        refused++;
      }
    }
    expect(refused).toBe(bytes.length * 2);
  });

  it('each signed field, changed in memory, fails verification', () => {
    const { identity, cert } = fixture(nodeCrypto, 'fields');
    const flip = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i]! ^= 1;
      return c;
    };
    const now = t0 + dayMs;
    for (let i = 0; i < 32; i++) {
      expect(
        verifyDeviceCertificate(
          nodeCrypto,
          { ...cert, devicePublicKey: flip(cert.devicePublicKey, i) },
          identity,
          now,
        ).ok,
      ).toBe(false);
      expect(
        verifyDeviceCertificate(nodeCrypto, { ...cert, userId: flip(cert.userId, i) }, identity, now).ok,
      ).toBe(false);
    }
    expect(
      verifyDeviceCertificate(nodeCrypto, { ...cert, validFromMs: cert.validFromMs - 1 }, identity, now),
    ).toEqual({
      ok: false,
      code: 'badSignature',
    });
    expect(
      verifyDeviceCertificate(nodeCrypto, { ...cert, validToMs: cert.validToMs + 1 }, identity, now),
    ).toEqual({
      ok: false,
      code: 'badSignature',
    });
  });

  it('issuing refuses programmer errors', () => {
    const { identity, rootKeys, device } = fixture(nodeCrypto, 'issue-errors', 2, 1);
    const other = generateRootKeys(nodeCrypto, new SeededRng('other'), 1)[0]!;
    const base = { identity, devicePublicKey: device.publicKey, validFromMs: t0, validToMs: t0 + dayMs };
    expect(() =>
      issueDeviceCertificate(nodeCrypto, { ...base, signers: [{ rootIndex: 0, key: other }] }),
    ).toThrow(RangeError);
    expect(() =>
      issueDeviceCertificate(nodeCrypto, { ...base, signers: [{ rootIndex: 1, key: rootKeys[0]! }] }),
    ).toThrow(RangeError);
    const twice = [
      { rootIndex: 0, key: rootKeys[0]! },
      { rootIndex: 0, key: rootKeys[0]! },
    ];
    expect(() => issueDeviceCertificate(nodeCrypto, { ...base, signers: twice })).toThrow(RangeError);
    const signers = [{ rootIndex: 0, key: rootKeys[0]! }];
    expect(() => issueDeviceCertificate(nodeCrypto, { ...base, signers, validToMs: t0 - 1 })).toThrow(
      RangeError,
    );
    expect(() =>
      issueDeviceCertificate(nodeCrypto, {
        ...base,
        signers,
        validToMs: t0 + deviceCertificateValidityMaxMs + 1,
      }),
    ).toThrow(RangeError);
    expect(() =>
      issueDeviceCertificate(nodeCrypto, { ...base, signers, devicePublicKey: new Uint8Array(31) }),
    ).toThrow(RangeError);
  });

  it('fuzz: 10,000 random and mutated encodings through decode + verify, zero exceptions, no forgery', () => {
    const { identity, cert } = fixture(nodeCrypto, 'fuzz', 3, 2);
    const valid = encodeDeviceCertificate(cert);
    const rng = new SeededRng('identity/fuzz');
    const now = t0 + dayMs;
    let decodedCount = 0;
    for (let i = 0; i < 10_000; i++) {
      let input: Uint8Array;
      const kind = rng.int(5);
      if (kind === 0) {
        input = rng.bytes(rng.int(deviceCertificateSizeMaxBytes + 50));
      } else if (kind === 1) {
        input = valid.subarray(0, rng.int(valid.length));
      } else {
        input = valid.slice();
        const edits = 1 + rng.int(4);
        for (let e = 0; e < edits; e++) {
          const at = rng.int(input.length);
          if (kind === 2) input[at]! ^= 1 << rng.int(8);
          else if (kind === 3) input[at] = rng.int(256);
          else {
            // Insert or delete a byte.
            const next = new Uint8Array(input.length + (rng.int(2) === 0 ? 1 : -1));
            if (next.length > input.length) {
              next.set(input.subarray(0, at), 0);
              next[at] = rng.int(256);
              next.set(input.subarray(at), at + 1);
            } else {
              next.set(input.subarray(0, at), 0);
              next.set(input.subarray(at + 1), at);
            }
            input = next;
          }
        }
      }
      const decoded = decodeDeviceCertificate(input);
      if (!decoded.ok) continue;
      decodedCount++;
      const verdict = verifyDeviceCertificate(nodeCrypto, decoded.value, identity, now);
      // Anything that is accepted must be the original certificate, byte for byte.
      if (verdict.ok) expect(hex(input)).toBe(hex(valid));
    }
    expect(decodedCount).toBeGreaterThan(0);
  });
});
