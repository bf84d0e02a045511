import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { defaultCrypto as crypto, type Ed25519PrivateKey } from '../crypto/index.js';
import {
  createUserIdentity,
  encodeDeviceCertificate,
  generateDeviceKeyPair,
  generateRootKeys,
  issueDeviceCertificate,
  type UserIdentity,
} from '../id/identity.js';
import { sessionDescriptionCiphertextMaxBytes } from '../wire/constants.js';
import {
  acceptSessionDescription,
  Contacts,
  decodeSessionDescription,
  encodeSessionDescription,
  InvitationTokens,
  invitationTokensMax,
  type SessionContext,
  type SessionDescription,
  sessionDescriptionSizeMaxBytes,
  verifySessionDescription,
} from './session.js';

const day = 24 * 60 * 60 * 1000;
const t0 = 1_600_000_000_000;

interface User {
  readonly identity: UserIdentity;
  readonly deviceKey: Ed25519PrivateKey;
  readonly certificate: Uint8Array;
}

function makeUser(rng: SeededRng, rootCount = 1, validToMs = t0 + 30 * day): User {
  const roots = generateRootKeys(crypto, rng, rootCount);
  const identity = createUserIdentity(
    roots.map((k) => k.publicKey),
    rootCount,
  );
  const deviceKey = generateDeviceKeyPair(crypto, rng);
  const cert = issueDeviceCertificate(crypto, {
    identity,
    devicePublicKey: deviceKey.publicKey,
    validFromMs: t0 - day,
    validToMs,
    signers: roots.map((key, rootIndex) => ({ rootIndex, key })),
  });
  return { identity, deviceKey, certificate: encodeDeviceCertificate(cert) };
}

function sdOf(user: User, invitationToken: Uint8Array | null = null): SessionDescription {
  return {
    endpoint: { address: '203.0.113.7', port: 40_001 },
    channelToken: 0xdead_beef,
    sessionType: 'direct',
    deviceCertificate: user.certificate,
    invitationToken,
  };
}

function setup(seed: string) {
  const rng = new SeededRng(seed);
  const alice = makeUser(rng.fork('alice'), 3);
  const bob = makeUser(rng.fork('bob'));
  const context: SessionContext = { senderRegId: rng.bytes(32), receiverRegId: rng.bytes(32) };
  const bobContacts = new Contacts(crypto);
  const bobInvitations = new InvitationTokens(rng.fork('bob-invitations'));
  return { rng, alice, bob, context, policy: { contacts: bobContacts, invitations: bobInvitations } };
}

