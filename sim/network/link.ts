/**
 * The link model: how long a datagram takes and whether it arrives.
 *
 * One-way delay = base latency of the (sender region, receiver region) pair + jitter (+ a reorder delay
 * for a small fraction of datagrams). Jitter is an exponential variate with mean `jitterMeanMs`, floored
 * to whole milliseconds because virtual time is integer: it is therefore geometric, P(k) = (1 − q)·q^k with
 * q = e^(−1/jitterMeanMs), mean q/(1 − q), variance q/(1 − q)². An exponential tail is what queueing delay
 * looks like, and with it datagrams overtake one another naturally.
 *
 * Loss has two independent parts: random (Bernoulli `lossRate`) and burst loss after Gilbert–Elliott — a
 * two-state Markov chain per sender (good/bad), stepped once per datagram, with a loss probability per
 * state. Its stationary bad-state probability is p/(p + r) (p = pGoodToBad, r = pBadToGood), and with
 * lossInBad = 1 the mean burst of consecutive losses is 1/r datagrams. Bursts are what break retransmission
 * schedules tuned for independent loss, so the protocol must be tested against them.
 *
 * Duplication delivers a second copy with its own delay draw. Each sender owns a `LinkState` fed by its own
 * forked random stream, so adding a host never shifts another host's loss or delay draws.
 */
import type { Rng } from '../../src/seams/rng.js';
import { checkNonNegative, checkNonNegativeInt, checkRate } from './params.js';

export interface GilbertElliott {
  /** Per-datagram probability of moving from the good to the bad state. */
  readonly pGoodToBad: number;
  /** Per-datagram probability of moving from the bad back to the good state. */
  readonly pBadToGood: number;
  /** Loss probability in the good state (default 0). */
  readonly lossInGood?: number;
  /** Loss probability in the bad state (default 1). */
  readonly lossInBad?: number;
}

export interface LinkProfile {
  /** Independent (Bernoulli) loss probability per datagram. */
  readonly lossRate?: number;
  /** Burst loss (Gilbert–Elliott); absent = none. */
  readonly burstLoss?: GilbertElliott;
  /** Mean of the exponential extra delay on top of the base latency (ms). */
  readonly jitterMeanMs?: number;
  /** Probability a datagram is delivered twice. */
  readonly duplicateRate?: number;
  /** Probability a datagram is held back by `reorderDelayMs` (so later ones overtake it). */
  readonly reorderRate?: number;
  readonly reorderDelayMs?: number;
}

export interface ResolvedLinkProfile {
  readonly lossRate: number;
  readonly burstLoss: Required<GilbertElliott> | null;
  readonly jitterMeanMs: number;
  readonly duplicateRate: number;
  readonly reorderRate: number;
  readonly reorderDelayMs: number;
}

export const linkProfileDefault: ResolvedLinkProfile = {
  lossRate: 0,
  burstLoss: null,
  jitterMeanMs: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMs: 0,
};

/** Validates a link profile; `name` prefixes parameter names in errors (e.g. `link.lossRate`). */
export function resolveLinkProfile(p: LinkProfile | undefined, name = 'link'): ResolvedLinkProfile {
  if (p === undefined) return linkProfileDefault;
  if (typeof p !== 'object' || p === null) throw new TypeError(`${name} must be a LinkProfile object`);
  let burstLoss: Required<GilbertElliott> | null = null;
  if (p.burstLoss !== undefined) {
    const b = p.burstLoss;
    burstLoss = {
      pGoodToBad: checkRate(`${name}.burstLoss.pGoodToBad`, b.pGoodToBad),
      pBadToGood: checkRate(`${name}.burstLoss.pBadToGood`, b.pBadToGood),
      lossInGood: checkRate(`${name}.burstLoss.lossInGood`, b.lossInGood ?? 0),
      lossInBad: checkRate(`${name}.burstLoss.lossInBad`, b.lossInBad ?? 1),
    };
  }
  return {
    lossRate: checkRate(`${name}.lossRate`, p.lossRate ?? 0),
    burstLoss,
    jitterMeanMs: checkNonNegative(`${name}.jitterMeanMs`, p.jitterMeanMs ?? 0),
    duplicateRate: checkRate(`${name}.duplicateRate`, p.duplicateRate ?? 0),
    reorderRate: checkRate(`${name}.reorderRate`, p.reorderRate ?? 0),
    reorderDelayMs: checkNonNegativeInt(`${name}.reorderDelayMs`, p.reorderDelayMs ?? 0),
  };
}

