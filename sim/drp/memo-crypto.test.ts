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
