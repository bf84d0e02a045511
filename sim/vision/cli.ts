/**
 * The developer's vision on the command line (registered into drp-sim):
 *
 *   drp-sim replay <trace> [--pain N] [--open] [--port P]   rerun up to the pain and check the event hash
 *   drp-sim vision --text <trace> [--pain N]                the failed route as a table, the pain's records
 *   drp-sim vision [--port P] [--trace F] [--reports DIR]   serve the visualizer on 127.0.0.1
 *   drp-sim shrink <trace> [--pain N] [--out F]             the smallest variant that still fails alike
 *
 * A trace that cannot be read gives one sentence and exit code 1, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { type PainSnapshot, readVisionTrace, type VisionTraceResult } from '../../src/vision/snapshot.js';
import { countOption } from '../cli/args.js';
import { repoRoot } from './build-info.js';
import {
  describeReplayDivergence,
  keyDifferences,
  type ReplayResult,
  type ReplayScenarios,
  replayToPain,
  scenarioOf,
} from './replay.js';
import { startVisionServer, type VisionServer } from './server.js';
import { shrink } from './shrink.js';
import { painLine, renderTextVision, runEpochMs } from './text.js';

/** A command that ran and failed for a reason it states (exit code 1, no stack trace). */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

/** The built web app. */
export const visionAssetsDir = join(repoRoot, 'dist', 'vision');

export type OkTrace = Extract<VisionTraceResult, { ok: true }>;

/** Reads a trace file or fails with a sentence naming the file and what is wrong with it. */
export function loadTrace(path: string): OkTrace {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandFailure(
      `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : String(code ?? e)}`,
    );
  }
  const t = readVisionTrace(bytes);
  if (!t.ok) throw new CommandFailure(`cannot use ${path}: ${t.message}`);
  return t;
}

function pickPain(trace: OkTrace, path: string, n: number | undefined): PainSnapshot {
  if (trace.snapshots.length === 0) {
    throw new CommandFailure(
      `${path} holds no pain snapshot${trace.truncated ? ' (and is truncated: the run did not close it)' : ''}`,
    );
  }
  const number = n ?? 1;
  const s = trace.snapshots.find((x) => x.number === number);
  if (s === undefined) {
    throw new CommandFailure(`${path} has no pain #${number} (it has #1..#${trace.snapshots.length})`, 2);
  }
  return s;
}

export interface ReplayCommandResult {
  readonly lines: string[];
  readonly result: ReplayResult;
  readonly ok: boolean;
}

/** Replays `path` to pain `painNumber`; the lines to print and whether the hash matched. */
export function replayTrace(
  path: string,
  scenarios: ReplayScenarios,
  painNumber?: number,
  onProgress?: (done: number, total: number) => void,
): ReplayCommandResult {
  const trace = loadTrace(path);
  const h = trace.header;
  const lines: string[] = [];
  const found = scenarioOf(h, scenarios);
  if (!found.ok) throw new CommandFailure(`cannot replay ${path}: ${found.message}`);
  const scenario = found.scenario;
  const pain = pickPain(trace, path, painNumber);
  const epochMs = runEpochMs(trace);
  lines.push(
    `trace ${path}: scenario ${scenario.name}, seed ${h.seed}${trace.truncated ? ' (truncated)' : ''}`,
  );
  const diffs = keyDifferences(h, scenario);
  if (diffs.length === 0) lines.push('replay key: matches this build (commit, Node version, configuration)');
  for (const d of diffs) {
    lines.push(`replay key: ${d.part}: recorded ${d.recorded}, this build ${d.current} (${d.note})`);
  }
  if (diffs.some((d) => d.part === 'configuration' && d.note.startsWith('this build cannot'))) {
    throw new CommandFailure(`${lines.join('\n')}\ncannot replay: the configuration does not fit this build`);
  }
  lines.push(`replaying to pain ${painLine(pain, epochMs)}`);
  lines.push(
    `  (event #${pain.eventIndex}; rerun from scratch: ${scenario.command(String(h.seed), h.config)})`,
  );
  const build = scenario.build(String(h.seed), h.config);
  const opts = onProgress === undefined ? {} : { onProgress };
  const result = replayToPain(build, pain, trace.runLog, opts);
  const secs = (result.wallMs / 1000).toFixed(1);
  if (result.hashMatches) {
    lines.push(
      `event hash at pain #${pain.number}: recorded ${result.recordedHash}, replay ${result.replayHash}: ` +
        `MATCH after ${result.eventsReplayed.toLocaleString('en-US')} events (${secs} s)`,
    );
    lines.push(
      result.painReproduced
        ? `the pain recurs: ${result.replaySnapshot!.pain.peer}: ${result.replaySnapshot!.pain.message}`
        : 'the pain was not raised again at that event (the capture level or configuration differs?)',
    );
  } else {
    lines.push(
      `event hash at pain #${pain.number}: recorded ${result.recordedHash}, replay ${result.replayHash}: DIFFERS`,
    );
    if (result.divergence !== undefined) lines.push(describeReplayDivergence(result.divergence));
  }
  return { lines, result, ok: result.hashMatches };
}

