/**
 * What build wrote a trace, and does it match this one: the project commit (`git rev-parse HEAD` at run
 * time, with `+dirty` when tracked files have uncommitted changes), a hash of the sources that shape a run,
 * and the Node.js version. A trace committed to the repository names the commit before its own, so the
 * source hash is what says whether the code is still the same. Outside the core on purpose: it runs a
 * process and reads the files and the environment.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceHeader } from '../../src/vision/trace.js';

/** The repository root (this file is sim/vision/build-info.ts, or dist/sim/vision/build-info.js). */
export const repoRoot = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join('dist', 'sim')}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return up;
})();

let commitCache: string | undefined | null = null;

/** `<commit>` or `<commit>+dirty`; undefined outside a git checkout. Computed once per process. */
export function projectCommit(): string | undefined {
  if (commitCache !== null) return commitCache;
  try {
    const opts = {
      cwd: repoRoot,
      encoding: 'utf8' as const,
      stdio: ['ignore', 'pipe', 'ignore'] as ('ignore' | 'pipe')[],
      timeout: 5000,
    };
    const head = execFileSync('git', ['rev-parse', 'HEAD'], opts).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).trim() !== '';
    commitCache = /^[0-9a-f]{7,64}$/.test(head) ? `${head}${dirty ? '+dirty' : ''}` : undefined;
  } catch {
    commitCache = undefined;
  }
  return commitCache;
}

/** Directories whose TypeScript (tests left out) shapes a run: what `projectSourceHash` covers. */
export const sourceHashDirs = ['src', 'sim', 'testers'] as const;
/** Files hashed at most (a bound on the walk; the project has a few hundred). */
export const sourceHashFilesMax = 10_000;

let sourceHashCache: string | undefined | null = null;

/**
 * The first 16 hex digits of SHA-256 over the sorted paths and contents of the `.ts` files (not
 * `.test.ts`) under `sourceHashDirs`; undefined when the sources are not there (an installed build).
 * Computed once per process.
 */
export function projectSourceHash(): string | undefined {
  if (sourceHashCache !== null) return sourceHashCache;
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(repoRoot, rel), { withFileTypes: true })) {
      if (files.length >= sourceHashFilesMax) return;
      const path = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) files.push(path);
    }
  };
  try {
    for (const d of sourceHashDirs) walk(d);
    files.sort();
    const h = createHash('sha256');
    for (const f of files) {
      h.update(`${f}\0`);
      h.update(readFileSync(join(repoRoot, f)));
      h.update('\0');
    }
    sourceHashCache = files.length === 0 ? undefined : h.digest('hex').slice(0, 16);
  } catch {
    sourceHashCache = undefined;
  }
  return sourceHashCache;
}

export interface KeyDifference {
  readonly part: 'commit' | 'node' | 'configuration';
  readonly recorded: string;
  readonly current: string;
  /** A word on what follows from it. */
  readonly note: string;
}

/** Where a trace's replay key (besides the configuration, which the scenario checks) differs from this build. */
export function buildDifferences(header: TraceHeader): KeyDifference[] {
  const out: KeyDifference[] = [];
  const rec = header.createdBy.projectCommit;
  const cur = projectCommit();
  const base = (c: string | undefined): string => (c ?? '').replace(/\+dirty$/, '');
  const recSources = header.createdBy.sourceHash;
  const sameSources = recSources !== undefined && recSources === projectSourceHash();
  if (sameSources) {
    // Another commit, or uncommitted changes, but the sources that shape a run are the same.
  } else if (rec === undefined || cur === undefined) {
    if (rec !== cur) {
      out.push({
        part: 'commit',
        recorded: rec ?? '(not recorded)',
        current: cur ?? '(not a git checkout)',
        note: 'cannot tell whether the code is the same',
      });
    }
  } else if (base(rec) !== base(cur)) {
    out.push({ part: 'commit', recorded: rec, current: cur, note: 'the code differs: the run may diverge' });
  } else if (rec.endsWith('+dirty') || cur.endsWith('+dirty')) {
    out.push({
      part: 'commit',
      recorded: rec,
      current: cur,
      note: 'same commit, but uncommitted changes were present: the run may diverge',
    });
  }
  const node = header.createdBy.nodeVersion;
  if (node !== process.version) {
    out.push({
      part: 'node',
      recorded: node ?? '(not recorded)',
      current: process.version,
      note: 'Math functions and GC timing may differ between engine versions',
    });
  }
  return out;
}
