/**
 * `npm run bench -- crypto`: operations per second of each primitive through the project's `nodeCrypto`
 * interface, through raw node:crypto used the best straightforward way (key objects built once, outside
 * the loop), and through @noble directly — in the same run, so the ratio `projectVsRawNode` (interface
 * ops/s ÷ raw ops/s; 1 = no overhead) survives a noisy shared machine.
 *
 * Two extra rows show costs that pre-built key objects hide: `x25519FreshPeer` (a new peer public key
 * on every exchange, as with ephemeral keys: 64 rotating keys, more than the interface's peer-key cache
 * holds; the raw side imports each one too) and `ed25519VerifyColdKey`
 * (more distinct signers than the interface's verify-key cache holds; the raw side keeps all its key
 * objects pre-built, which is the gap the cache exists to close).
 */
import {
  createCipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hash,
  hkdfSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519VerifyKeyCacheEntriesMax, nodeCrypto } from '../src/crypto/index.js';
import type { BenchFigures, BenchOptions } from './lib.js';
import { opsPerSec, round3 } from './lib.js';

const minMs = 300;
const rounds = 3;

/** Deterministic filler bytes (benchmarks need no randomness, only distinct inputs). */
function filled(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 131 + salt * 17 + 7) & 0xff;
  return out;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function rawPrivate(crv: 'Ed25519' | 'X25519', seed: Uint8Array, pub: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d: b64(seed), x: b64(pub) }, format: 'jwk' });
}

function rawPublic(crv: 'Ed25519' | 'X25519', pub: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: b64(pub) }, format: 'jwk' });
}

interface Row {
  project: number;
  rawNode: number;
  noble?: number;
  projectVsRawNode: number;
}

/**
 * Interface and raw rounds alternate (best of `rounds` each), so a burst of load from elsewhere on the
 * machine hits both sides alike instead of skewing the ratio.
 */
function row(project: () => void, raw: () => void, noble?: () => void): Row {
  let p = 0;
  let r = 0;
  for (let i = 0; i < rounds; i++) {
    p = Math.max(p, opsPerSec(project, { minMs, rounds: 1 }));
    r = Math.max(r, opsPerSec(raw, { minMs, rounds: 1 }));
  }
  const out: Row = {
    project: round3(p),
    rawNode: round3(r),
    projectVsRawNode: Math.round((p / r) * 100) / 100,
  };
  if (noble !== undefined) out.noble = round3(opsPerSec(noble, { minMs, rounds }));
  return out;
}

export async function run(_opts: BenchOptions): Promise<BenchFigures> {
  const message = filled(100, 1); // a signed packet's fields
  const packet = filled(256, 2); // an HMAC'd neighbour-link packet
  const kib = filled(1024, 3);
  const aad = filled(16, 4);
  const aeadKey = filled(32, 5);
  const nonce = filled(12, 6);
  const ikm = filled(32, 7);
  const salt = filled(32, 8);
  const label = 'dcomms/bench/link-key';

  // Ed25519
  const edSeed = filled(32, 9);
  const edKey = nodeCrypto.ed25519FromSeed(edSeed);
  const edPriv = rawPrivate('Ed25519', edSeed, edKey.publicKey);
  const edPub = rawPublic('Ed25519', edKey.publicKey);
  const signature = nodeCrypto.ed25519Sign(edKey, message);

  // X25519
  const xA = filled(32, 10);
  const xB = filled(32, 11);
  const xPubA = nodeCrypto.x25519PublicKey(xA);
  const xPubB = nodeCrypto.x25519PublicKey(xB);
  const xPrivA = rawPrivate('X25519', xA, xPubA);
  const xPubBObj = rawPublic('X25519', xPubB);

  const figures: BenchFigures = {};

  figures.ed25519Sign = row(
    () => nodeCrypto.ed25519Sign(edKey, message),
    () => sign(null, message, edPriv),
    () => ed25519.sign(message, edSeed),
  );
  figures.ed25519Verify = row(
    () => nodeCrypto.ed25519Verify(edKey.publicKey, message, signature),
    () => verify(null, message, edPub, signature),
    () => ed25519.verify(signature, message, edKey.publicKey, { zip215: false }),
  );
  figures.x25519 = row(
    () => nodeCrypto.x25519(xA, xPubB),
    () => diffieHellman({ privateKey: xPrivA, publicKey: xPubBObj }),
    () => x25519.getSharedSecret(xA, xPubB),
  );
  figures.hkdf = row(
    () => nodeCrypto.hkdf(ikm, salt, label, 32),
    () => hkdfSync('sha256', ikm, salt, label, 32),
    () => hkdf(sha256, ikm, salt, new TextEncoder().encode(label), 32),
  );
  // The noble backend has no AEAD of its own (it uses node's), so this row has no noble figure.
  figures.aead1k = row(
    () => nodeCrypto.aeadSeal(aeadKey, nonce, kib, aad),
    () => {
      const c = createCipheriv('chacha20-poly1305', aeadKey, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: kib.length });
      Buffer.concat([c.update(kib), c.final(), c.getAuthTag()]);
    },
  );
  figures.hmac = row(
    () => nodeCrypto.hmacSha256(aeadKey, packet),
    () => createHmac('sha256', aeadKey).update(packet).digest(),
    () => hmac(sha256, aeadKey, packet),
  );
  figures.sha256 = row(
    () => nodeCrypto.sha256(packet),
    () => hash('sha256', packet, 'buffer'),
    () => sha256(packet),
  );

  // A fresh peer key per exchange: both sides must turn the peer's bytes into something usable.
  const peerCount = 64;
  const peers = Array.from({ length: peerCount }, (_, i) => nodeCrypto.x25519PublicKey(filled(32, 100 + i)));
  let p = 0;
  let q = 0;
  figures.x25519FreshPeer = row(
    () => nodeCrypto.x25519(xA, peers[p++ % peerCount]!),
    () => diffieHellman({ privateKey: xPrivA, publicKey: rawPublic('X25519', peers[q++ % peerCount]!) }),
  );

  // More signers than the verify-key cache holds: every interface call imports the key.
  const signerCount = ed25519VerifyKeyCacheEntriesMax * 2;
  const signers = Array.from({ length: signerCount }, (_, i) =>
    nodeCrypto.ed25519FromSeed(filled(32, 1000 + i)),
  );
  const signerSigs = signers.map((k) => nodeCrypto.ed25519Sign(k, message));
  const signerObjs = signers.map((k) => rawPublic('Ed25519', k.publicKey));
  let s = 0;
  let t = 0;
  figures.ed25519VerifyColdKey = row(
    () => {
      const i = s++ % signerCount;
      nodeCrypto.ed25519Verify(signers[i]!.publicKey, message, signerSigs[i]!);
    },
    () => {
      const i = t++ % signerCount;
      verify(null, message, signerObjs[i]!, signerSigs[i]!);
    },
  );

  return figures;
}
