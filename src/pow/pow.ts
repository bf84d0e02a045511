/**
 * Proof of work at the entry peer (DESIGN §5).
 *
 * A newcomer pays twice before an entry peer spends anything on it:
 * - PoW1 (stateless): a nonce such that SHA-256(timestampS ‖ requester public IPv4 ‖ nonce) has at
 *   least `bits` leading zero bits. The entry peer checks it with one hash and keeps no state, so a
 *   flood of bogus requests costs it one hash each. The timestamp (checked against a window by the
 *   caller) and the IP bind the work to now and to the requester's address.
 * - PoW2 (stateful): the entry peer answers a valid PoW1 with a random 16-byte challenge bound to the
 *   requester's IP:port (`challenges.ts`); the REGISTER then carries a nonce such that
 *   SHA-256(challenge ‖ regID ‖ nonce) has the same number of leading zero bits. This binds the work
 *   to the registration key and to a challenge the requester cannot have precomputed.
 *
 * Difficulty is counted in leading zero bits: `bits` zero bits take 2^bits hashes on average (the
 * default 15 ≈ 32k, the original's cost). Checking costs one hash, with no allocation beyond the
 * digest: the input is assembled in a module-level scratch buffer (the core is single-threaded).
 * Verification takes untrusted lengths and numbers and returns false on anything malformed; the
 * digest helpers throw, since a wrong length there is the caller's bug.
 *
 * Solving is a plain loop over a 128-bit big-endian counter nonce starting at a random value. The
 * simulator does not solve: it models the solve time from `expectedHashes` / `sampledHashesToSolve`;
 * on real UDP the loop runs in a worker thread (`src/net/pow-solver.ts`).
 */
import { hash } from 'node:crypto';
import type { Rng } from '../seams/rng.js';

/** Default difficulty in leading zero bits (≈ 32k hashes). */
export const powBitsDefault = 15;
/** Largest difficulty a verifier accepts as a parameter (the digest's length in bits). */
export const powBitsMax = 256;
/** Bytes of a PoW1 nonce. */
export const pow1NonceBytes = 16;
/** Bytes of a PoW2 nonce. */
export const pow2NonceBytes = 16;
/** Bytes of a PoW2 challenge. */
export const pow2ChallengeBytes = 16;
/** Bytes of a requester's public IPv4 address. */
export const ipv4Bytes = 4;
/** Bytes of a regID. */
export const powRegIdBytes = 32;
/** Bytes of a PoW1 input: timestampS (u32 BE) ‖ IPv4 ‖ nonce. */
export const pow1InputBytes = 4 + ipv4Bytes + pow1NonceBytes;
/** Bytes of a PoW2 input: challenge ‖ regID ‖ nonce. */
export const pow2InputBytes = pow2ChallengeBytes + powRegIdBytes + pow2NonceBytes;
/**
 * Default cap on hashes one solve may try, as a multiple of the expected count: the chance that an
 * honest solve needs more is e^−64.
 */
export const powSolveHashesExpectedMultipleMax = 64;

/** A found nonce and how many hashes it took. */
export interface PowSolution {
  readonly nonce: Uint8Array;
  readonly hashesTried: number;
}

const pow1Scratch = new Uint8Array(pow1InputBytes);
const pow2Scratch = new Uint8Array(pow2InputBytes);

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
}

function isBits(bits: number): boolean {
  return Number.isInteger(bits) && bits >= 0 && bits <= powBitsMax;
}

function writePow1Input(out: Uint8Array, timestampS: number, ipv4: Uint8Array, nonce: Uint8Array): void {
  out[0] = timestampS >>> 24;
  out[1] = (timestampS >>> 16) & 255;
  out[2] = (timestampS >>> 8) & 255;
  out[3] = timestampS & 255;
  out.set(ipv4, 4);
  out.set(nonce, 4 + ipv4Bytes);
}

