import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommandFailure, loadTrace, replayTrace, shrinkTrace } from '../sim/vision/cli.js';
import { describeReplayDivergence, type ReplayScenario, replayToPain } from '../sim/vision/replay.js';
import { renderTextVision } from '../sim/vision/text.js';
import { AttentionLevel } from '../src/vision/attention.js';
import { cutoffInviteDefaults, cutoffInviteScenario, runCutoffInvite } from './cutoff-invite.js';
import { replayScenarios, sampleTracePath } from './drp-sim.js';
import { tester3Defaults } from './tester3.js';
import { tester3ReplayConfig, tester3Scenario } from './tester3-replay.js';

const dir = mkdtempSync(join(tmpdir(), 'dcomms-vision-'));
const fresh = join(dir, 'cutoff-invite.trace');

describe('pain snapshots, replay and text vision on the cut-off INVITE', () => {
  beforeAll(() => {
    // The sample's own command, with its seed: the same run as reports/samples/cutoff-invite.trace.
    const r = runCutoffInvite(cutoffInviteDefaults, fresh);
    expect(r.pains, `seed ${cutoffInviteDefaults.seed}: drp-sim sample`).toBeGreaterThan(0);
  }, 120_000);

  it('captures each failed INVITE with peers, the route hop by hop, records and the fault', () => {
    const t = loadTrace(fresh);
    expect(t.runLog?.fingerprints.length).toBe(2 * t.runLog!.events);
    const s = t.snapshots[0]!;
    expect(s.pain.message).toMatch(/^INVITE failed/);
    expect(s.peers.length).toBe(s.peersTotal);
    expect(s.peers.every((p) => p.point.length === 8)).toBe(true);
    expect(s.peers.some((p) => p.neighbours.length > 0)).toBe(true);
    const r = s.route!;
    expect(r.source).toBeGreaterThanOrEqual(0);
    expect(r.targetPeer).toBeGreaterThanOrEqual(0);
    expect(r.hops.length).toBeGreaterThan(2);
    expect(r.hops[0]!.decision).toBe('INVITE sent');
    expect(r.hops.some((h) => h.considered.length > 0 && h.distance > 0)).toBe(true);
    expect(s.records.length).toBeGreaterThan(0);
    expect(s.faults.map((f) => f.kind)).toContain('partition');
  });

  it('the sample trace replays with the same event hash, and the pain recurs', () => {
    const r = replayTrace(fresh, replayScenarios, 1);
    expect(r.lines.join('\n')).toMatch(/MATCH/);
    expect(r.ok).toBe(true);
    expect(r.result.painReproduced).toBe(true);
  }, 120_000);

  it('a planted divergence is reported with its first differing event', () => {
    const t = loadTrace(fresh);
    const pain = t.snapshots[0]!;
    const plantAtMs = 1_577_836_800_000 + 30_000;
    const planted: ReplayScenario = {
      ...cutoffInviteScenario,
      build(seed, config) {
        const b = cutoffInviteScenario.build(seed, config);
        // An extra script event (a kind registered already, so later kinds keep their ids), marked peer 7.
        b.kernel.at(plantAtMs, b.kernel.kind('tester.script'), 7, 0, () => {});
        return b;
      },
    };
    const r = replayToPain(planted.build(String(t.header.seed), t.header.config), pain, t.runLog);
    expect(r.hashMatches).toBe(false);
    const d = r.divergence!;
    expect(d.exact).toBe(true);
    expect(d.replayEvent?.kind).toBe('tester.script');
    expect(d.replayEvent?.peer).toBe(7);
    expect(d.replayEvent?.timeMs).toBe(plantAtMs);
    expect(d.eventIndex).toBe(d.replayEvent!.index + 1);
    expect(d.lastMatchIndex).toBe(d.eventIndex - 1);
    expect(describeReplayDivergence(d)).toMatch(
      /first divergence at event #\d+ \(t=\d+ kind=tester.script peer=7/,
    );

    // Without per-event fingerprints (a run stepped by kernel.run), checkpoints bound it.
    const coarse = replayToPain(planted.build(String(t.header.seed), t.header.config), pain, {
      ...t.runLog!,
      fingerprints: new Uint8Array(0),
    });
    const c = coarse.divergence!;
    expect(c.exact).toBe(false);
    expect(c.lastMatchIndex).toBeLessThan(d.eventIndex);
    expect(c.detectedAt).toBeGreaterThanOrEqual(d.eventIndex);
  }, 120_000);

  it('text vision prints the route as a table, the faults and the records', () => {
    const text = renderTextVision(loadTrace(fresh), 1);
    expect(text).toMatch(/route, hop by hop/);
    expect(text).toMatch(/hop\s+try\s+t \(s\)\s+peer\s+status\s+distance\s+chose/);
    expect(text).toMatch(/INVITE sent/);
    expect(text).toMatch(/partition: U\d+ is cut off from every other host/);
    expect(text).toMatch(/records of the peers on the route/);
  });

  it('the committed sample is this run: same replay key, same pains', () => {
    const committed = loadTrace(sampleTracePath);
    const now = loadTrace(fresh);
    expect(committed.header.seed).toBe(now.header.seed);
    expect(committed.header.config).toEqual(now.header.config);
    expect(committed.snapshots.map((s) => s.pain.message)).toEqual(now.snapshots.map((s) => s.pain.message));
    // When the protocol's behaviour changes, the recorded hashes change too: regenerate the sample with
    // `npm run drp-sim -- sample` (the replay test above runs on a fresh recording).
  });

  it('shrinking finds a smaller case with the same kind of pain, and its trace replays', () => {
    const out = join(dir, 'shrunk.trace');
    const r = shrinkTrace(fresh, replayScenarios, { out, runsMax: 6 });
    expect(r.size).toBeLessThan(r.originalSize);
    expect(r.lines.join('\n')).toMatch(/pain kind: drp: INVITE failed: /);
    const shrunk = loadTrace(out);
    expect(shrunk.snapshots.some((s) => s.pain.message.startsWith('INVITE failed'))).toBe(true);
    expect(replayTrace(out, replayScenarios, 1).ok).toBe(true);
  }, 120_000);

  it('a tester-3 trace (checkpoints, no fingerprints) replays to its pain with the same hash', () => {
    const seed = 'vision-t3';
    const config = tester3ReplayConfig({
      ...tester3Defaults,
      transport: 'sim',
      seed,
      users: 16,
      entryPeers: 3,
      tempPeers: 4,
      minutes: 0.5,
      warmupMs: 20_000,
      snapshot: { level: AttentionLevel.lightPain, snapshotsMax: 3 },
    });
    const path = join(dir, 'tester3.trace');
    tester3Scenario.record!(seed, config, path);
    const t = loadTrace(path);
    expect(t.header.config.scenario).toBe('tester3');
    expect(t.runLog?.fingerprints.length).toBe(0);
    expect(t.runLog!.checkpoints.length).toBeGreaterThan(1);
    expect(t.snapshots.length, `seed ${seed}: no light pain to replay to`).toBeGreaterThan(0);
    const r = replayTrace(path, replayScenarios, t.snapshots.length);
    expect(r.lines.join('\n')).toMatch(/MATCH/);
  }, 120_000);

  it('a corrupt, truncated or unknown trace gives one sentence, not a stack trace', () => {
    const bytes = readFileSync(fresh);
    const cut = join(dir, 'cut.trace');
    writeFileSync(cut, bytes.subarray(0, 5000));
    expect(() => replayTrace(cut, replayScenarios)).toThrow(CommandFailure);
    expect(() => replayTrace(cut, replayScenarios)).toThrow(/no pain snapshot \(and is truncated/);
    const junk = join(dir, 'junk.trace');
    writeFileSync(junk, 'not a trace at all');
    expect(() => loadTrace(junk)).toThrow(/not a dcomms trace/);
    // The first item after the header: its first msgpack byte (an array marker) becomes 0xc1, never valid.
    const flipped = Buffer.from(bytes);
    const firstItem = 4 + flipped.readUInt32BE(0);
    flipped[firstItem + 4] = 0xc1;
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, flipped);
    expect(() => loadTrace(bad)).toThrow(/corrupt at byte \d+/);
    expect(() => replayTrace(fresh, new Map())).toThrow(/scenario 'cutoff-invite' is not known/);
  });
});
