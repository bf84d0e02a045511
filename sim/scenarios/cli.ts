/**
 * `drp-sim scenario <name>|all`: the bad-internet scenario suite (./bad-internet.ts). Prints each run's
 * table (progress on stderr), writes its report under `reports/`, and with `--markdown <file>` writes the
 * results document (docs/scenarios.md is produced this way). Exit code 1 when a run misses a must-show.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../cli/args.js';
import {
  runScenario,
  type ScenarioName,
  type ScenarioReport,
  type ScenarioSize,
  scenarioMarkdown,
  scenarioNames,
  scenarioOptions,
  scenarioTable,
} from './bad-internet.js';

/** The results document: what was run, the table, and how to reproduce it. */
export function scenariosDocument(reports: readonly ScenarioReport[], command: string): string {
  const sizes = [...new Set(reports.map((r) => r.size))];
  const lines = [
    '# Bad-internet scenarios: results',
    '',
    `Produced by \`${command}\` (deterministic: the same seed gives the same table, event for event; the wall`,
    'times are of the machine that ran it). Each run is one seeded simulation of messenger users on the DRP',
    'network (sim/scenarios/bad-internet.ts); `drp-sim scenario <name> --seed <s>` replays one row.',
    '',
    'Must show, per run: at least 99.9% of the messages between online users delivered within 60 s',
    '(online: both apps running from 2 minutes before the send until 60 s after), 100% of the messages to or',
    'from a sleeper delivered after it wakes, and no message delivered twice.',
    '',
    '| scenario | what goes wrong |',
    '|---|---|',
    '| loss10-jitter100 | every uplink loses 10% of datagrams and adds exponential jitter (mean 100 ms) |',
    '| p2p-drop-isp-30 | 30% of users behind an ISP that drops UDP between consumer endpoints |',
    '| nat-symmetric-30 | 30% of users behind symmetric NATs (the others: open, full cone, restricted, port-restricted) |',
    "| sleepers-30 | 30% of users' phones stop the app for 8 h a night (CI: a 4-minute night) |",
    '| all-combined | all of the above at once |',
    '',
  ];
  for (const size of sizes) {
    const rs = reports.filter((r) => r.size === size);
    const first = rs[0]!;
    lines.push(
      size === 'ci'
        ? `## CI-sized variant (\`npm test\`): ${first.peers} peers, ${first.pairs} pairs`
        : `## Full variant (\`npm run test:slow\`): ${first.peers} peers, ${first.pairs} pairs`,
      '',
      scenarioMarkdown(rs),
      '',
    );
  }
  lines.push(
    'Columns: *online ≤ 60 s* — online messages that arrived within 60 s; *sleepers delivered* — messages',
    'to or from a user whose app was stopped around the send, delivered by the end of the run; *relayed* —',
    'share of arrived messages that came over a relayed channel; *fallbacks* — channels that moved from a',
    'direct path to the relay (punching failed, the path went silent, or data timed out).',
    '',
  );
  return lines.join('\n');
}

export function registerScenarioCommand(program: Command): void {
  program
    .command('scenario <name>')
    .description(
      `the bad-internet scenario suite: ${scenarioNames.join(', ')}, or all; messenger users exchange ` +
        'messages over DRP while the network misbehaves; prints delivery within 60 s for online users, ' +
        'delivery to sleepers after they wake, duplicates, relayed share',
    )
    .option('--size <size>', 'ci (bounded, as npm test runs it), full (as npm run test:slow), or both', 'ci')
    .option('--full', 'the full variant (same as --size full)')
    .option('--seed <s>', 'root seed', '1')
    .option('--report-dir <dir>', 'where the JSON reports go', 'reports')
    .option('--markdown <file>', 'also write the results document (e.g. docs/scenarios.md)')
    .option('--json', 'print one JSON object (all reports) as the last line')
    .action(
      (
        name: string,
        o: {
          size: string;
          full?: boolean;
          seed: string;
          reportDir: string;
          markdown?: string;
          json?: boolean;
        },
      ) => {
        const names: readonly ScenarioName[] =
          name === 'all'
            ? scenarioNames
            : scenarioNames.includes(name as ScenarioName)
              ? [name as ScenarioName]
              : [];
        if (names.length === 0) {
          throw new UsageError(`unknown scenario '${name}'; one of ${scenarioNames.join(', ')}, all`);
        }
        const sizeArg = o.full === true ? 'full' : o.size;
        if (!['ci', 'full', 'both'].includes(sizeArg)) {
          throw new UsageError(`--size must be ci, full or both, got '${sizeArg}'`);
        }
        const sizes: ScenarioSize[] = sizeArg === 'both' ? ['ci', 'full'] : [sizeArg as ScenarioSize];
        const reports: ScenarioReport[] = [];
        for (const size of sizes) {
          for (const n of names) {
            const r = runScenario(scenarioOptions(n, size, o.seed), (t) => process.stderr.write(`${t}\n`));
            const { routeText, ...report } = r;
            reports.push(report);
            mkdirSync(o.reportDir, { recursive: true });
            const path = join(o.reportDir, `scenario-${n}-${size}-${o.seed}.json`);
            writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
            if (o.json !== true) {
              console.log(`scenario ${n} (${size}), seed ${o.seed}`);
              console.log(scenarioTable(report));
              report.failedDeliveries.slice(0, 5).forEach((f, i) => {
                console.log(
                  `  failed delivery: ${f.from} → ${f.to} (${f.messageClass}), sent at ${f.sentAtS} s`,
                );
                for (const h of f.senderHistory.slice(-8)) console.log(`    ${h}`);
                for (const line of (routeText[i] ?? '').split('\n')) console.log(`    ${line}`);
              });
              console.log(`  report: ${path}`);
              console.log(`  replay: ${report.replay}`);
              console.log('');
            }
            if (report.failures.length > 0) process.exitCode = 1;
          }
        }
        if (o.markdown !== undefined) {
          const command =
            `npm run drp-sim -- scenario ${name}${sizeArg !== 'ci' ? ` --size ${sizeArg}` : ''}` +
            `${o.seed !== '1' ? ` --seed ${o.seed}` : ''} --markdown ${o.markdown}`;
          mkdirSync(dirname(o.markdown), { recursive: true });
          writeFileSync(o.markdown, scenariosDocument(reports, command));
          if (o.json !== true) console.log(`results document: ${o.markdown}`);
        }
        if (o.json === true) console.log(JSON.stringify(reports.length === 1 ? reports[0] : reports));
      },
    );
}
