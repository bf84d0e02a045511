import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { routingPolicyDefault } from '../../src/drp/policy.js';
import { SeededRng } from '../kernel/rng.js';
import {
  buildKeyOf,
  byteChunks,
  CheckpointError,
  type CheckpointFault,
  checkpointMagic,
  inspectCheckpoint,
  loadCheckpoint,
  pad8,
} from './checkpoint.js';
import { shellWord } from './cli.js';
import { FastRng } from './fast-rng.js';
import { joinParamsFor, ScaleNetwork } from './model.js';
import { describePosition, runScale, type ScaleOptions, scaleOptionsDefault, stripTimings } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'drp-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A run that stops (like Ctrl-C) at the first progress check of `phase` at or past `at`. */
function runStoppingAt(opts: ScaleOptions, path: string, phase: string | null, at = 0, notes: string[] = []) {
  return runScale(opts, {
    progress: (p, done) => !(p === phase && done >= at),
    checkpoint: { path, everyMs: 1e9 },
    note: (t) => notes.push(t),
  });
}

const expectFault = (f: () => unknown, fault: CheckpointFault, text: RegExp): void => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).fault).toBe(fault);
    expect((err as Error).message).toMatch(text);
    return;
  }
  expect.unreachable(`expected a ${fault} checkpoint error`);
};

describe('the resume command', () => {
  it('quotes what a shell would split or expand', () => {
    expect(
      ['drp-sim', '--peers', '1e8', '--checkpoint', "/tmp/a b/it's.ckpt", '--seed', 'x;y'].map(shellWord),
    ).toEqual(['drp-sim', '--peers', '1e8', '--checkpoint', `'/tmp/a b/it'\\''s.ckpt'`, '--seed', "'x;y'"]);
  });
});

describe('checkpoint byte views', () => {
  it('cover an array past 2^32 bytes in views a typed array can hold', () => {
    // 4.4 GB of address space, never touched: the slot array of 1e8 peers is 6.4 GB.
    const big = new Uint32Array(1.1e9);
    let total = 0;
    let views = 0;
    let largest = 0;
    for (const v of byteChunks(big, 2 ** 30)) {
      expect(v.byteOffset).toBe(total);
      total += v.byteLength;
      largest = Math.max(largest, v.byteLength);
      views++;
    }
    expect([total, views, largest]).toEqual([4.4e9, 5, 2 ** 30]);
    // Sizes past 2^32 bytes round up exactly (32-bit bit operations would wrap them).
    expect([pad8(6.4e9), pad8(6.4e9 + 3), pad8(2 ** 32 + 1), pad8(5)]).toEqual([
      6.4e9,
      6.4e9 + 8,
      2 ** 32 + 8,
      8,
    ]);
    const small = new Uint16Array(new ArrayBuffer(64), 8, 13);
    expect([...byteChunks(small, 10)].map((v) => [v.byteOffset, v.byteLength])).toEqual([
      [8, 10],
      [18, 10],
      [28, 6],
    ]);
  });
});

interface HeaderJson {
  version: number;
  position: { stage: string; round: number; index: number };
  state: { count: number; joined: number; deficitLength: number; rng: number[] };
}

/** The header of the checkpoint file at `path`. */
function headerOf(path: string): HeaderJson {
  const b = readFileSync(path);
  const at = checkpointMagic.length;
  return JSON.parse(b.subarray(at + 4, at + 4 + b.readUInt32LE(at)).toString('utf8')) as HeaderJson;
}

describe('build checkpoints with re-registrations pending', () => {
  it('a build stopped with a full deficit queue resumes to the uninterrupted one', () => {
    // Minimum = soft maximum: every accept evicts, and peers wait in the deficit queue between joins.
    const opts = scaleOptionsDefault({
      peers: 6000,
      routes: 500,
      stretchSamples: 0,
      seed: 'deficit',
      join: { minNeighbors: 14 },
    });
    const path = join(dir, 'deficit.ckpt');
    expect(runStoppingAt(opts, path, 'build', 4096).interrupted).toBe(true);
    expect(headerOf(path).state.deficitLength).toBeGreaterThan(0);
    const resumed = runStoppingAt(opts, path, null);
    expect(JSON.stringify(stripTimings(resumed))).toBe(JSON.stringify(stripTimings(runScale(opts))));
  }, 180_000);
});

