import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { Pow2ChallengeTable, pow2ChallengeGenerationMs } from './challenges.js';
import { solvePow2 } from './pow.js';

describe('Pow2ChallengeTable', () => {
  it('issues 16-byte challenges, the same one again within a generation', () => {
    const rng = new SeededRng('challenges/issue');
    const t = new Pow2ChallengeTable();
    const a = t.issue('198.51.100.1:4000', 1000, rng);
    const b = t.issue('198.51.100.1:4000', 2000, rng);
    const c = t.issue('198.51.100.1:4001', 2000, rng);
    if (!a.ok || !b.ok || !c.ok) throw new Error('issue refused');
    expect(a.challenge).toHaveLength(16);
    expect(a.reused).toBe(false);
    expect(b.reused).toBe(true);
    expect(b.challenge).toBe(a.challenge);
    expect(c.challenge).not.toEqual(a.challenge);
    expect(t.lookup('198.51.100.1:4000', 2500)).toBe(a.challenge);
    expect(t.lookup('198.51.100.9:4000', 2500)).toBeUndefined();
    expect(t.size).toBe(2);
  });

  it('keeps every challenge alive for more than 5 s and at most 10 s', () => {
    expect(pow2ChallengeGenerationMs).toBe(5000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 20_000 }),
        (startMs, earlierCalls, issueAfterMs) => {
          const rng = new SeededRng('challenges/lifetime');
          const t = new Pow2ChallengeTable();
          let now = startMs;
          for (const step of earlierCalls) {
            now += step;
            t.lookup('other', now);
          }
          now += issueAfterMs;
          const r = t.issue('req', now, rng);
          if (!r.ok) throw new Error('issue refused');
          expect(t.lookup('req', now + 5000)).toBe(r.challenge);
          expect(t.lookup('req', now + 10_000)).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses when a generation is full, and stays within two generations of entries', () => {
    const rng = new SeededRng('challenges/bound');
    const t = new Pow2ChallengeTable({ challengesPerGenerationMax: 3 });
    let maxSize = 0;
    let refusals = 0;
    for (let i = 0; i < 1000; i++) {
      const nowMs = i * 100; // 50 requests per generation
      const r = t.issue(`203.0.113.${i % 251}:${i}`, nowMs, rng);
      if (!r.ok) {
        expect(r.code).toBe('tableFull');
        refusals++;
      }
      maxSize = Math.max(maxSize, t.size);
    }
    expect(maxSize).toBe(6);
    expect(refusals).toBe(t.refused);
    expect(refusals).toBe(1000 - 3 * 20);
    // A full table still answers a retransmission with the challenge it already issued.
    const full = new Pow2ChallengeTable({ challengesPerGenerationMax: 1 });
    const first = full.issue('a', 0, rng);
    expect(full.issue('b', 1, rng).ok).toBe(false);
    const again = full.issue('a', 2, rng);
    expect(again.ok && first.ok && again.challenge === first.challenge).toBe(true);
    expect(full.issue('b', 5000, rng).ok).toBe(true);
  });

  it('verifies a PoW2 only under the challenge of the same endpoint, and only while it lives', () => {
    const rng = new SeededRng('challenges/verify');
    const t = new Pow2ChallengeTable();
    const regId = rng.bytes(32);
    const mine = t.issue('192.0.2.10:5000', 0, rng);
    const theirs = t.issue('192.0.2.11:5000', 0, rng);
    if (!mine.ok || !theirs.ok) throw new Error('issue refused');
    const solved = solvePow2(theirs.challenge, regId, 10, rng);
    expect(solved).not.toBeNull();
    // Another endpoint's challenge does not count for this one.
    expect(t.verify('192.0.2.10:5000', 1000, regId, solved!.nonce, 10)).toBe(false);
    expect(t.verify('192.0.2.11:5000', 1000, regId, solved!.nonce, 10)).toBe(true);
    // A new challenge after a rotation does not invalidate the one being solved.
    const renewed = t.issue('192.0.2.11:5000', 6000, rng);
    expect(renewed.ok && !renewed.reused).toBe(true);
    expect(t.verify('192.0.2.11:5000', 6000, regId, solved!.nonce, 10)).toBe(true);
    // Gone after two generations; forget() drops at once.
    expect(t.verify('192.0.2.11:5000', 10_000, regId, solved!.nonce, 10)).toBe(false);
    t.forget('192.0.2.11:5000');
    expect(t.lookup('192.0.2.11:5000', 10_000)).toBeUndefined();
    // Malformed untrusted input is a plain false.
    expect(t.verify('192.0.2.10:5000', 1000, regId.subarray(2), new Uint8Array(16), 10)).toBe(false);
  });
});
