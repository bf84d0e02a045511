import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile } from './tidy.js';

const root = join(import.meta.dirname, '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('tidy', () => {
  it('the repository breaks no determinism or layer rule', () => {
    const files = ['src', 'sim', 'testers', 'bench'].flatMap((d) => {
      try {
        return tsFiles(join(root, d));
      } catch {
        return [];
      }
    });
    expect(files.length).toBeGreaterThan(5);
    const violations = files.flatMap((f) => checkFile(relative(root, f), readFileSync(f, 'utf8')));
    expect(violations.map((v) => `${v.file}:${v.line} [${v.rule}] ${v.message}`)).toEqual([]);
  });

  describe('catches planted violations', () => {
    const cases: [string, string, RegExp][] = [
      ['src/drp/a.ts', 'const t = Date.now();', /Date/],
      ['src/id/a.ts', 'const x = Math.random();', /Math\.random/],
      ['src/wire/a.ts', 'const t = performance.now();', /performance/],
      ['src/dmp/a.ts', 'setTimeout(() => {}, 5);', /timer/],
      ['src/vision/a.ts', 'if (process.env.X) {}', /process/],
      ['src/crypto/a.ts', "import { randomBytes } from 'node:crypto';\nrandomBytes(4);", /unseeded/],
      ['src/drp/a.ts', "import { createSocket } from 'node:dgram';", /node:dgram/],
      ['src/pow/a.ts', "import { readFileSync } from 'node:fs';", /node:fs/],
      ['src/drp/a.ts', "import * as net from 'node:net';", /node:net/],
      ['src/drp/a.ts', 'async function f() { await g(); }', /async/],
      ['src/id/a.ts', "import { Engine } from '../drp/engine.js';", /tier/],
      ['src/drp/a.ts', "import { UdpTransport } from '../net/udp-transport.js';", /tier/],
      ['src/net/a.ts', "import { Kernel } from '../../sim/kernel/kernel.js';", /src\/ imports sim/],
      ['sim/kernel/a.ts', "import { tester } from '../../testers/t1.js';", /sim\/ imports testers/],
    ];
    for (const [file, source, message] of cases) {
      it(`${file}: ${source.split('\n').at(-1)}`, () => {
        const v = checkFile(file, source);
        expect(v.length).toBeGreaterThan(0);
        expect(v.map((x) => x.message).join('; ')).toMatch(message);
      });
    }

    it('ignores comments, strings and tests; allows downward imports', () => {
      expect(checkFile('src/drp/a.ts', '// Date.now() is not used here\nconst s = "process";')).toEqual([]);
      expect(checkFile('src/drp/a.test.ts', 'const t = Date.now();')).toEqual([]);
      expect(
        checkFile('src/drp/a.ts', "// see import 'node:fs' in the driver\n/* from 'node:dgram' */"),
      ).toEqual([]);
      expect(checkFile('src/drp/a.ts', "import { x } from '../id/geometry.js';")).toEqual([]);
      expect(checkFile('src/net/a.ts', "import { createSocket } from 'node:dgram';")).toEqual([]);
      expect(checkFile('sim/a.ts', "import { x } from '../src/drp/engine.js';")).toEqual([]);
    });
  });
});
