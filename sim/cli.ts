#!/usr/bin/env node
/**
 * `drp-sim`: the simulator's command line. Subcommands run scenarios on the deterministic simulator;
 * every run prints its seed, and `--check-determinism` replays it in lockstep to prove the seed is enough.
 * Bad arguments give one line on stderr and exit code 2, never a stack trace.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { countOption, decimalOption, defaultSeed, formatTable, UsageError } from './cli/args.js';
import { applySimulatorHeapPolicy } from './heap-policy.js';
import { checkDeterminism, describeDivergence } from './kernel/determinism.js';
import { registerScaleCommand } from './scale/cli.js';
import { registerScenarioCommand } from './scenarios/cli.js';
import { buildNetDemo, type NetDemoOptions, netDemoDefaults, runNetDemo } from './scenarios/net-demo.js';
import { CommandFailure, registerVisionCommands } from './vision/cli.js';
import { ReplayConfigError, type ReplayScenarios } from './vision/replay.js';

function netDemoCommand(program: Command): void {
  program
    .command('net-demo')
    .description(
      'hosts behind a mix of NATs keep bindings to rendezvous servers, get introduced and hole-punch to each other ' +
        'over lossy, jittery links; prints success per NAT pair, drops by reason and the event hash',
    )
    .option(
      '--hosts <n>',
      'simulated hosts (servers + consumers)',
      countOption('--hosts', 2, 100_000),
      netDemoDefaults.hosts,
    )
    .option(
      '--minutes <m>',
      'simulated minutes',
      decimalOption('--minutes', 0.01, 10_000),
      netDemoDefaults.minutes,
    )
    .option(
      '--loss <rate>',
      'random loss on every uplink, 0..1',
      decimalOption('--loss', 0, 1),
      netDemoDefaults.lossRate,
    )
    .option(
      '--jitter <ms>',
      'mean exponential jitter, ms',
      decimalOption('--jitter', 0, 10_000),
      netDemoDefaults.jitterMeanMs,
    )
    .option('--seed <s>', 'root seed (default: random, printed)')
    .option('--check-determinism', 'run twice in lockstep and name the first diverging event, if any')
    .option('--json', 'print one JSON object as the last line')
    .action(
      (o: {
        hosts: number;
        minutes: number;
        loss: number;
        jitter: number;
        seed?: string;
        checkDeterminism?: boolean;
        json?: boolean;
      }) => {
        const opts: NetDemoOptions = {
          seed: o.seed ?? defaultSeed(),
          hosts: o.hosts,
          minutes: o.minutes,
          lossRate: o.loss,
          jitterMeanMs: o.jitter,
        };
        const replay = `drp-sim net-demo --hosts ${opts.hosts} --minutes ${opts.minutes} --loss ${opts.lossRate} --jitter ${opts.jitterMeanMs} --seed ${opts.seed}`;
        const started = Date.now();
        const r = runNetDemo(opts);
        const wallSeconds = (Date.now() - started) / 1000;
        let determinism: string | undefined;
        if (o.checkDeterminism) {
          const check = checkDeterminism(() => buildNetDemo(opts).kernel, {
            untilMs: buildNetDemo(opts).endMs,
          });
          determinism = check.ok
            ? `ok (${check.events.toLocaleString('en-US')} events, hash ${check.hash})`
            : describeDivergence(check);
          if (!check.ok) process.exitCode = 1;
        }
        if (!o.json) {
          console.log(
            `net-demo: ${r.hosts} hosts (${r.servers} rendezvous servers), ${r.simulatedMinutes} simulated min, seed ${r.seed}`,
          );
          console.log('');
          const rows = Object.entries(r.byNatPair)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([pair, x]) => [
              pair,
              x.attempts,
              x.succeeded,
              `${((100 * x.succeeded) / Math.max(1, x.attempts)).toFixed(1)}%`,
            ]);
          console.log(formatTable(['NAT pair', 'introduced', 'punched', 'success'], rows));
          console.log('');
          const n = r.network;
          const drops = Object.entries(n.dropped).filter(([, v]) => v > 0);
          console.log(
            formatTable(
              ['datagrams', 'count'],
              [
                ['sent', n.sent],
                ['delivered', n.delivered],
                ...drops.map(([k, v]) => [`dropped: ${k}`, v] as [string, number]),
              ],
            ),
          );
          console.log('');
          console.log(
            `events ${r.events.toLocaleString('en-US')}, event hash ${r.eventHash}, ${wallSeconds.toFixed(1)} s wall`,
          );
          if (determinism !== undefined) console.log(`determinism: ${determinism}`);
          console.log(`replay: ${replay}`);
        } else {
          console.log(
            JSON.stringify({ ...r, wallSeconds, ...(determinism !== undefined ? { determinism } : {}) }),
          );
        }
      },
    );
}

/**
 * The drp-sim program. `scenarios` are the runs `replay` can rebuild; sim/ knows none of the testers, so
 * the installed entry point (testers/drp-sim.ts) passes them in, with `extend` adding its commands.
 */
export function buildProgram(
  scenarios: ReplayScenarios = new Map(),
  extend: (program: Command) => void = () => {},
): Command {
  const program = new Command('drp-sim')
    .description('Dcomms simulator: deterministic, seeded runs of the network model and the DRP protocol')
    .showHelpAfterError('(run drp-sim --help for usage)')
    .exitOverride();
  netDemoCommand(program);
  registerScenarioCommand(program);
  // The default action: routing at scale (`drp-sim --peers 1e6 --topology 8d`), and `scale-table`.
  registerScaleCommand(program);
  registerVisionCommands(program, scenarios);
  extend(program);
  return program;
}

export async function main(
  argv: readonly string[],
  scenarios: ReplayScenarios = new Map(),
  extend: (program: Command) => void = () => {},
): Promise<number> {
  const program = buildProgram(scenarios, extend);
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its one-line message (and --help/--version exit 0).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CommandFailure) {
      process.stderr.write(`drp-sim: ${e.message}\n`);
      return e.exitCode;
    }
    if (
      e instanceof UsageError ||
      e instanceof ReplayConfigError ||
      e instanceof RangeError ||
      e instanceof TypeError
    ) {
      process.stderr.write(`drp-sim: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

/** True when this module is the process's entry point (run as `drp-sim` or `node dist/sim/cli.js`). */
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
  main(process.argv.slice(2)).then(
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
