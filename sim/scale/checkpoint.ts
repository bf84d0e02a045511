/**
 * Checkpoints of the 8d build: a long build (1e8 peers take hours of one core) saves its state to a
 * file now and then and when Ctrl-C stops it; the same command resumes from the file and ends with the
 * same network, byte for byte, as one uninterrupted build. A finished build stays in the file, so later
 * runs with other routing options (routes, churn, search) skip the build.
 *
 * File layout (little-endian):
 *   magic `DRP-SCALE-CHECKPOINT\n` · u32 header length · header (JSON, UTF-8) · zero padding to 8 bytes
 *   · the model's arrays in header order, each as raw bytes padded to 8 · SHA-256 of everything before.
 * It is written to `<file>.partial` and renamed over `<file>` once complete and synced, so a crash or a
 * second Ctrl-C during a save leaves the previous checkpoint intact.
 *
 * A checkpoint file is untrusted input: magic, version, header shape, sizes, the digest and the model's
 * invariants (`ScaleNetwork.checkRestored`) are checked, and every refusal is a `CheckpointError` with a
 * one-line reason.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { projectCommit, projectSourceHash } from '../vision/build-info.js';
import {
  type JoinParams,
  joinTickEvery,
  type ModelState,
  type ScaleNetwork,
  type StateArray,
  upkeepTickEvery,
} from './model.js';

export const checkpointMagic = 'DRP-SCALE-CHECKPOINT\n';
/** Format version; a file of another version is refused. */
export const checkpointVersion = 1;
/** Bytes per read or write call (one fs call takes at most 2 GiB). */
export const checkpointChunkBytes = 64 * 2 ** 20;
/** Largest header accepted (a real one is about 1 KB). */
export const checkpointHeaderBytesMax = 64 * 1024;
/** Saves during a build, by default, once per this many minutes of wall time. */
export const checkpointEveryMinutesDefault = 30;

const digestBytes = 32;
const magicBytes = Buffer.from(checkpointMagic, 'latin1');

/** Why a checkpoint was refused. */
export type CheckpointFault = 'unreadable' | 'not-a-checkpoint' | 'damaged' | 'other-build' | 'write-failed';

