#!/usr/bin/env node
/**
 * `drp-tester <1|2|3|5> --transport sim|udp [--seed S] [--peers N] [--minutes M] [--json]`: runs a DRP
 * tester, prints its summary table (and the route of a failed INVITE), writes a JSON report under
 * `reports/`, and with `--json` prints the same object as the last line. On any failure it prints the
 * seed and the exact command that replays the run, and exits 1. Bad arguments: one line, exit 2.
 * Tester 4 is the routing sandbox on the scale model; tester 5 sends messages between sender ↔ echo
 * pairs over direct channels (`--pairs P --messages M`).
 *
 * Tester 3 can also run as separate processes that form one network over real UDP:
 *   drp-tester 3 --role entry --listen 127.0.0.1:12000 [--entry host:port ...]
 *   drp-tester 3 --role user  --listen 127.0.0.1:0 --entry 127.0.0.1:12000 --peers 20 --minutes 2
 *   drp-tester 3 --role churn --listen 127.0.0.1:0 --entry 127.0.0.1:12000 --peers 5 --minutes 2
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { countOption, decimalOption, defaultSeed, UsageError } from '../sim/cli/args.js';
import { applySimulatorHeapPolicy } from '../sim/heap-policy.js';
import { isIpv4, isPort } from '../src/seams/transport.js';
import { summaryTable, type TesterReport, writeReport } from './report.js';
import { runRole } from './roles.js';
import { runTester1 } from './tester1.js';
import { runTester2, tester2Defaults } from './tester2.js';
import { runTester3, splitShareMax, tester3Defaults, tester3UdpWarmupMs } from './tester3.js';
import { formatTester4, runTester4, tester4OptionsDefault } from './tester4.js';
import { runTester5, tester5Defaults, tester5Table } from './tester5.js';

interface Options {
  transport: 'sim' | 'udp';
  seed?: string;
  peers?: number;
  entryPeers?: number;
  tempPeers?: number;
  invites?: number;
  minutes?: number;
  newPeers?: number;
  routes?: number;
  rejoins?: number;
  pairs?: number;
  symmetric?: number;
  messages?: number;
  loss?: number;
  warmup?: number;
  split?: number;
  splitSeconds?: number;
  joinSpacing?: number;
  json?: boolean;
  checkDeterminism?: boolean;
  role?: 'entry' | 'user' | 'churn';
  listen?: string;
  entry?: string[];
  reportDir: string;
}

export function parseEndpoint(text: string): { address: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  if (m === null || !isIpv4(m[1]!) || !(isPort(Number(m[2])) || m[2] === '0')) {
    throw new InvalidArgumentError(`expected an IPv4 host:port such as 127.0.0.1:12000, got '${text}'`);
  }
  return { address: m[1]!, port: Number(m[2]) };
}

function collectEndpoint(text: string, previous: string[] | undefined): string[] {
  parseEndpoint(text);
  return [...(previous ?? []), text];
}

export function buildProgram(out: (line: string) => void): Command {
  const program = new Command('drp-tester')
    .description('DRP Testers: scenarios on the deterministic simulator or on real UDP')
    .argument(
      '<tester>',
      'which tester: 1, 2, 3, 4 (the routing sandbox on the scale model) or 5 (sender ↔ echo messages)',
      (t) => {
        if (!['1', '2', '3', '4', '5'].includes(t)) {
          throw new InvalidArgumentError(`unknown tester '${t}' (expected 1, 2, 3, 4 or 5)`);
        }
        return Number(t);
      },
    )
    .addOption(
      new Option('--transport <kind>', 'sim (simulator) or udp (real sockets)')
        .choices(['sim', 'udp'])
        .default('sim'),
    )
    .option('--seed <s>', 'root seed of a simulated run (default: random, printed)')
    .option(
      '--peers <n>',
      'users (tester 2, 3, 5; per process for --role)',
      countOption('--peers', 1, 100_000),
    )
    .option('--entry-peers <n>', 'entry peers (tester 2, 3, 5)', countOption('--entry-peers', 1, 1000))
    .option(
      '--temp-peers <n>',
      'temporary peers that join and leave (tester 3)',
      countOption('--temp-peers', 0, 10_000),
    )
    .option('--invites <n>', 'INVITEs to send (tester 2)', countOption('--invites', 1, 10_000_000))
    .option(
      '--minutes <m>',
      'minutes of the measured phase (tester 3)',
      decimalOption('--minutes', 0.05, 100_000),
    )
    .option(
      '--new-peers <n>',
      'peers joining after the network is built (tester 4)',
      countOption('--new-peers', 1, 1e7),
    )
    .option('--routes <n>', 'routes per phase (tester 4)', countOption('--routes', 1, 1e7))
    .option('--rejoins <n>', 'peers that leave and rejoin (tester 4)', countOption('--rejoins', 0, 1e6))
    .option(
      '--pairs <n>',
      'sender ↔ echo pairs (tester 5; default 20 on sim, 5 on udp)',
      countOption('--pairs', 1, 10_000),
    )
    .option(
      '--messages <n>',
      'messages in all, shared out over the pairs (tester 5; default 1000)',
      countOption('--messages', 1, 10_000_000),
    )
    .option(
      '--symmetric <share>',
      'share of users behind symmetric NATs, 0..1 (tester 5 on the simulator; their pairs relay)',
      decimalOption('--symmetric', 0, 1),
    )
    .option(
      '--loss <rate>',
      'tester 3 on the simulator: datagram loss rate, 0..0.9 (default 0.02)',
      decimalOption('--loss', 0, 0.9),
    )
    .option(
      '--warmup <s>',
      'tester 3: seconds between the last user joining and the measured phase (default 90; 20 on udp)',
      decimalOption('--warmup', 0, 86_400),
    )
    .option(
      '--join-spacing <ms>',
      'tester 3: users join one every this many ms (default 200)',
      countOption('--join-spacing', 1, 60_000),
    )
    .option(
      '--split <share>',
      `tester 3 on the simulator: cut this share of the users (0..${splitShareMax}) off from every other host ` +
        'when the measured phase starts (a network split; INVITEs across it fail)',
      decimalOption('--split', 0, splitShareMax),
    )
    .option(
      '--split-seconds <s>',
      'tester 3: how long the split lasts (default 60)',
      decimalOption('--split-seconds', 1, 86_400),
    )
    .option('--check-determinism', 'simulator: replay the run in lockstep and name the first diverging event')
    .option('--json', 'print the report as one JSON object on the last line')
    .option('--report-dir <dir>', 'where the JSON report is written', 'reports')
    .addOption(
      new Option('--role <role>', 'tester 3 over several processes: entry, user or churn').choices([
        'entry',
        'user',
        'churn',
      ]),
    )
    .option('--listen <host:port>', 'with --role: the UDP endpoint to bind', (t) => {
      parseEndpoint(t);
      return t;
    })
    .option(
      '--entry <host:port>',
      'with --role: an entry peer to register through (repeatable)',
      collectEndpoint,
    )
    .exitOverride()
    .showHelpAfterError('(run drp-tester --help for usage)')
    .action(async (tester: number, o: Options) => {
      if (o.role !== undefined) {
        if (tester !== 3) throw new UsageError('--role is only for tester 3');
        if (o.listen === undefined) throw new UsageError('--role needs --listen host:port');
        if (o.role !== 'entry' && (o.entry === undefined || o.entry.length === 0)) {
          throw new UsageError(`--role ${o.role} needs at least one --entry host:port`);
        }
        await runRole({
          role: o.role,
          listen: parseEndpoint(o.listen),
          entries: (o.entry ?? []).map(parseEndpoint),
          peers: o.peers ?? (o.role === 'entry' ? 1 : 10),
          minutes: o.minutes ?? 2,
          json: o.json === true,
          out,
        });
        return;
      }
      const seed = o.seed ?? defaultSeed();
      if (tester === 4) {
        const r4 = runTester4(
          tester4OptionsDefault({
            seed,
            ...(o.peers !== undefined ? { existingPeers: o.peers } : {}),
            ...(o.newPeers !== undefined ? { newPeers: o.newPeers } : {}),
            ...(o.routes !== undefined ? { routes: o.routes } : {}),
            ...(o.rejoins !== undefined ? { rejoins: o.rejoins } : {}),
          }),
        );
        out(o.json ? JSON.stringify(r4) : formatTester4(r4));
        return;
      }
      const progress = o.json ? undefined : (t: string): void => void process.stderr.write(`${t}\n`);
      let report: TesterReport;
      if (tester === 5) {
        const d = tester5Defaults[o.transport];
        const users = o.peers ?? d.users;
        const pairs = o.pairs ?? Math.min(d.pairs, Math.floor(users / 2));
        if (pairs * 2 > users)
          throw new UsageError(`--pairs ${pairs} needs --peers of at least ${pairs * 2}`);
        report = await runTester5({
          transport: o.transport,
          seed,
          ...d,
          users,
          pairs,
          ...(o.entryPeers !== undefined ? { entryPeers: o.entryPeers } : {}),
          ...(o.messages !== undefined ? { messages: o.messages } : {}),
          ...(o.symmetric !== undefined ? { symmetricShare: o.symmetric } : {}),
          ...(progress !== undefined ? { onProgress: progress } : {}),
        });
      } else if (tester === 1) report = await runTester1({ transport: o.transport, seed });
      else if (tester === 2) {
        report = await runTester2({
          transport: o.transport,
          seed,
          ...tester2Defaults,
          ...(o.peers !== undefined ? { users: o.peers } : {}),
          ...(o.entryPeers !== undefined ? { entryPeers: o.entryPeers } : {}),
          ...(o.invites !== undefined ? { invites: o.invites } : {}),
          ...(progress !== undefined ? { onProgress: progress } : {}),
          traceDir: o.reportDir,
        });
      } else {
        report = await runTester3(
          {
            transport: o.transport,
            seed,
            ...tester3Defaults,
            ...(o.peers !== undefined ? { users: o.peers } : {}),
            ...(o.entryPeers !== undefined ? { entryPeers: o.entryPeers } : {}),
            ...(o.tempPeers !== undefined ? { tempPeers: o.tempPeers } : {}),
            ...(o.minutes !== undefined ? { minutes: o.minutes } : {}),
            ...(o.transport === 'udp' ? { warmupMs: tester3UdpWarmupMs } : {}),
            ...(o.warmup !== undefined ? { warmupMs: Math.round(o.warmup * 1000) } : {}),
            ...(o.loss !== undefined ? { lossRate: o.loss } : {}),
            ...(o.joinSpacing !== undefined ? { joinSpacingMs: o.joinSpacing } : {}),
            ...(o.split !== undefined ? { splitShare: o.split } : {}),
            ...(o.splitSeconds !== undefined ? { splitMs: Math.round(o.splitSeconds * 1000) } : {}),
            traceDir: o.reportDir,
            ...(progress !== undefined ? { onProgress: progress } : {}),
          },
          o.checkDeterminism === true,
        );
      }
      const path = writeReport(report, o.reportDir);
      if (!o.json) {
        out(`DRP Tester ${tester}`);
        out(tester === 5 ? tester5Table(report) : summaryTable(report));
        if (report.determinism !== undefined) out(`  determinism: ${String(report.determinism)}`);
        out(`  report: ${path}`);
      }
      if (report.failures.length > 0) {
        out(`FAILED (${report.failures.length}):`);
        for (const f of report.failures) out(f);
        out(`seed ${report.seed}; replay: ${report.replay}`);
        const trace = typeof report.trace === 'string' && report.trace !== '' ? report.trace : undefined;
        if (trace !== undefined) {
          out(`trace: ${trace}`);
          if (report.transport === 'sim') {
            out(`look at the failure: npm run drp-sim -- replay ${trace} --open   (the 3-D view)`);
            out(`              or: npm run drp-sim -- vision --text ${trace}   (the route as a table)`);
            out(`          shrink: npm run drp-sim -- shrink ${trace}`);
          }
        }
        process.exitCode = 1;
      }
      if (o.json) out(JSON.stringify(report));
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram((line) => console.log(line));
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError || e instanceof InvalidArgumentError) {
      process.stderr.write(`drp-tester: error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Error && 'code' in e && (e as { code: unknown }).code === 'portInUse') {
      process.stderr.write(`drp-tester: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
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
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `drp-tester: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