async function serveUntilInterrupted(
  server: VisionServer,
  url: string,
  out: (s: string) => void,
): Promise<void> {
  out(`vision: ${url}`);
  out('(serving on 127.0.0.1; Ctrl-C stops)');
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Shrinks the run of `path` to the smallest variant that raises the same kind of pain; writes its trace. */
export function shrinkTrace(
  path: string,
  scenarios: ReplayScenarios,
  opts: { pain?: number; out?: string; runsMax?: number; wallMsMax?: number; onStep?: (s: string) => void },
): { lines: string[]; out: string; size: number; originalSize: number } {
  const trace = loadTrace(path);
  const found = scenarioOf(trace.header, scenarios);
  if (!found.ok) throw new CommandFailure(`cannot shrink ${path}: ${found.message}`);
  const scenario = found.scenario;
  if (scenario.record === undefined || scenario.shrinkVariants === undefined) {
    throw new CommandFailure(
      `cannot shrink ${path}: scenario '${scenario.name}' proposes no smaller variants`,
    );
  }
  const pain = pickPain(trace, path, opts.pain);
  const seed = String(trace.header.seed);
  const r = shrink(scenario, seed, trace.header.config, pain, {
    ...(opts.runsMax !== undefined ? { runsMax: opts.runsMax } : {}),
    ...(opts.wallMsMax !== undefined ? { wallMsMax: opts.wallMsMax } : {}),
    ...(opts.onStep !== undefined ? { onStep: opts.onStep } : {}),
  });
  const out = opts.out ?? join('reports', 'shrunk', `${basename(path).replace(/\.trace$/, '')}-shrunk.trace`);
  scenario.record(r.seed, r.config, out);
  const lines = [
    `pain kind: ${r.kind}`,
    `smallest failing case: size ${r.size} (from ${r.originalSize}) after ${r.runs} runs, seed ${r.seed}`,
    `configuration: ${JSON.stringify(r.config)}`,
    `trace: ${out}`,
    `replay: drp-sim replay ${out}`,
    `rerun:  ${scenario.command(r.seed, r.config)}`,
  ];
  return { lines, out, size: r.size, originalSize: r.originalSize };
}

export function registerVisionCommands(program: Command, scenarios: ReplayScenarios): void {
  const out = (s: string): void => console.log(s);
  program
    .command('replay')
    .description(
      'rerun a trace from its replay key (seed, configuration) up to a pain and check the event hash ' +
        'matches the recording there, or name the first diverging event',
    )
    .argument('<trace>', 'a trace file written by a tester or `drp-sim sample`')
    .option('--pain <n>', 'which pain (1-based; default 1)', countOption('--pain', 1, 1e6))
    .option('--open', 'then serve the visualizer on 127.0.0.1 with this trace and print its URL')
    .option('--port <p>', 'port for --open (default: any free port)', countOption('--port', 0, 65535), 0)
    .option('--reports <dir>', 'traces listed by the visualizer', 'reports')
    .action(async (path: string, o: { pain?: number; open?: boolean; port: number; reports: string }) => {
      let last = Date.now();
      const progress = (done: number, total: number): void => {
        if (Date.now() - last < 2000) return;
        last = Date.now();
        process.stderr.write(
          `replay: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events\n`,
        );
      };
      const r = replayTrace(path, scenarios, o.pain, progress);
      for (const l of r.lines) out(l);
      if (!r.ok) process.exitCode = 1;
      if (o.open) {
        const server = await startVisionServer({
          port: o.port,
          assetsDir: visionAssetsDir,
          reportsDir: o.reports,
          files: [path],
        });
        const name = server.nameOf(path) ?? '';
        await serveUntilInterrupted(
          server,
          `${server.url}#trace=${encodeURIComponent(name)}&pain=${r.result.pain.number}`,
          out,
        );
      }
    });
  program
    .command('shrink')
    .description(
      'search smaller variants of a failing run (fewer peers, shorter phases, fewer faults, other seeds) ' +
        'that still end in the same kind of pain; write the smallest as a new trace with its replay command',
    )
    .argument('<trace>', 'a trace with pain snapshots')
    .option('--pain <n>', 'which pain (1-based; default 1)', countOption('--pain', 1, 1e6))
    .option(
      '--out <file>',
      "where the smallest case's trace goes (default reports/shrunk/<name>-shrunk.trace)",
    )
    .option('--runs <n>', 'runs at most', countOption('--runs', 1, 10_000), 40)
    .option('--minutes <m>', 'wall minutes at most', countOption('--minutes', 1, 10_000), 10)
    .action((path: string, o: { pain?: number; out?: string; runs: number; minutes: number }) => {
      const r = shrinkTrace(path, scenarios, {
        ...(o.pain !== undefined ? { pain: o.pain } : {}),
        ...(o.out !== undefined ? { out: o.out } : {}),
        runsMax: o.runs,
        wallMsMax: o.minutes * 60_000,
        onStep: (s) => process.stderr.write(`${s}\n`),
      });
      for (const l of r.lines) out(l);
    });
  program
    .command('vision')
    .description(
      'the developer vision: serve the 3-D visualizer of traces on 127.0.0.1, or with --text print a ' +
        "trace's failed route as a table and the pain's records",
    )
    .option('--text <trace>', 'print this trace as text instead of serving')
    .option('--pain <n>', 'which pain (1-based; default 1)', countOption('--pain', 1, 1e6))
    .option(
      '--port <p>',
      'port to serve on (default 5173; 0: any free port)',
      countOption('--port', 0, 65535),
      5173,
    )
    .option('--trace <file>', 'also list this trace file (and open it)')
    .option('--reports <dir>', 'traces listed (recursively)', 'reports')
    .action(async (o: { text?: string; pain?: number; port: number; trace?: string; reports: string }) => {
      if (o.text !== undefined) {
        const t = loadTrace(o.text);
        out(renderTextVision(t, o.pain ?? 1));
        if (o.pain !== undefined && !t.snapshots.some((s) => s.number === o.pain)) process.exitCode = 2;
        return;
      }
      const server = await startVisionServer({
        port: o.port,
        assetsDir: visionAssetsDir,
        reportsDir: o.reports,
        ...(o.trace !== undefined ? { files: [o.trace] } : {}),
      });
      let url = server.url;
      if (o.trace !== undefined) {
        loadTrace(o.trace);
        url += `#trace=${encodeURIComponent(server.nameOf(o.trace) ?? '')}&pain=${o.pain ?? 1}`;
      }
      await serveUntilInterrupted(server, url, out);
    });
}
