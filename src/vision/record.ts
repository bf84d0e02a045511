/**
 * A vision record: one thing the code wants a developer to be able to see.
 *
 * Time is the caller's clock (virtual milliseconds in the simulator, Unix milliseconds on real
 * UDP); the vision layer never reads a clock of its own, so a replayed run yields the same records.
 * `peer` names the peer that emitted the record (its regID in hex, or a tester's name for it);
 * `module` names the part of the code (`reg.proxy`, `inv.requester`, `udp`, `attacks`, ...).
 *
 * A record is immutable once emitted: the channel keeps references to its strings and attributes
 * object, not copies, so an emitter must not change an attributes object it has handed over.
 *
 * Records may carry text that came from the network (an endpoint, a remote peer's claim), so what is
 * kept is bounded: `boundRecord` clips the message and the attributes to the limits below before a
 * record is stored or written to a trace.
 */
import { type AttentionLevel, isAttentionLevel } from './attention.js';

export type AttributeValue = string | number | boolean;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export interface VisionRecord {
  /** Milliseconds on the emitter's clock. */
  readonly timeMs: number;
  /** The emitting peer's id. */
  readonly peer: string;
  /** The emitting module. */
  readonly module: string;
  readonly level: AttentionLevel;
  readonly message: string;
  /** Structured facts (ids, counts, delays) for filtering and plotting. */
  readonly attributes?: Attributes;
}

/** Longest message kept; longer ones are clipped (with a trailing '…'). */
export const messageLengthMaxChars = 4096;
/** Longest peer id or module name kept. */
export const nameLengthMaxChars = 256;
/** Most attributes kept per record; later keys (in insertion order) are dropped. */
export const attributesPerRecordMax = 32;
/** Longest attribute key or string value kept. */
export const attributeLengthMaxChars = 1024;

function clip(s: string, maxChars: number): string {
  return s.length <= maxChars ? s : `${s.slice(0, maxChars - 1)}…`;
}

function attributesWithinBounds(a: Attributes): boolean {
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    if (++n > attributesPerRecordMax || k.length > attributeLengthMaxChars) return false;
    const v = a[k];
    if (typeof v === 'string' && v.length > attributeLengthMaxChars) return false;
  }
  return true;
}

function clipAttributes(a: Attributes): Attributes {
  const out: Record<string, AttributeValue> = {};
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    if (n++ >= attributesPerRecordMax) break;
    const v = a[k] as AttributeValue;
    out[clip(k, attributeLengthMaxChars)] = typeof v === 'string' ? clip(v, attributeLengthMaxChars) : v;
  }
  return out;
}

/**
 * The record itself when it is within the limits (the common case: no copy), otherwise a clipped
 * copy. Throws RangeError for a level that is not a level or a time that is not finite: those are
 * bugs in the emitting code, not data.
 */
export function boundRecord(r: VisionRecord): VisionRecord {
  if (!isAttentionLevel(r.level)) throw new RangeError(`vision record with bad level ${String(r.level)}`);
  if (!Number.isFinite(r.timeMs)) throw new RangeError(`vision record with bad timeMs ${String(r.timeMs)}`);
  const a = r.attributes;
  if (
    r.message.length <= messageLengthMaxChars &&
    r.peer.length <= nameLengthMaxChars &&
    r.module.length <= nameLengthMaxChars &&
    (a === undefined || attributesWithinBounds(a))
  ) {
    return r;
  }
  const base = {
    timeMs: r.timeMs,
    peer: clip(r.peer, nameLengthMaxChars),
    module: clip(r.module, nameLengthMaxChars),
    level: r.level,
    message: clip(r.message, messageLengthMaxChars),
  };
  return a === undefined ? base : { ...base, attributes: clipAttributes(a) };
}

/** True for a string, a number or a boolean. */
export function isAttributeValue(x: unknown): x is AttributeValue {
  return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
}
