#!/usr/bin/env node
/**
 * The installed `drp-sim`: sim/cli.ts's program with the scenarios `replay` can rebuild. The layer rule
 * keeps sim/ from importing testers/, so this composition root lives here and hands the tester scenarios
 * (tester 3, the cut-off INVITE) to sim's commands, and adds `drp-sim sample`, which writes the sample
 * trace of a seeded tester failure:
 *
 *   drp-sim sample [--out reports/samples/cutoff-invite.trace] [--seed 6] [--users 20]
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { countOption, UsageError } from '../sim/cli/args.js';
import { main } from '../sim/cli.js';
import { applySimulatorHeapPolicy } from '../sim/heap-policy.js';
import type { ReplayScenario } from '../sim/vision/replay.js';
import type { JsonObject } from '../src/vision/trace.js';
import {
  cutoffInviteDefaults,
  cutoffInviteOptionsOf,
  cutoffInviteScenario,
  runCutoffInvite,
} from './cutoff-invite.js';
import { tester3Scenario } from './tester3-replay.js';

/** The scenarios drp-sim can replay and shrink. */
export const replayScenarios: ReadonlyMap<string, ReplayScenario> = new Map(
  [tester3Scenario, cutoffInviteScenario].map((s) => [s.name, s]),
);

/** Where `drp-sim sample` writes by default (committed). */
export const sampleTracePath = 'reports/samples/cutoff-invite.trace';

function sampleCommand(program: Command): void {
  program
    .command('sample')
    .description(
      'write the sample trace: a seeded tester failure (INVITEs to a user cut off from every other host, so its former neighbours cannot deliver them), with pain snapshots and per-event fingerprints',
    )
    .option('--out <file>', 'trace file to write', sampleTracePath)
    .option('--seed <s>', 'root seed', cutoffInviteDefaults.seed)
    .option('--users <n>', 'users', countOption('--users', 2, 10_000), cutoffInviteDefaults.users)
    .option(
      '--entry-peers <n>',
      'entry peers',
      countOption('--entry-peers', 1, 100),
      cutoffInviteDefaults.entryPeers,
    )
    .option(
      '--options <json>',
      'further options as JSON, e.g. {"warmupMs":20000} (as `drp-sim shrink` prints)',
    )
    .action((o: { out: string; seed: string; users: number; entryPeers: number; options?: string }) => {
      let extra: Record<string, unknown> = {};
      if (o.options !== undefined) {
        try {
          extra = JSON.parse(o.options) as Record<string, unknown>;
        } catch {
          throw new UsageError(`--options must be a JSON object, got '${o.options}'`);
        }
      }
      const opts = cutoffInviteOptionsOf(
        {
          options: { users: o.users, entryPeers: o.entryPeers, ...extra } as JsonObject,
          snapshot: cutoffInviteDefaults.snapshot,
        },
        o.seed,
      );
      mkdirSync(dirname(o.out), { recursive: true });
      const started = Date.now();
      const r = runCutoffInvite(opts, o.out);
      console.log(
        `sample: seed ${o.seed}, ${opts.users} users; victim ${r.victim}; INVITEs delivered ${r.invitesDelivered}/${r.invitesSent}; ` +
          `${r.pains} pain snapshots; ${r.events.toLocaleString('en-US')} events, hash ${r.eventHash} ` +
          `(${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      console.log(`trace: ${r.trace}`);
      console.log(`look:  drp-sim vision --text ${r.trace}    or    drp-sim replay ${r.trace} --open`);
    });
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  applySimulatorHeapPolicy();
  main(process.argv.slice(2), replayScenarios, sampleCommand).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `drp-sim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
