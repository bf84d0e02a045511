/**
 * `npm run bench -- <name> [--json] [args...]`: runs `bench/<name>.ts`. With `--json` the last line of
 * output is one JSON object of the benchmark's figures.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bench, printTable } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));

function available(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.js') && !['run.js', 'lib.js'].includes(f) && !f.endsWith('.test.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  const name = rest[0];
  const names = available();
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(`usage: npm run bench -- <name> [--json] [args...]\nbenchmarks: ${names.join(', ')}`);
    return name === undefined ? 2 : 0;
  }
  if (!names.includes(name)) {
    console.error(`unknown benchmark '${name}'; available: ${names.join(', ')}`);
    return 2;
  }
  const mod = (await import(`./${name}.js`)) as { run: Bench };
  const figures = await mod.run({ json, args: rest.slice(1) });
  if (json) console.log(JSON.stringify(figures));
  else printTable(`bench ${name}`, figures);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
