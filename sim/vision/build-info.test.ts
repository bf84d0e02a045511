import { describe, expect, it } from 'vitest';
import { traceHeader } from '../../src/vision/trace.js';
import { buildDifferences, projectCommit, projectSourceHash } from './build-info.js';

const other = '0123456789abcdef0123456789abcdef01234567';

describe('the replay key against this build', () => {
  it('hashes the sources that shape a run, the same way twice', () => {
    const h = projectSourceHash();
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(projectSourceHash()).toBe(h);
  });

  it('another commit with the same sources matches; with other sources it is named', () => {
    const node = process.version;
    const same = traceHeader(
      's',
      {},
      { projectCommit: other, nodeVersion: node, sourceHash: projectSourceHash()! },
    );
    expect(buildDifferences(same)).toEqual([]);
    const differs = traceHeader(
      's',
      {},
      { projectCommit: other, nodeVersion: node, sourceHash: 'ffffffffffffffff' },
    );
    const d = buildDifferences(differs);
    if (projectCommit() !== undefined) {
      expect(d.map((x) => x.part)).toEqual(['commit']);
      expect(d[0]!.note).toMatch(/the code differs/);
    }
    const noHash = traceHeader('s', {}, { projectCommit: other, nodeVersion: node });
    if (projectCommit() !== undefined)
      expect(buildDifferences(noHash).map((x) => x.part)).toEqual(['commit']);
  });

  it('another Node version is named', () => {
    const h = traceHeader('s', {}, { nodeVersion: 'v18.0.0', sourceHash: projectSourceHash()! });
    expect(buildDifferences(h).map((x) => x.part)).toEqual(['node']);
  });
});
