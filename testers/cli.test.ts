/** The drp-tester command line as a user meets it (the built CLI in a child process; `npm test` builds first). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'testers', 'cli.js');

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('drp-tester command line', () => {
  it.each([
    [['9'], /unknown tester '9'/],
    [['3', '--split', '0.7'], /--split/],
    [['3', '--loss', 'lots'], /--loss/],
    [['3', '--role', 'user', '--listen', '127.0.0.1:0'], /needs at least one --entry/],
    [['3', '--role', 'entry', '--listen', '999.1.1.1:5'], /IPv4 host:port/],
  ])('%j: one line on stderr, exit 2', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a red tester-3 run (a network split) names its seed, the replay command, the trace and how to look at it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcomms-cli-'));
    const args =
      '3 --seed 7 --peers 30 --entry-peers 4 --temp-peers 4 --minutes 0.5 --warmup 20 --split 0.1 --split-seconds 30';
    const r = run([...args.split(' '), '--report-dir', dir]);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/FAILED/);
    expect(r.out).toContain(`replay: drp-tester ${args.replace('3 ', '3 --transport sim ')}`);
    const trace = join(dir, 'tester3-sim-7.trace');
    expect(r.out).toContain(`trace: ${trace}`);
    expect(r.out).toContain(`npm run drp-sim -- replay ${trace} --open`);
    expect(existsSync(trace)).toBe(true);
  }, 120_000);
});