function writePow2Input(out: Uint8Array, challenge: Uint8Array, regId: Uint8Array, nonce: Uint8Array): void {
  out.set(challenge, 0);
  out.set(regId, pow2ChallengeBytes);
  out.set(nonce, pow2ChallengeBytes + powRegIdBytes);
}

/** Leading zero bits of a digest (8 × length when all bytes are zero). */
export function leadingZeroBits(digest: Uint8Array): number {
  for (let i = 0; i < digest.length; i++) {
    const b = digest[i]!;
    if (b !== 0) return 8 * i + Math.clz32(b) - 24;
  }
  return 8 * digest.length;
}

/** Whether a digest has at least `bits` leading zero bits (stops at the first deciding byte). */
export function hasLeadingZeroBits(digest: Uint8Array, bits: number): boolean {
  if (bits > 8 * digest.length) return false;
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) if (digest[i] !== 0) return false;
  const rest = bits & 7;
  return rest === 0 || digest[whole]! >>> (8 - rest) === 0;
}

/** SHA-256(timestampS u32 BE ‖ ipv4 ‖ nonce). Throws on malformed arguments (a caller bug). */
export function pow1Digest(timestampS: number, ipv4: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (!isU32(timestampS) || ipv4.length !== ipv4Bytes || nonce.length !== pow1NonceBytes) {
    throw new RangeError('pow1Digest: timestampS must be a u32, ipv4 4 bytes, nonce 16 bytes');
  }
  writePow1Input(pow1Scratch, timestampS, ipv4, nonce);
  return hash('sha256', pow1Scratch, 'buffer');
}

/** SHA-256(challenge ‖ regID ‖ nonce). Throws on malformed arguments (a caller bug). */
export function pow2Digest(challenge: Uint8Array, regId: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (
    challenge.length !== pow2ChallengeBytes ||
    regId.length !== powRegIdBytes ||
    nonce.length !== pow2NonceBytes
  ) {
    throw new RangeError('pow2Digest: challenge must be 16 bytes, regID 32 bytes, nonce 16 bytes');
  }
  writePow2Input(pow2Scratch, challenge, regId, nonce);
  return hash('sha256', pow2Scratch, 'buffer');
}

/** Checks a PoW1 with one hash. Malformed input (any length, any number) gives false, never throws. */
export function verifyPow1(timestampS: number, ipv4: Uint8Array, nonce: Uint8Array, bits: number): boolean {
  if (!isU32(timestampS) || ipv4.length !== ipv4Bytes || nonce.length !== pow1NonceBytes || !isBits(bits)) {
    return false;
  }
  return hasLeadingZeroBits(pow1Digest(timestampS, ipv4, nonce), bits);
}

/** Checks a PoW2 with one hash. Malformed input gives false, never throws. */
export function verifyPow2(
  challenge: Uint8Array,
  regId: Uint8Array,
  nonce: Uint8Array,
  bits: number,
): boolean {
  if (
    challenge.length !== pow2ChallengeBytes ||
    regId.length !== powRegIdBytes ||
    nonce.length !== pow2NonceBytes ||
    !isBits(bits)
  ) {
    return false;
  }
  return hasLeadingZeroBits(pow2Digest(challenge, regId, nonce), bits);
}

/** Average hashes to find a nonce with `bits` leading zero bits. */
export function expectedHashes(bits: number): number {
  return 2 ** bits;
}

/** Average solve time in ms at `hashesPerSec` (for the simulator's virtual clock). */
export function modelledSolveMs(bits: number, hashesPerSec: number): number {
  return (expectedHashes(bits) / hashesPerSec) * 1000;
}

/**
 * A random number of hashes one solve takes: geometric with success probability 2^−bits, as a real
 * solver's count is. Lets the simulator model the spread of solve times, not only the mean.
 */
