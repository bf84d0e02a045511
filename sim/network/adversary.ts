/**
 * Adversary hooks: an on-path attacker that acts on the datagrams a predicate selects.
 *
 * The hook sees each datagram on the public wire (after the sender's NAT, before the link): the public
 * source and destination endpoints, the bytes, and which hosts it runs between. Actions:
 * - `drop`: the datagram vanishes;
 * - `delay`: it arrives `delayMs` late;
 * - `duplicate`: `copies` extra copies travel alongside it;
 * - `replay`: it is captured and sent again `replayAfterMs` later from the same source endpoint (bounded by
 *   `replayBufferMax` captures pending at once; a replayed datagram is never captured again);
 * - `corrupt`: `bitFlips` random bits of a copy are flipped and the copy replaces the original.
 * Forged datagrams (arbitrary source) are sent with `SimNetwork.inject`.
 *
 * Hooks apply in the order added; `probability` (default 1) thins the matches with the adversary's own
 * random stream, and `startMs`/`endMs` bound when the hook is active.
 */
import type { Endpoint } from '../../src/seams/transport.js';
import { checkNonNegativeInt, checkOneOf, checkPositiveInt, checkRate } from './params.js';

export interface WireDatagram {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly bytes: Uint8Array;
  /** Sending host id, or -1 for an injected datagram. */
  readonly fromHost: number;
  /** Destination host id as resolvable at send time, or -1. */
  readonly toHost: number;
  /** True for a datagram the replay action re-sent. */
  readonly replayed: boolean;
}

export type AdversaryAction = 'drop' | 'delay' | 'duplicate' | 'replay' | 'corrupt';
export const adversaryActions: readonly AdversaryAction[] = [
  'drop',
  'delay',
  'duplicate',
  'replay',
  'corrupt',
];

export interface AdversaryHook {
  readonly match: (d: WireDatagram) => boolean;
  readonly action: AdversaryAction;
  /** `delay`: extra ms. */
  readonly delayMs?: number;
  /** `duplicate`: extra copies (default 1). */
  readonly copies?: number;
  /** `replay`: ms between capture and re-send (default 1000). */
  readonly replayAfterMs?: number;
  /** `replay`: captures pending at once (default 1024). */
  readonly replayBufferMax?: number;
  /** `corrupt`: bits flipped (default 1). */
  readonly bitFlips?: number;
  readonly probability?: number;
  /** Virtual times (absolute ms) bounding when the hook acts. */
  readonly startMs?: number;
  readonly endMs?: number;
}

export interface ResolvedAdversaryHook {
  readonly match: (d: WireDatagram) => boolean;
  readonly action: AdversaryAction;
  readonly delayMs: number;
  readonly copies: number;
  readonly replayAfterMs: number;
  readonly replayBufferMax: number;
  readonly bitFlips: number;
  readonly probability: number;
  readonly startMs: number;
  readonly endMs: number;
}

export const replayBufferMaxDefault = 1024;
export const adversaryCopiesMax = 64;
export const adversaryHooksMax = 256;

export function resolveAdversaryHook(h: AdversaryHook, name = 'adversary'): ResolvedAdversaryHook {
  if (typeof h !== 'object' || h === null) throw new TypeError(`${name} must be an AdversaryHook object`);
  if (typeof h.match !== 'function') throw new TypeError(`${name}.match must be a function`);
  const copies = checkPositiveInt(`${name}.copies`, h.copies ?? 1);
  if (copies > adversaryCopiesMax)
    throw new RangeError(`${name}.copies must be <= ${adversaryCopiesMax}, got ${copies}`);
  return {
    match: h.match,
    action: checkOneOf(`${name}.action`, h.action, adversaryActions),
    delayMs: checkNonNegativeInt(`${name}.delayMs`, h.delayMs ?? 0),
    copies,
    replayAfterMs: checkNonNegativeInt(`${name}.replayAfterMs`, h.replayAfterMs ?? 1000),
    replayBufferMax: checkPositiveInt(`${name}.replayBufferMax`, h.replayBufferMax ?? replayBufferMaxDefault),
    bitFlips: checkPositiveInt(`${name}.bitFlips`, h.bitFlips ?? 1),
    probability: checkRate(`${name}.probability`, h.probability ?? 1),
    startMs: checkNonNegativeInt(`${name}.startMs`, h.startMs ?? 0),
    endMs: h.endMs === undefined ? Number.POSITIVE_INFINITY : checkNonNegativeInt(`${name}.endMs`, h.endMs),
  };
}
