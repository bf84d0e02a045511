/**
 * The bad-internet scenario suite, full-sized (`npm run test:slow`): 208 peers, 40 pairs; ten minutes of
 * traffic, or for the sleepers a night of 8 hours. The same must-shows as the CI-sized variant
 * (bad-internet.test.ts). Each run also writes its report under reports/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario, scenarioNames, scenarioOptions, scenarioTable } from './bad-internet.js';

describe('bad-internet scenarios (full)', () => {
  for (const name of scenarioNames) {
    it(
      `${name}: online ≥ 99.9% within 60 s, sleepers 100% after waking, no duplicates`,
      () => {
        const r = runScenario(scenarioOptions(name, 'full', '1'), (t) => process.stderr.write(`${t}\n`));
        const { routeText, ...report } = r;
        mkdirSync('reports', { recursive: true });
        writeFileSync(`reports/scenario-${name}-full-1.json`, `${JSON.stringify(report, null, 2)}\n`);
        const why = `${scenarioTable(r)}\nreplay: ${r.replay}\n${routeText.join('\n')}`;
        expect(r.onlineDeliveredRatio, why).toBeGreaterThanOrEqual(0.999);
        expect(r.sleeperDeliveredRatio, why).toBe(1);
        expect(r.duplicates, why).toBe(0);
        expect(r.failures, why).toEqual([]);
      },
      120 * 60_000,
    );
  }
});