describe('build checkpoints', () => {
  // Above 65,536 peers an upkeep round has a progress check (a place to stop) inside it.
  const opts = scaleOptionsDefault({
    peers: 70_000,
    routes: 500,
    stretchSamples: 0,
    seed: 'checkpoint',
    join: { recycleRounds: 2, refineRounds: 1 },
  });
  const params = joinParamsFor(opts.neighbors, opts.policy, opts.join);
  const key = buildKeyOf(opts.peers, opts.seed, params);
  const path = join(dir, 'build.ckpt');

  it('a build stopped in every stage and resumed each time ends as one uninterrupted build', () => {
    const whole = JSON.stringify(stripTimings(runScale(opts)));
    const notes: string[] = [];
    const stops: [string, number, string][] = [
      ['build', 8192, 'joins 8,192 of 70,000'],
      ['recycle 2', 65_536, 'recycling round 2, peer 65,536 of 70,000'],
      ['upkeep 1', 65_536, 'upkeep round 1, peer 65,536 of 70,000'],
    ];
    for (const [phase, at, where] of stops) {
      const r = runStoppingAt(opts, path, phase, at, notes);
      expect(r.interrupted).toBe(true);
      const info = inspectCheckpoint(path, key);
      expect(info).not.toBeNull();
      expect(describePosition(info!.position, opts.peers)).toBe(where);
    }
    const resumed = runStoppingAt(opts, path, null, 0, notes);
    expect(resumed.interrupted).toBe(false);
    expect(JSON.stringify(stripTimings(resumed))).toBe(whole);
    expect(inspectCheckpoint(path, key)?.position.stage).toBe('built');
    expect(notes.filter((n) => n.startsWith('checkpoint: resuming at'))).toHaveLength(3);
    // A finished build is routed on again without building.
    const again = runStoppingAt(opts, path, 'build', 0, notes);
    expect(notes.at(-1)).toMatch(/the build is finished there/);
    expect(JSON.stringify(stripTimings(again))).toBe(whole);
    expect(again.buildSeconds).toBeGreaterThan(0);
    // Six builds of 70,000 peers: ~30 s on a quiet machine, more beside other simulations.
  }, 180_000);

  it('refuses a checkpoint of another build, naming what differs', () => {
    expect(existsSync(path)).toBe(true);
    const other = buildKeyOf(
      opts.peers,
      'another seed',
      joinParamsFor(13, routingPolicyDefault, { minNeighbors: 12 }),
    );
    expectFault(
      () => inspectCheckpoint(path, other),
      'other-build',
      /seed "checkpoint" there, "another seed" here; minNeighbors 13 there, 12 here/,
    );
    expect(inspectCheckpoint(join(dir, 'absent.ckpt'), key)).toBeNull();
  });

  const fresh = (): ScaleNetwork => new ScaleNetwork(opts.peers, params, new FastRng(new SeededRng('x')));
  const damaged = (name: string, change: (b: Buffer) => Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, change(Buffer.from(readFileSync(path))));
    return p;
  };
  /** The file with its digest made right again after `change`: only the model's own checks can object. */
  const resealed = (name: string, change: (b: Buffer) => void): string =>
    damaged(name, (b) => {
      change(b);
      const body = b.subarray(0, b.length - 32);
      createHash('sha256')
        .update(body)
        .digest()
        .copy(b, b.length - 32);
      return b;
    });
  const headerEnd = (b: Buffer): number =>
    checkpointMagic.length + 4 + b.readUInt32LE(checkpointMagic.length);
  const dataStart = (b: Buffer): number => (headerEnd(b) + 7) & ~7;

  it('reads a file without occlusionWeight (written before it) as farthest-link eviction', () => {
    const setting = Buffer.from('"occlusionWeight":1.25,');
    const older = resealed('older.ckpt', (b) => {
      const at = b.indexOf(setting);
      expect(at).toBeGreaterThan(0);
      expect(at).toBeLessThan(headerEnd(b));
      b.fill(0x20, at, at + setting.length); // JSON whitespace: same length, the setting gone
    });
    const farthest = buildKeyOf(
      opts.peers,
      opts.seed,
      joinParamsFor(opts.neighbors, { ...opts.policy, occlusionWeight: 0 }, opts.join),
    );
    expect(inspectCheckpoint(older, farthest)?.position.stage).toBe('built');
    expectFault(() => inspectCheckpoint(older, key), 'other-build', /occlusionWeight 0 there, 1\.25 here/);
  });

  it('refuses damaged files with a typed reason', () => {
    const cases: [string, (b: Buffer) => Buffer, CheckpointFault, RegExp][] = [
      ['garbage', () => Buffer.from('hello\n'), 'not-a-checkpoint', /is not a drp-sim checkpoint/],
      ['cut', (b) => b.subarray(0, b.length - 1000), 'damaged', /cut short/],
      ['long', (b) => Buffer.concat([b, Buffer.alloc(8)]), 'damaged', /trailing bytes/],
      [
        'flipped',
        (b) => {
          b[dataStart(b) + 100] = b[dataStart(b) + 100]! ^ 1;
          return b;
        },
        'damaged',
        /digest does not match/,
      ],
      [
        'header',
        (b) => {
          b.fill(0x20, checkpointMagic.length + 4, checkpointMagic.length + 14);
          return b;
        },
        'damaged',
        /header is not JSON/,
      ],
    ];
    for (const [name, change, fault, text] of cases) {
      expectFault(() => loadCheckpoint(damaged(name, change), fresh(), key), fault, text);
    }
  });

  it("refuses a well-sealed file whose model breaks the build's invariants", () => {
    // The degree array follows the points (32 B/peer) and the slot rows (4·stride B/peer).
    const degreeAt = (b: Buffer): number =>
      dataStart(b) + opts.peers * 32 + opts.peers * 4 * (opts.neighbors + 3);
    const tooMany = resealed('degree', (b) => {
      b[degreeAt(b) + 5] = 200;
    });
    expectFault(
      () => loadCheckpoint(tooMany, fresh(), key),
      'damaged',
      /peer 5 has 200 neighbours, more than the soft maximum 14/,
    );
    const strangers = resealed('slot', (b) => {
      b.writeUInt32LE(0x7fff_fff0, dataStart(b) + opts.peers * 32);
    });
    expectFault(
      () => loadCheckpoint(strangers, fresh(), key),
      'damaged',
      /links to a peer that does not exist/,
    );
  });

  /** The file with its header edited, the layout and digest made right: only the content can object. */
  const withHeader = (name: string, edit: (h: HeaderJson) => void): string =>
    damaged(name, (b) => {
      const h = JSON.parse(
        b.subarray(checkpointMagic.length + 4, headerEnd(b)).toString('utf8'),
      ) as HeaderJson;
      edit(h);
      const text = Buffer.from(JSON.stringify(h), 'utf8');
      const lead = Buffer.alloc(pad8(checkpointMagic.length + 4 + text.length));
      lead.write(checkpointMagic, 0, 'latin1');
      lead.writeUInt32LE(text.length, checkpointMagic.length);
      text.copy(lead, checkpointMagic.length + 4);
      const out = Buffer.concat([lead, b.subarray(dataStart(b), b.length - 32), Buffer.alloc(32)]);
      createHash('sha256')
        .update(out.subarray(0, out.length - 32))
        .digest()
        .copy(out, out.length - 32);
      return out;
    });

  it('refuses a well-sealed header that contradicts its state or the build', () => {
    // The file holds the finished build (70,000 peers joined, 2 recycling rounds, 1 upkeep round).
    const cases: [string, (h: HeaderJson) => void, CheckpointFault, RegExp][] = [
      [
        'joins',
        (h) => {
          h.position = { stage: 'joins', round: 0, index: 4096 };
        },
        'damaged',
        /does not match its 70000 joined/,
      ],
      [
        'round',
        (h) => {
          h.position = { stage: 'recycle', round: 2, index: 0 };
        },
        'damaged',
        /not one this build reaches/,
      ],
      [
        'tick',
        (h) => {
          h.position = { stage: 'refine', round: 0, index: 1000 };
        },
        'damaged',
        /not one this build reaches/,
      ],
      [
        'unjoined',
        (h) => {
          h.state.joined = 5000;
        },
        'damaged',
        /past the joins with 5000 of 70000/,
      ],
      [
        'count',
        (h) => {
          h.state.count = 4096;
          h.state.joined = 4096;
        },
        'damaged',
        /holds 4096 peers, not 70000/,
      ],
      [
        'rng',
        (h) => {
          h.state.rng = [0, 0, 0, 0];
        },
        'damaged',
        /not all zero/,
      ],
      [
        'above',
        (h) => {
          h.state.joined = 99_999;
        },
        'damaged',
        /does not fit/,
      ],
      [
        'version',
        (h) => {
          h.version = 2;
        },
        'not-a-checkpoint',
        /format version 2; this drp-sim reads version 1/,
      ],
    ];
    for (const [name, edit, fault, text] of cases) {
      expectFault(() => loadCheckpoint(withHeader(name, edit), fresh(), key), fault, text);
    }
    expect(() =>
      loadCheckpoint(
        withHeader('same', () => {}),
        fresh(),
        key,
      ),
    ).not.toThrow();
  });

  it('refuses a path that is not a regular file', () => {
    expectFault(() => inspectCheckpoint(dir, key), 'unreadable', /not a regular file/);
  });

  it('a save that fails is said and does not stop the build', () => {
    const notes: string[] = [];
    const small = { ...opts, peers: 3000, join: {} };
    const r = runStoppingAt(small, join(dir, 'no-such-dir', 'x.ckpt'), null, 0, notes);
    expect(r.interrupted).toBe(false);
    expect(notes.some((n) => /could not write the checkpoint/.test(n))).toBe(true);
    expect(JSON.stringify(stripTimings(r))).toBe(JSON.stringify(stripTimings(runScale(small))));
  });
});
