import { describe, expect, it } from 'vitest';
import { pointOfRegId } from '../id/geometry.js';
import { NeighborLink } from './neighbor.js';

const rates = { registerRatePerSec: 3, registerBurst: 10, inviteRatePerSec: 3, inviteBurst: 10 };

function link(nowMs = 0): NeighborLink {
  const regId = new Uint8Array(32).fill(7);
  return new NeighborLink(
    0,
    'responder',
    regId,
    '07'.repeat(32),
    1,
    2,
    new Uint8Array(32),
    new Uint8Array(32),
    { address: '11.0.0.1', port: 5000 },
    nowMs,
    0xffff_fffe,
    rates,
  );
}

describe('NeighborLink', () => {
  it('starts punching, unusable, with its remote point from the regID', () => {
    const l = link();
    expect(l.state).toBe('punching');
    expect(l.usable).toBe(false);
    expect([...l.remotePoint]).toEqual([...pointOfRegId(new Uint8Array(32).fill(7))]);
    l.state = 'up';
    expect(l.usable).toBe(true);
    l.state = 'closing';
    expect(l.usable).toBe(false);
  });

  it('takeSeq counts up and wraps at 2^32', () => {
    const l = link();
    expect(l.takeSeq()).toBe(0xffff_fffe);
    expect(l.takeSeq()).toBe(0xffff_ffff);
    expect(l.takeSeq()).toBe(0);
  });

  describe('rating', () => {
    it('is 1 for a new link (prior of two successes; liveness ignored for the first pings)', () => {
      expect(link().rating()).toBe(1);
      const l = link();
      l.pingsSent = 3;
      expect(l.rating()).toBe(1);
    });

    it('falls with failed forwards: (ok + 2) / (ok + failed + 2)', () => {
      const l = link();
      l.forwardedFailed = 2;
      expect(l.rating()).toBeCloseTo(0.5, 12);
      l.forwardedOk = 6;
      expect(l.rating()).toBeCloseTo(8 / 10, 12);
    });

    it('falls with unanswered PINGs once 4 were sent: (pongs + 1) / (pings + 1), capped at 1', () => {
      const l = link();
      l.pingsSent = 9;
      l.pongsReceived = 4;
      expect(l.rating()).toBeCloseTo(0.5, 12);
      l.pongsReceived = 20;
      expect(l.rating()).toBe(1);
    });

    it('multiplies delivery and liveness, stays in [0, 1] and orders a bad link below a good one', () => {
      const good = link();
      good.forwardedOk = 50;
      good.forwardedFailed = 1;
      good.pingsSent = 100;
      good.pongsReceived = 99;
      const bad = link();
      bad.forwardedOk = 1;
      bad.forwardedFailed = 20;
      bad.pingsSent = 100;
      bad.pongsReceived = 40;
      expect(bad.rating()).toBeCloseTo((3 / 23) * (41 / 101), 12);
      expect(bad.rating()).toBeLessThan(good.rating());
      for (const l of [good, bad]) {
        expect(l.rating()).toBeGreaterThanOrEqual(0);
        expect(l.rating()).toBeLessThanOrEqual(1);
      }
    });
  });

  it('is flooding while either request budget is spent, and recovers as it refills', () => {
    const l = link(0);
    expect(l.flooding(0)).toBe(false);
    for (let i = 0; i < 10; i++) l.registerBudget.take(0);
    expect(l.flooding(0)).toBe(true);
    expect(l.flooding(400)).toBe(false); // 1.2 tokens back at 3/s
    for (let i = 0; i < 10; i++) l.inviteBudget.take(400);
    expect(l.flooding(400)).toBe(true);
  });
});