export class CheckpointError extends Error {
  constructor(
    readonly fault: CheckpointFault,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Where a build stands: before `index` of `stage` (round `round` of an upkeep stage), or finished. */
export interface BuildPosition {
  readonly stage: 'joins' | 'recycle' | 'refine' | 'built';
  readonly round: number;
  readonly index: number;
}

/** What makes two builds the same network: the run options the build reads. */
export interface BuildKey {
  readonly peers: number;
  readonly neighbors: number;
  readonly seed: string;
  readonly join: Record<string, number | boolean | string>;
}

export function buildKeyOf(peers: number, seed: string, params: JoinParams): BuildKey {
  const { policy, ...rest } = params;
  const join: Record<string, number | boolean | string> = {
    sectorBonus: policy.sectorBonus,
    spareAwareEviction: policy.spareAwareEviction,
    occlusionWeight: policy.occlusionWeight,
  };
  for (const [k, v] of Object.entries(rest) as [string, number | boolean][]) {
    // One join at a time, the process before batches existed: keys of files written then still match.
    if (k === 'joinBatchDivisor' && v === 0) continue;
    // JSON has no Infinity (the default spare-eviction margin).
    join[k] = typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
  }
  return { peers, neighbors: params.neighbors, seed, join };
}

/** The code that wrote a checkpoint (`sim/vision/build-info.ts`); absent outside a checkout. */
export interface CheckpointCreatedBy {
  readonly commit?: string;
  readonly sourceHash?: string;
}

interface Header {
  readonly version: number;
  readonly createdBy?: CheckpointCreatedBy;
  readonly build: BuildKey;
  readonly position: BuildPosition;
  /** Wall seconds the build has taken so far, over all its sessions. */
  readonly buildSeconds: number;
  readonly state: ModelState;
  readonly arrays: readonly { readonly name: string; readonly bytes: number }[];
}

/** A checkpoint's header, read and checked (`inspectCheckpoint`, `loadCheckpoint`). */
export interface CheckpointInfo {
  readonly position: BuildPosition;
  readonly createdBy: CheckpointCreatedBy;
  readonly buildSeconds: number;
  /** Bytes after the header: the arrays and the digest. */
  readonly bytes: number;
}

function infoOf(header: Header, bytes: number): CheckpointInfo {
  return {
    position: header.position,
    createdBy: createdByOf(header.createdBy),
    buildSeconds: header.buildSeconds,
    bytes,
  };
}

/** `n` rounded up to a multiple of 8 (arithmetic, not bit operations: arrays pass 2^32 bytes). */
export const pad8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * Writes the model's state at `position` to `path` (through `<path>.partial`, synced, then renamed) and
 * returns the file's size. Throws a `CheckpointError` ('write-failed') when the file cannot be written; the previous checkpoint
 * at `path`, if any, is then left as it was.
 */
export function saveCheckpoint(
  path: string,
  model: ScaleNetwork,
  key: BuildKey,
  position: BuildPosition,
  buildSeconds: number,
): number {
  const arrays = model.stateArrays();
  const header: Header = {
    version: checkpointVersion,
    createdBy: checkpointCreatedBy(),
    build: key,
    position,
    buildSeconds,
    state: model.saveState(),
    arrays: arrays.map((a) => ({ name: a.name, bytes: a.array.byteLength })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(pad8(magicBytes.length + 4 + headerBytes.length));
  magicBytes.copy(lead, 0);
  lead.writeUInt32LE(headerBytes.length, magicBytes.length);
  headerBytes.copy(lead, magicBytes.length + 4);
  const partial = `${path}.partial`;
  let fd: number | undefined;
  try {
    fd = openSync(partial, 'w');
    const hash = createHash('sha256');
    let size = 0;
    // Every piece is the small lead, a padding or one of `byteChunks`: one write call's worth.
    const put = (bytes: Uint8Array): void => {
      hash.update(bytes);
      writeAll(fd!, bytes);
      size += bytes.length;
    };
    put(lead);
    const zeros = new Uint8Array(8);
    for (const a of arrays) {
      for (const chunk of byteChunks(a.array)) put(chunk);
      put(zeros.subarray(0, pad8(a.array.byteLength) - a.array.byteLength));
    }
    writeAll(fd, hash.digest());
    fsyncSync(fd);
    const open = fd;
    fd = undefined;
    closeSync(open);
    renameSync(partial, path);
    return size + digestBytes;
  } catch (err) {
    // Clean up what can be; the error reported is the first one.
    try {
      if (fd !== undefined) closeSync(fd);
      if (existsSync(partial)) unlinkSync(partial);
    } catch {}
    const why = err instanceof Error ? err.message : String(err);
    throw new CheckpointError('write-failed', `could not write the checkpoint ${path}: ${why}`);
  }
}

/**
 * The bytes of `array` as views of at most `chunkBytes` each. One byte view of a whole array is not
 * possible past 2^32 bytes (a typed array's length limit; the slots of 1e8 peers take 6.4 GB).
 */
export function* byteChunks(
  array: StateArray['array'],
  chunkBytes = checkpointChunkBytes,
): Generator<Uint8Array> {
  for (let off = 0; off < array.byteLength; off += chunkBytes) {
    yield new Uint8Array(array.buffer, array.byteOffset + off, Math.min(chunkBytes, array.byteLength - off));
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Reads and checks the header of the checkpoint at `path` against the build `key`: null when there is
 * no file, its position otherwise. Throws a `CheckpointError` for a file that is not a checkpoint, is
 * cut short, or belongs to another build (the message names the options that differ).
 */
export function inspectCheckpoint(path: string, key: BuildKey): CheckpointInfo | null {
  if (!existsSync(path)) return null;
  const fd = openCheckpoint(path);
  try {
    const { header, dataStart, size } = readHeader(fd, path);
    checkKey(path, header.build, key);
    return infoOf(header, size - dataStart);
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads the checkpoint at `path` into `model` (fresh, of the key's size): checks the header against
 * `key`, reads the arrays while hashing them, compares the digest and the model's invariants. Returns
 * the position to continue from and the build seconds so far.
 */
export function loadCheckpoint(path: string, model: ScaleNetwork, key: BuildKey): CheckpointInfo {
  const fd = openCheckpoint(path);
  try {
    const { header, lead, dataStart, size } = readHeader(fd, path);
    checkKey(path, header.build, key);
    try {
      model.restoreState(header.state);
    } catch (err) {
      throw damaged(path, err instanceof Error ? err.message : String(err));
    }
    const misplaced = positionProblem(header.position, header.state, key);
    if (misplaced !== null) throw damaged(path, misplaced);
    const arrays = model.stateArrays();
    if (
      arrays.length !== header.arrays.length ||
      arrays.some(
        (a, i) => a.name !== header.arrays[i]!.name || a.array.byteLength !== header.arrays[i]!.bytes,
      )
    ) {
      throw damaged(path, 'its arrays do not match the network it describes');
    }
    const hash = createHash('sha256');
    hash.update(lead);
    let pos = dataStart;
    const pad = new Uint8Array(8);
    for (const a of arrays) {
      for (const chunk of byteChunks(a.array)) pos = readInto(fd, chunk, pos, hash, path);
      const padding = pad8(a.array.byteLength) - a.array.byteLength;
      pos = readInto(fd, pad.subarray(0, padding), pos, hash, path);
    }
    const digest = new Uint8Array(digestBytes);
    readInto(fd, digest, pos, null, path);
    if (!Buffer.from(digest).equals(hash.digest()))
      throw damaged(path, 'its digest does not match its contents');
    const wrong = model.checkRestored();
    if (wrong !== null) throw damaged(path, wrong);
    return infoOf(header, size - dataStart);
  } finally {
    closeSync(fd);
  }
}

/** The strings of a header's `createdBy` (only shown to the user). */
function createdByOf(c: unknown): CheckpointCreatedBy {
  const o = typeof c === 'object' && c !== null ? (c as Record<string, unknown>) : {};
  return {
    ...(typeof o.commit === 'string' ? { commit: o.commit } : {}),
    ...(typeof o.sourceHash === 'string' ? { sourceHash: o.sourceHash } : {}),
  };
}

/** The writing code's identity, for the header (computed once per process by build-info). */
export function checkpointCreatedBy(): CheckpointCreatedBy {
  const commit = projectCommit();
  const sourceHash = projectSourceHash();
  return { ...(commit !== undefined ? { commit } : {}), ...(sourceHash !== undefined ? { sourceHash } : {}) };
}

/**
 * Where a saved position contradicts its state or the build: a position is always a progress check
 * (joins every `joinTickEvery`, upkeep rounds every `upkeepTickEvery`) of a stage the build has.
 */
function positionProblem(at: BuildPosition, state: ModelState, key: BuildKey): string | null {
  if (state.count !== key.peers) return `it holds ${state.count} peers, not ${key.peers}`;
  const rounds = (name: string): number => {
    const v = key.join[name];
    return typeof v === 'number' ? v : 0;
  };
  if (at.stage === 'joins') {
    if (at.index !== state.joined || at.index % joinTickEvery !== 0 || at.round !== 0)
      return `its position (joins ${at.index}) does not match its ${state.joined} joined peers`;
    return null;
  }
  if (state.joined !== state.count)
    return `it is past the joins with ${state.joined} of ${state.count} joined`;
  if (at.stage === 'built')
    return at.round === 0 && at.index === 0 ? null : 'its finished position is malformed';
  const roundsOf = rounds(at.stage === 'recycle' ? 'recycleRounds' : 'refineRounds');
  if (at.round >= roundsOf || at.index >= state.count || at.index % upkeepTickEvery !== 0)
    return `its position (${at.stage} round ${at.round + 1}, peer ${at.index}) is not one this build reaches`;
  return null;
}

function openCheckpoint(path: string): number {
  try {
    // A directory opens for reading on Linux and a FIFO blocks the open: only regular files are read.
    if (!statSync(path).isFile()) throw new Error('not a regular file');
    return openSync(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
}

function unreadable(path: string, err: unknown): CheckpointError {
  const why = err instanceof Error ? err.message : String(err);
  return new CheckpointError('unreadable', `cannot read the checkpoint ${path}: ${why}`);
}

function damaged(path: string, why: string): CheckpointError {
  return new CheckpointError(
    'damaged',
    `the checkpoint ${path} is damaged (${why}); delete it to start over`,
  );
}

/** `readSync` with an I/O failure as a `CheckpointError`. */
function readAt(
  fd: number,
  bytes: Uint8Array,
  off: number,
  length: number,
  position: number,
  path: string,
): number {
  try {
    return readSync(fd, bytes, off, length, position);
  } catch (err) {
    throw unreadable(path, err);
  }
}

function readInto(fd: number, bytes: Uint8Array, position: number, hash: Hash | null, path: string): number {
  let pos = position;
  // A read may return fewer bytes than asked; `bytes` is at most one of `byteChunks`.
  for (let off = 0; off < bytes.length; ) {
    const got = readAt(fd, bytes, off, bytes.length - off, pos, path);
    if (got === 0) throw damaged(path, 'it is cut short');
    hash?.update(bytes.subarray(off, off + got));
    off += got;
    pos += got;
  }
  return pos;
}

function readHeader(
  fd: number,
  path: string,
): { header: Header; lead: Uint8Array; dataStart: number; size: number } {
  const size = fstatSync(fd).size;
  const notOne = new CheckpointError('not-a-checkpoint', `${path} is not a drp-sim checkpoint`);
  const head = new Uint8Array(magicBytes.length + 4);
  if (size < head.length || readAt(fd, head, 0, head.length, 0, path) !== head.length) throw notOne;
  if (!Buffer.from(head.subarray(0, magicBytes.length)).equals(magicBytes)) throw notOne;
  const headerLength = Buffer.from(head).readUInt32LE(magicBytes.length);
  if (headerLength > checkpointHeaderBytesMax) throw damaged(path, 'its header is too long');
  const dataStart = pad8(head.length + headerLength);
  if (size < dataStart + digestBytes) throw damaged(path, 'it is cut short');
  const lead = new Uint8Array(dataStart);
  if (readAt(fd, lead, 0, dataStart, 0, path) !== dataStart) throw damaged(path, 'it is cut short');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(lead.subarray(head.length, head.length + headerLength)).toString('utf8'));
  } catch {
    throw damaged(path, 'its header is not JSON');
  }
  const version = (header as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== checkpointVersion) {
    throw new CheckpointError(
      'not-a-checkpoint',
      `the checkpoint ${path} has format version ${version}; this drp-sim reads version ${checkpointVersion}`,
    );
  }
  const why = headerProblem(header);
  if (why !== null) throw damaged(path, why);
  const expected = dataStart + header.arrays.reduce((s, a) => s + pad8(a.bytes), 0) + digestBytes;
  if (size !== expected) throw damaged(path, size < expected ? 'it is cut short' : 'it has trailing bytes');
  return { header, lead, dataStart, size };
}

/** What is wrong with a parsed header's shape, or null. */
function headerProblem(h: unknown): string | null {
  if (typeof h !== 'object' || h === null) return 'its header is not an object';
  const o = h as Record<string, unknown>;
  if (typeof o.version !== 'number') return 'its header has no version';
  const b = o.build as Record<string, unknown> | undefined;
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.peers !== 'number' ||
    typeof b.neighbors !== 'number' ||
    typeof b.seed !== 'string' ||
    typeof b.join !== 'object' ||
    b.join === null
  ) {
    return 'its header does not describe a build';
  }
  const p = o.position as Record<string, unknown> | undefined;
  if (
    typeof p !== 'object' ||
    p === null ||
    !['joins', 'recycle', 'refine', 'built'].includes(p.stage as string) ||
    !Number.isSafeInteger(p.round) ||
    !Number.isSafeInteger(p.index) ||
    (p.round as number) < 0 ||
    (p.index as number) < 0
  ) {
    return 'its header has no valid build position';
  }
  if (typeof o.buildSeconds !== 'number' || !(o.buildSeconds >= 0)) return 'its header has no build time';
  const s = o.state as Record<string, unknown> | undefined;
  if (
    typeof s !== 'object' ||
    s === null ||
    !Array.isArray(s.rng) ||
    typeof s.counters !== 'object' ||
    s.counters === null
  )
    return 'its header has no model state';
  if (
    !Array.isArray(o.arrays) ||
    !o.arrays.every(
      (a: unknown) =>
        typeof a === 'object' &&
        a !== null &&
        typeof (a as { name?: unknown }).name === 'string' &&
        Number.isSafeInteger((a as { bytes?: unknown }).bytes) &&
        ((a as { bytes: number }).bytes as number) >= 0,
    )
  ) {
    return 'its header lists no valid arrays';
  }
  return null;
}

/**
 * Join settings added to the build key after checkpoints were first written, with the value that gives
 * the build those files hold: a file without the setting was written by a build that had it at this value.
 */
const buildKeyJoinDefaultsBefore: Readonly<Record<string, number | boolean | string>> = {
  // Farthest-link eviction, before occlusion-aware eviction (`RoutingPolicy.occlusionWeight`).
  occlusionWeight: 0,
};

function checkKey(path: string, saved: BuildKey, wanted: BuildKey): void {
  const diffs: string[] = [];
  const savedJoin = { ...buildKeyJoinDefaultsBefore, ...saved.join };
  const field = (name: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      diffs.push(`${name} ${JSON.stringify(a)} there, ${JSON.stringify(b)} here`);
  };
  field('peers', saved.peers, wanted.peers);
  field('neighbors', saved.neighbors, wanted.neighbors);
  field('seed', saved.seed, wanted.seed);
  const names = new Set([...Object.keys(savedJoin), ...Object.keys(wanted.join)]);
  for (const k of [...names].sort()) field(k, savedJoin[k], wanted.join[k]);
  if (diffs.length > 0) {
    throw new CheckpointError(
      'other-build',
      `the checkpoint ${path} is of another build (${diffs.join('; ')}); give another file or delete it`,
    );
  }
}
