/**
 * The tidy checks: mechanical rules that review would otherwise have to remember.
 *
 * 1. Determinism: the protocol core (src/{seams,id,wire,crypto,pow,drp,dmp,vision}) reads no clock, no
 *    random source, no timer, no process state and no socket or file it was not handed.
 * 2. Layers (docs/ARCHITECTURE.md): seams ← crypto, id, wire, pow, vision ← drp, dmp ← net, messenger;
 *    src never imports sim/, testers/, bench/ or the vision/ app; sim never imports testers/ or bench/.
 *
 * Tests (`*.test.ts`) are exempt from both: they may use timers and the simulator's seeded Rng.
 */
import { posix } from 'node:path';

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly rule: 'determinism' | 'layer' | 'import';
  readonly message: string;
}

export const coreAreas = ['seams', 'crypto', 'id', 'wire', 'pow', 'vision', 'drp', 'dmp'] as const;

/** Tier of each area of src/: an area may import areas of its tier or below. */
const srcTier: Record<string, number> = {
  seams: 0,
  crypto: 1,
  id: 1,
  wire: 1,
  pow: 1,
  vision: 1,
  drp: 2,
  dmp: 2,
  net: 3,
  messenger: 4,
};

/** What a core file may import besides relative paths. */
const coreExternalAllowed = [
  /^node:crypto$/,
  /^node:buffer$/,
  /^@noble\/(curves|hashes)(\/.*)?$/,
  /^@msgpack\/msgpack$/,
];

const forbiddenInCore: { pattern: RegExp; what: string }[] = [
  { pattern: /\bDate\b/, what: 'Date (a clock)' },
  { pattern: /\bMath\.random\b/, what: 'Math.random' },
  { pattern: /\bperformance\b/, what: 'performance (a clock)' },
  {
    pattern: /\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/,
    what: 'a timer',
  },
  { pattern: /\bprocess\b/, what: 'process' },
  {
    pattern:
      /\b(randomBytes|randomFill|randomFillSync|randomUUID|randomInt|getRandomValues|generateKeyPair|generateKeyPairSync|generateKey|generateKeySync|generatePrime)\b/,
    what: 'an unseeded random source',
  },
  {
    pattern: /\basync\b|\bawait\b|\bPromise\b/,
    what: 'async code (promise scheduling is a queue the simulator cannot order)',
  },
];

/** Blanks out comments and (unless `keepStrings`) the contents of string literals, keeping line structure. */
export function stripCommentsAndStrings(src: string, keepStrings = false): string {
  let out = '';
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') i++;
    } else if (c === '/' && d === '*') {
      i += 2;
      while (i < n && !(src[i] === '*' && src[i + 1] === '/')) {
        if (src[i] === '\n') out += '\n';
        i++;
      }
      i += 2;
    } else if (c === "'" || c === '"' || c === '`') {
      out += c;
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\') {
          if (keepStrings) out += src[i]!;
          i++;
        }
        if (keepStrings) out += src[i] ?? '';
        else if (src[i] === '\n') out += '\n';
        i++;
      }
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Import specifiers with their line numbers (static, re-export and dynamic imports). */
export function importsOf(src: string): { spec: string; line: number }[] {
  const found: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\1/g;
  for (const m of src.matchAll(re)) {
    const line = src.slice(0, m.index).split('\n').length;
    found.push({ spec: m[2]!, line });
  }
  return found;
}

/** `src/drp`, `sim`, `testers`, ... for a repo-relative path. */
function areaOf(path: string): { top: string; sub: string | undefined } {
  const parts = path.split('/');
  return { top: parts[0]!, sub: parts[0] === 'src' ? parts[1] : undefined };
}

export function checkFile(path: string, source: string): Violation[] {
  const violations: Violation[] = [];
  const isTest = /\.test\.ts$/.test(path);
  if (isTest) return violations;
  const { top, sub } = areaOf(path);
  const isCore = top === 'src' && sub !== undefined && (coreAreas as readonly string[]).includes(sub);
  const code = stripCommentsAndStrings(source);

  if (isCore) {
    const lines = code.split('\n');
    lines.forEach((text, idx) => {
      for (const f of forbiddenInCore) {
        if (f.pattern.test(text)) {
          violations.push({
            file: path,
            line: idx + 1,
            rule: 'determinism',
            message: `core file uses ${f.what}`,
          });
        }
      }
    });
  }

  for (const { spec, line } of importsOf(stripCommentsAndStrings(source, true))) {
    if (spec.startsWith('.')) {
      const target = posix.normalize(posix.join(posix.dirname(path), spec));
      const t = areaOf(target);
      if (top === 'src') {
        if (t.top !== 'src') {
          violations.push({ file: path, line, rule: 'layer', message: `src/ imports ${t.top}/ (${spec})` });
        } else if (sub !== undefined && t.sub !== undefined) {
          const from = srcTier[sub];
          const to = srcTier[t.sub];
          if (from === undefined || to === undefined) {
            violations.push({
              file: path,
              line,
              rule: 'layer',
              message: `unknown src area '${from === undefined ? sub : t.sub}': add it to the layer table`,
            });
          } else if (to > from) {
            violations.push({
              file: path,
              line,
              rule: 'layer',
              message: `src/${sub} (tier ${from}) imports src/${t.sub} (tier ${to}) (${spec})`,
            });
          }
        }
      } else if (top === 'sim' && (t.top === 'testers' || t.top === 'bench' || t.top === 'vision')) {
        violations.push({ file: path, line, rule: 'layer', message: `sim/ imports ${t.top}/ (${spec})` });
      } else if (top === 'testers' && (t.top === 'bench' || t.top === 'vision')) {
        violations.push({ file: path, line, rule: 'layer', message: `testers/ imports ${t.top}/ (${spec})` });
      }
    } else if (isCore && !coreExternalAllowed.some((re) => re.test(spec))) {
      violations.push({ file: path, line, rule: 'import', message: `core file imports '${spec}'` });
    }
  }
  return violations;
}