/** Stationary loss rate of the Gilbert–Elliott chain alone. */
export function gilbertElliottStationaryLoss(g: Required<GilbertElliott>): number {
  const s = g.pGoodToBad + g.pBadToGood;
  const piBad = s === 0 ? 0 : g.pGoodToBad / s;
  return (1 - piBad) * g.lossInGood + piBad * g.lossInBad;
}

/** Mean and variance of the floored exponential jitter (a geometric distribution). */
export function jitterMoments(jitterMeanMs: number): { mean: number; variance: number } {
  if (jitterMeanMs === 0) return { mean: 0, variance: 0 };
  const q = Math.exp(-1 / jitterMeanMs);
  return { mean: q / (1 - q), variance: q / (1 - q) ** 2 };
}

/** Per-sender link state: the Gilbert–Elliott chain and the sender's random stream. */
export class LinkState {
  readonly profile: ResolvedLinkProfile;
  private readonly rng: Rng;
  private bad = false;

  constructor(profile: ResolvedLinkProfile, rng: Rng) {
    this.profile = profile;
    this.rng = rng;
  }

  /** Decides whether the next datagram is lost; steps the burst chain once. */
  lost(): boolean {
    const p = this.profile;
    let lost = false;
    const g = p.burstLoss;
    if (g !== null) {
      const lossHere = this.bad ? g.lossInBad : g.lossInGood;
      if (lossHere > 0 && this.rng.float() < lossHere) lost = true;
      // Step after deciding: the chain's state sequence is the loss sequence's hidden driver.
      this.bad = this.bad ? !(this.rng.float() < g.pBadToGood) : this.rng.float() < g.pGoodToBad;
    }
    if (p.lossRate > 0 && this.rng.float() < p.lossRate) lost = true;
    return lost;
  }

  /** Extra delay of one copy: floored exponential jitter plus the occasional reorder hold-back. */
  extraDelayMs(): number {
    const p = this.profile;
    let d = 0;
    if (p.jitterMeanMs > 0) d = Math.floor(-Math.log(1 - this.rng.float()) * p.jitterMeanMs);
    if (p.reorderRate > 0 && this.rng.float() < p.reorderRate) d += p.reorderDelayMs;
    return d;
  }

  duplicated(): boolean {
    return this.profile.duplicateRate > 0 && this.rng.float() < this.profile.duplicateRate;
  }
}

/** Base one-way latency between regions: a matrix (filled symmetrically) or a function. */
export type LatencyConfig =
  | Readonly<Record<string, Readonly<Record<string, number>>>>
  | ((fromRegion: string, toRegion: string) => number);

export class LatencyTable {
  readonly regions: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly matrix: Int32Array;

  /**
   * `regions` defaults to the matrix's keys. Every ordered pair must resolve (from `m[a][b]`, else
   * `m[b][a]`) to a non-negative integer number of milliseconds.
   */
  constructor(latency: LatencyConfig, regions?: readonly string[], name = 'latencyMs') {
    const names = regions ?? (typeof latency === 'function' ? [] : Object.keys(latency));
    if (names.length === 0) throw new RangeError(`regions must name at least one region (${name})`);
    this.regions = [...names];
    names.forEach((r, i) => {
      this.index.set(r, i);
    });
    const n = names.length;
    this.matrix = new Int32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const a = names[i]!;
        const b = names[j]!;
        const v = typeof latency === 'function' ? latency(a, b) : (latency[a]?.[b] ?? latency[b]?.[a]);
        if (v === undefined) throw new RangeError(`${name}.${a}.${b} is missing`);
        this.matrix[i * n + j] = checkNonNegativeInt(`${name}.${a}.${b}`, v);
      }
    }
  }

  has(region: string): boolean {
    return this.index.has(region);
  }

  regionIndex(region: string): number {
    const i = this.index.get(region);
    if (i === undefined)
      throw new RangeError(`region must be one of ${this.regions.join(', ')}; got ${region}`);
    return i;
  }

  baseMs(fromIndex: number, toIndex: number): number {
    return this.matrix[fromIndex * this.regions.length + toIndex]!;
  }
}