export function sampledHashesToSolve(bits: number, rng: Rng): number {
  const p = 2 ** -bits;
  if (p >= 1) return 1;
  const u = rng.float(); // [0, 1)
  return Math.max(1, Math.ceil(Math.log1p(-u) / Math.log1p(-p)));
}

/** Adds one to a big-endian counter in `buf[offset .. offset+length)`, wrapping at the top. */
function incrementBigEndian(buf: Uint8Array, offset: number, length: number): void {
  for (let i = offset + length - 1; i >= offset; i--) {
    const v = (buf[i]! + 1) & 255;
    buf[i] = v;
    if (v !== 0) return;
  }
}

/**
 * Tries nonces at `input[nonceOffset ..]` from their current value upwards until the digest has
 * `bits` leading zero bits or `maxHashes` were tried. Mutates `input`.
 */
function solveInPlace(
  input: Uint8Array,
  nonceOffset: number,
  nonceBytes: number,
  bits: number,
  maxHashes: number,
): PowSolution | null {
  for (let tried = 1; tried <= maxHashes; tried++) {
    if (hasLeadingZeroBits(hash('sha256', input, 'buffer'), bits)) {
      return { nonce: input.slice(nonceOffset, nonceOffset + nonceBytes), hashesTried: tried };
    }
    incrementBigEndian(input, nonceOffset, nonceBytes);
  }
  return null;
}

function startNonceOf(start: Uint8Array | Rng, nonceBytes: number): Uint8Array {
  if (start instanceof Uint8Array) {
    if (start.length !== nonceBytes) throw new RangeError(`start nonce must be ${nonceBytes} bytes`);
    return start;
  }
  return start.bytes(nonceBytes);
}

function checkSolveArgs(bits: number, maxHashes: number): void {
  if (!isBits(bits)) throw new RangeError(`bits must be an integer in [0, ${powBitsMax}]`);
  if (!(maxHashes >= 0)) throw new RangeError('maxHashes must be ≥ 0');
}

/**
 * Finds a PoW1 nonce, starting from `start` (a 16-byte nonce, or an Rng to draw one) and counting up.
 * Returns null after `maxHashes` tries (default `powSolveHashesExpectedMultipleMax` × 2^bits).
 */
export function solvePow1(
  timestampS: number,
  ipv4: Uint8Array,
  bits: number,
  start: Uint8Array | Rng,
  maxHashes: number = powSolveHashesExpectedMultipleMax * expectedHashes(bits),
): PowSolution | null {
  checkSolveArgs(bits, maxHashes);
  if (!isU32(timestampS) || ipv4.length !== ipv4Bytes) {
    throw new RangeError('solvePow1: timestampS must be a u32 and ipv4 4 bytes');
  }
  const input = new Uint8Array(pow1InputBytes);
  writePow1Input(input, timestampS, ipv4, startNonceOf(start, pow1NonceBytes));
  return solveInPlace(input, 4 + ipv4Bytes, pow1NonceBytes, bits, maxHashes);
}

/**
 * Finds a PoW2 nonce for `challenge` and `regId`, starting from `start` (16 bytes, or an Rng) and
 * counting up. Returns null after `maxHashes` tries.
 */
export function solvePow2(
  challenge: Uint8Array,
  regId: Uint8Array,
  bits: number,
  start: Uint8Array | Rng,
  maxHashes: number = powSolveHashesExpectedMultipleMax * expectedHashes(bits),
): PowSolution | null {
  checkSolveArgs(bits, maxHashes);
  if (challenge.length !== pow2ChallengeBytes || regId.length !== powRegIdBytes) {
    throw new RangeError('solvePow2: challenge must be 16 bytes and regID 32 bytes');
  }
  const input = new Uint8Array(pow2InputBytes);
  writePow2Input(input, challenge, regId, startNonceOf(start, pow2NonceBytes));
  return solveInPlace(input, pow2ChallengeBytes + powRegIdBytes, pow2NonceBytes, bits, maxHashes);
}