describe('session descriptions', () => {
  it('round-trip, fit the INVITE ciphertext bound, and verify for their regID pair only', () => {
    const { alice, context } = setup('sd/roundtrip');
    const sd = sdOf(alice, new Uint8Array(16).fill(7));
    const bytes = encodeSessionDescription(crypto, sd, alice.deviceKey, context);
    expect(bytes.length).toBeLessThanOrEqual(sessionDescriptionSizeMaxBytes);
    expect(bytes.length + 16).toBeLessThanOrEqual(sessionDescriptionCiphertextMaxBytes);
    const r = verifySessionDescription(crypto, bytes, context);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.endpoint).toEqual(sd.endpoint);
    expect(r.value.channelToken).toBe(sd.channelToken);
    expect(r.value.sessionType).toBe('direct');
    expect(r.value.invitationToken).toEqual(sd.invitationToken);
    expect(r.value.certificate.devicePublicKey).toEqual(alice.deviceKey.publicKey);
    // Carried into another INVITE (another regID pair, or the same pair reversed): refused.
    const other = { senderRegId: context.receiverRegId, receiverRegId: context.senderRegId };
    expect(verifySessionDescription(crypto, bytes, other)).toEqual({ ok: false, code: 'badSignature' });
  });

  it('refuses a tampered description, a foreign signer, garbage and oversized input with typed codes', () => {
    const { alice, bob, context } = setup('sd/refusals');
    const bytes = encodeSessionDescription(crypto, sdOf(alice), alice.deviceKey, context);
    // Flip a bit of the channel token (byte 10: after version, endpoint bin header and 6 bytes, token tag).
    const tampered = bytes.slice();
    tampered[11]! ^= 1;
    expect(verifySessionDescription(crypto, tampered, context)).toEqual({ ok: false, code: 'badSignature' });
    // Signed by a key other than the certificate's device key: a programmer error at encode time.
    expect(() => encodeSessionDescription(crypto, sdOf(alice), bob.deviceKey, context)).toThrow(RangeError);
    expect(decodeSessionDescription(new Uint8Array([0xc1]))).toEqual({ ok: false, code: 'malformed' });
    expect(decodeSessionDescription(new Uint8Array(sessionDescriptionSizeMaxBytes + 1))).toEqual({
      ok: false,
      code: 'tooLarge',
    });
    const enc = new Encoder();
    expect(
      decodeSessionDescription(
        enc.encode([2, new Uint8Array(6), 1, 0, new Uint8Array(1), null, new Uint8Array(64)]),
      ),
    ).toEqual({
      ok: false,
      code: 'unsupportedVersion',
    });
    const badCert = decodeSessionDescription(
      enc.encode([1, Uint8Array.of(1, 2, 3, 4, 0, 9), 1, 0, new Uint8Array(3), null, new Uint8Array(64)]),
    );
    expect(badCert).toMatchObject({ ok: false, code: 'badCertificate' });
    // Unknown session type, port 0
    expect(
      decodeSessionDescription(
        enc.encode([1, Uint8Array.of(1, 2, 3, 4, 0, 9), 1, 7, alice.certificate, null, new Uint8Array(64)]),
      ),
    ).toEqual({ ok: false, code: 'malformed' });
    expect(
      decodeSessionDescription(
        enc.encode([1, Uint8Array.of(1, 2, 3, 4, 0, 0), 1, 0, alice.certificate, null, new Uint8Array(64)]),
      ),
    ).toEqual({ ok: false, code: 'malformed' });
  });

  it('property: arbitrary bytes and mutations never throw and give a documented code', () => {
    const { alice, context } = setup('sd/fuzz');
    const valid = encodeSessionDescription(crypto, sdOf(alice), alice.deviceKey, context);
    const codes = new Set([
      'tooLarge',
      'malformed',
      'unsupportedVersion',
      'badCertificate',
      'badSignature',
      'unknownContact',
      'unknownInvitation',
      'expiredInvitation',
    ]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1000 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = valid.slice();
            m[i]! ^= x;
            return m;
          }),
        ),
        (bytes) => {
          const r = verifySessionDescription(crypto, bytes, context);
          if (!r.ok) expect(codes.has(r.code)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('acceptance policy', () => {
  it('accepts a contact whose certificate chains to its root keys', () => {
    const { alice, context, policy } = setup('accept/contact');
    policy.contacts.add(alice.identity);
    const bytes = encodeSessionDescription(crypto, sdOf(alice), alice.deviceKey, context);
    const r = acceptSessionDescription(crypto, bytes, context, policy, t0);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.via).toBe('contact');
      expect(r.value.identity).toBe(alice.identity);
    }
  });

  it('refuses a stranger without an invitation, and a contact whose certificate does not verify', () => {
    const { rng, alice, context, policy } = setup('accept/refuse');
    const bytes = encodeSessionDescription(crypto, sdOf(alice), alice.deviceKey, context);
    expect(acceptSessionDescription(crypto, bytes, context, policy, t0)).toEqual({
      ok: false,
      code: 'unknownContact',
    });
    policy.contacts.add(alice.identity);
    expect(acceptSessionDescription(crypto, bytes, context, policy, t0 + 31 * day)).toEqual({
      ok: false,
      code: 'badCertificate',
      certificateCode: 'expired',
    });
    // A certificate naming Alice's userId but signed by other root keys (an impostor's certificate).
    const mallory = makeUser(rng.fork('mallory'));
    const impostorRoots = generateRootKeys(crypto, rng.fork('impostor'), 1);
    const forged = issueDeviceCertificate(crypto, {
      identity: createUserIdentity([impostorRoots[0]!.publicKey], 1),
      devicePublicKey: mallory.deviceKey.publicKey,
      validFromMs: t0 - day,
      validToMs: t0 + day,
      signers: [{ rootIndex: 0, key: impostorRoots[0]! }],
    });
    const aliceCert = decodeSessionDescription(bytes);
    if (!aliceCert.ok) throw new Error('setup');
    const forgedCert = encodeDeviceCertificate({ ...forged, userId: aliceCert.value.certificate.userId });
    const forgedSd = encodeSessionDescription(
      crypto,
      { ...sdOf(alice), deviceCertificate: forgedCert },
      mallory.deviceKey,
      context,
    );
    expect(acceptSessionDescription(crypto, forgedSd, context, policy, t0)).toMatchObject({
      ok: false,
      code: 'badCertificate',
    });
  });

  it('accepts a stranger once with a valid invitation token; refuses reuse, expiry and unknown tokens', () => {
    const { rng, alice, context, policy } = setup('accept/invitation');
    const token = policy.invitations.issue(t0, 60_000);
    expect(policy.invitations.check(token, t0 + 1)).toEqual({ ok: true });
    const bytes = encodeSessionDescription(crypto, sdOf(alice, token), alice.deviceKey, context);
    const r = acceptSessionDescription(crypto, bytes, context, policy, t0 + 1_000);
    expect(r.ok && r.value.via).toBe('invitation');
    expect(acceptSessionDescription(crypto, bytes, context, policy, t0 + 2_000)).toEqual({
      ok: false,
      code: 'unknownInvitation',
    });
    const late = policy.invitations.issue(t0, 60_000);
    const lateSd = encodeSessionDescription(crypto, sdOf(alice, late), alice.deviceKey, context);
    expect(acceptSessionDescription(crypto, lateSd, context, policy, t0 + 60_000)).toEqual({
      ok: false,
      code: 'expiredInvitation',
    });
    const unknown = encodeSessionDescription(crypto, sdOf(alice, rng.bytes(16)), alice.deviceKey, context);
    expect(acceptSessionDescription(crypto, unknown, context, policy, t0)).toEqual({
      ok: false,
      code: 'unknownInvitation',
    });
    // A bad signature never uses a token up.
    const kept = policy.invitations.issue(t0, 60_000);
    const keptSd = encodeSessionDescription(crypto, sdOf(alice, kept), alice.deviceKey, context);
    const wrongContext = { senderRegId: rng.bytes(32), receiverRegId: context.receiverRegId };
    expect(acceptSessionDescription(crypto, keptSd, wrongContext, policy, t0).ok).toBe(false);
    expect(policy.invitations.check(kept, t0)).toEqual({ ok: true });
  });

  it('the invitation table is bounded: expired tokens go first, then the one closest to expiry', () => {
    const tokens = new InvitationTokens(new SeededRng('accept/bound'));
    const first = tokens.issue(t0, 1_000);
    const rest = Array.from({ length: invitationTokensMax - 1 }, (_, i) => tokens.issue(t0, 10_000 + i));
    expect(tokens.size).toBe(invitationTokensMax);
    tokens.issue(t0 + 2_000, 60_000); // `first` expired: pruned, nothing evicted
    expect(tokens.evicted).toBe(0);
    expect(tokens.check(first, t0 + 2_000)).toEqual({ ok: false, code: 'unknownInvitation' });
    tokens.issue(t0 + 2_000, 60_000); // full: the soonest-expiring one goes
    expect(tokens.evicted).toBe(1);
    expect(tokens.size).toBe(invitationTokensMax);
    expect(tokens.check(rest[0]!, t0 + 2_000)).toEqual({ ok: false, code: 'unknownInvitation' });
    expect(tokens.check(rest[1]!, t0 + 2_000)).toEqual({ ok: true });
  });
});
