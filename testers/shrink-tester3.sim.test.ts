import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace, replayTrace } from '../sim/vision/cli.js';
import { failsWith, firstPain, painKind, shrink } from '../sim/vision/shrink.js';
import { AttentionLevel } from '../src/vision/attention.js';
import { replayScenarios } from './drp-sim.js';
import { tester3Defaults } from './tester3.js';
import { tester3Command, tester3ReplayConfig, tester3Scenario } from './tester3-replay.js';

// A seeded failing tester-3 run of 1,008 peers: a tenth of the users is cut off from every other host when
// the measured phase starts (a network split), so INVITEs across the split fail with a strong pain.
const seed = 'shrink-1000';
const options = {
  ...tester3Defaults,
  transport: 'sim' as const,
  seed,
  users: 980,
  entryPeers: 8,
  tempPeers: 20,
  minutes: 1,
  warmupMs: 20_000,
  splitShare: 0.1,
  splitMs: 60_000,
  snapshot: { level: AttentionLevel.strongPain, snapshotsMax: 2 },
};
const config = tester3ReplayConfig(options);
const replay = `npm run drp-tester -- ${tester3Command(options).replace(/^drp-tester /, '')}`;

describe('shrinking a failing tester-3 run of 1,000+ peers', () => {
  it(
    'finds a case with fewer peers that fails with the same kind of pain, and its trace replays',
    () => {
      expect(tester3Scenario.size!(config)).toBeGreaterThanOrEqual(1000);
      const pain = firstPain(tester3Scenario, seed, config);
      expect(pain, `seed ${seed}: the split raised no strong pain; replay: ${replay}`).toBeDefined();
      const kind = painKind(pain!);
      expect(kind).toMatch(/^drp: INVITE failed: /);
      expect(pain!.peersTotal).toBeGreaterThanOrEqual(1000);
      expect(pain!.faults.map((f) => f.kind)).toContain('partition');

      const steps: string[] = [];
      const r = shrink(tester3Scenario, seed, config, pain!, {
        runsMax: 14,
        wallMsMax: 8 * 60_000,
        onStep: (t) => {
          steps.push(t);
          process.stderr.write(`${t}\n`);
        },
      });
      expect(r.kind).toBe(kind);
      expect(r.originalSize).toBeGreaterThanOrEqual(1000);
      expect(r.size, `no smaller case found:\n${steps.join('\n')}`).toBeLessThan(r.originalSize / 4);
      // The smallest case, run again from scratch, fails the same way; recorded, it replays to its pain.
      expect(failsWith(tester3Scenario, r.seed, r.config, kind)).toBe(true);
      const out = join(mkdtempSync(join(tmpdir(), 'dcomms-shrink-')), 'shrunk.trace');
      tester3Scenario.record!(r.seed, r.config, out);
      const shrunk = loadTrace(out);
      const again = shrunk.snapshots.findIndex((s) => painKind(s) === kind);
      expect(again).toBeGreaterThanOrEqual(0);
      expect(replayTrace(out, replayScenarios, again + 1).ok).toBe(true);
    },
    20 * 60_000,
  );
});
