/**
 * The bad-internet scenario suite, CI-sized (./bad-internet.ts `scenarioOptions(name, 'ci', seed)`: 66
 * peers, 15 pairs, a few simulated minutes; a 4-minute night for the sleepers). Each must show: ≥ 99.9%
 * of the messages between online users delivered within 60 s, 100% of the messages to or from sleepers
 * delivered after they wake, no duplicates. The full variants run in bad-internet.slow.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, scenarioNames, scenarioOptions, scenarioTable } from './bad-internet.js';

describe('bad-internet scenarios (CI-sized)', () => {
  for (const name of scenarioNames) {
    it(`${name}: online ≥ 99.9% within 60 s, sleepers 100% after waking, no duplicates`, () => {
      const r = runScenario(scenarioOptions(name, 'ci', '1'));
      const why = `${scenarioTable(r)}\nreplay: ${r.replay}\n${r.routeText.join('\n')}`;
      expect(r.messagesSent, why).toBeGreaterThan(1000);
      expect(r.onlineMessages, why).toBeGreaterThan(1000);
      expect(r.onlineDeliveredRatio, why).toBeGreaterThanOrEqual(0.999);
      expect(r.sleeperDeliveredRatio, why).toBe(1);
      expect(r.duplicates, why).toBe(0);
      expect(r.failures, why).toEqual([]);
      if (name === 'sleepers-30' || name === 'all-combined')
        expect(r.sleeperMessages, why).toBeGreaterThan(100);
      if (name !== 'loss10-jitter100' && name !== 'sleepers-30')
        expect(r.relayedRatio, why).toBeGreaterThan(0.1);
    }, 180_000);
  }
});
