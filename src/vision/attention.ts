/**
 * Attention levels of the developer's vision.
 *
 * Every record the code emits carries one of ten levels, from `deepDetail` (every step of every
 * transaction) to `death` (the program cannot go on). A level is a small integer so that the hot
 * question "does anyone want this?" is one comparison.
 *
 * Pain. The original called anything from `guiPain` up a problem: `guiPain` is a problem shown to
 * the user in words ("your NAT is symmetric", "cannot register"), `lightPain` and above are problems
 * the code found by testing itself. Both mean something went wrong, so here a *pain* is any record
 * at or above `guiPain` (`painLevelMin`): pain counters count all five levels, per level, and a
 * report can still tell user-visible pains (`guiPain`) from self-tested ones (`selfTestedPainLevelMin`
 * and above). Which pains capture a network snapshot is a separate, configurable threshold of the
 * channel (`snapshotLevel`).
 */

export const AttentionLevel = {
  /** Every step of every transaction; only for a focused look at one module. */
  deepDetail: 0,
  /** Per-packet and per-decision detail. */
  detail: 1,
  /** Summaries of transactions and periodic tasks. */
  higherLevelDetail: 2,
  /** What a user would see happen (a registration completed, a message arrived). */
  guiActivity: 3,
  /** Unusual but handled: DoS countermeasures, light warnings. */
  needsAttention: 4,
  /** A problem shown to the user in readable words. */
  guiPain: 5,
  /** A self-tested sign of a possible future problem (an abnormal delay). */
  lightPain: 6,
  /** A self-tested important problem; the app still delivers some value. */
  mediumPain: 7,
  /** A severe self-tested problem: a bad signature, a failed message delivery, an unhandled error. */
  strongPain: 8,
  /** An unrecoverable failure. */
  death: 9,
} as const;

export type AttentionLevel = (typeof AttentionLevel)[keyof typeof AttentionLevel];
export type AttentionLevelName = keyof typeof AttentionLevel;

/** Number of attention levels; levels are the integers 0 .. attentionLevelCount - 1. */
export const attentionLevelCount = 10;

/**
 * A threshold above every level: a module whose threshold is `attentionOff` emits nothing, not even
 * `death`.
 */
export const attentionOff = 10;

/** What a channel threshold may be: a level (records at or above it pass) or `attentionOff`. */
export type AttentionThreshold = AttentionLevel | typeof attentionOff;

/** The lowest level counted as a pain (see the module comment for why `guiPain` counts). */
export const painLevelMin = AttentionLevel.guiPain;

/** The lowest level of the pains the code finds by testing itself. */
export const selfTestedPainLevelMin = AttentionLevel.lightPain;

/** Number of pain levels (`guiPain` .. `death`). */
export const painLevelCount = attentionLevelCount - painLevelMin;

const names: readonly AttentionLevelName[] = [
  'deepDetail',
  'detail',
  'higherLevelDetail',
  'guiActivity',
  'needsAttention',
  'guiPain',
  'lightPain',
  'mediumPain',
  'strongPain',
  'death',
];

/** True for the integers 0..9. */
export function isAttentionLevel(x: unknown): x is AttentionLevel {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < attentionLevelCount;
}

/** True for a level or `attentionOff`. */
export function isAttentionThreshold(x: unknown): x is AttentionThreshold {
  return isAttentionLevel(x) || x === attentionOff;
}

/** The level's name, e.g. `levelName(7) === 'mediumPain'`. */
export function levelName(level: AttentionLevel): AttentionLevelName {
  const name = names[level];
  if (name === undefined) throw new RangeError(`not an attention level: ${String(level)}`);
  return name;
}

/** The level of a name (`'mediumPain'` -> 7), or undefined for anything else. */
export function parseLevelName(name: string): AttentionLevel | undefined {
  return Object.hasOwn(AttentionLevel, name) ? AttentionLevel[name as AttentionLevelName] : undefined;
}

/** A pain is a record at or above `guiPain`. */
export function isPain(level: AttentionLevel): boolean {
  return level >= painLevelMin;
}
