/**
 * The vision channel: where the code tells a developer what it is doing and where it hurts.
 *
 * Theory of operation.
 * - Thresholds decide what is even built. A caller asks `wants(module, level)` before formatting a
 *   message, so a filtered-out record costs one or two comparisons and no allocation. Each module
 *   may have its own threshold; the others use the default. `wants` first compares with the lowest
 *   and highest thresholds in force (so the common "detail while only pains are wanted" answer needs
 *   no map lookup) and only between the two looks the module up.
 * - `emit(record)` re-checks the threshold (callers may skip `wants` when the record is cheap),
 *   clips the record to the limits of `record.ts`, stores it in its peer's ring (`ring.ts`: fixed
 *   memory whatever the run length), counts it by level and, for pains, by module; then it calls the
 *   `onRecord` listeners (a trace sink, a console printer) and, at or above `snapshotLevel`, the one
 *   `onPain` handler, which the simulator uses to capture the network around the pain. The pain is
 *   already in its peer's ring when the handler runs, so a snapshot of recent records includes it.
 * - Time comes only from the record: the channel has no clock.
 *
 * Bounds: rings (`recordsPerPeerMax`, `peersTrackedMax`), modules with their own threshold or pain
 * counters (`modulesTrackedMax`; pains of further modules are counted under `otherModulesKey`),
 * listeners (`recordListenersMax`) and snapshots (`snapshotsMax` per channel; further pains are
 * counted in `snapshotsSkipped`). A pain emitted from inside the `onPain` handler does not trigger
 * a nested snapshot (`snapshotsNested`). Exceptions thrown by listeners or the handler propagate:
 * they are bugs in the caller's code, and hiding them would hide the bug.
 */
import {
  AttentionLevel,
  type AttentionLevelName,
  type AttentionThreshold,
  attentionLevelCount,
  isAttentionThreshold,
  levelName,
  painLevelCount,
  painLevelMin,
} from './attention.js';
import { boundRecord, type VisionRecord } from './record.js';
import { PeerRecordRings } from './ring.js';

/** The narrow interface the protocol engines emit into; `VisionChannel` implements it. */
export interface VisionEmitter {
  /** True when a record of this module and level would be kept: ask before building it. */
  wants(module: string, level: AttentionLevel): boolean;
  /** Emits a record; returns whether it was kept. */
  emit(record: VisionRecord): boolean;
}

/** An emitter that wants nothing (for code run without a developer watching). */
export const nullVision: VisionEmitter = {
  wants: () => false,
  emit: () => false,
};

export interface VisionChannelConfig {
  /** Threshold for modules without their own; default `guiActivity` (the original's default). */
  readonly defaultThreshold?: AttentionThreshold;
  /** Per-module thresholds. */
  readonly moduleThresholds?: Readonly<Record<string, AttentionThreshold>>;
  /** Records at or above this level call the `onPain` handler; default `mediumPain`. */
  readonly snapshotLevel?: AttentionThreshold;
  /** Default 128. */
  readonly recordsPerPeerMax?: number;
  /** Default 1024. */
  readonly peersTrackedMax?: number;
  /** Modules with their own threshold or their own pain counters; default 256. */
  readonly modulesTrackedMax?: number;
  /** Calls of the `onPain` handler per channel; default 1000. */
  readonly snapshotsMax?: number;
}

export const visionDefaults = {
  defaultThreshold: AttentionLevel.guiActivity,
  snapshotLevel: AttentionLevel.mediumPain,
  recordsPerPeerMax: 128,
  peersTrackedMax: 1024,
  modulesTrackedMax: 256,
  snapshotsMax: 1000,
} as const;

/** Upper bound on `modulesTrackedMax`. */
export const modulesTrackedMaxLimit = 1 << 16;
/** Most `onRecord` listeners at once. */
export const recordListenersMax = 64;
/** The module key under which pains of modules beyond `modulesTrackedMax` are counted. */
export const otherModulesKey = '(other modules)';

export type RecordListener = (record: VisionRecord) => void;
export type PainHandler = (record: VisionRecord) => void;

export type PainLevelName = 'guiPain' | 'lightPain' | 'mediumPain' | 'strongPain' | 'death';

/** A JSON-safe summary of what a channel saw (for reports). */
export interface VisionCounters {
  readonly recordsAccepted: number;
  /** `emit` calls for records below their module's threshold. */
  readonly recordsFilteredOut: number;
  /** Accepted records by level. */
  readonly recordsByLevel: Readonly<Record<AttentionLevelName, number>>;
  /** Accepted records at or above `guiPain`. */
  readonly painsTotal: number;
  /** Pains by module, then by level; only non-zero entries appear. */
  readonly painsByModule: Readonly<Record<string, Readonly<Partial<Record<PainLevelName, number>>>>>;
  readonly storedRecordCount: number;
  readonly peersTracked: number;
  readonly peersEvicted: number;
  readonly recordsOverwritten: number;
  readonly snapshotsTaken: number;
  readonly snapshotsSkipped: number;
  readonly snapshotsNested: number;
}

function checkThreshold(name: string, t: unknown): asserts t is AttentionThreshold {
  if (!isAttentionThreshold(t)) throw new RangeError(`${name} must be an attention level or attentionOff`);
}

function checkCount(name: string, x: number, max: number): number {
  if (!Number.isInteger(x) || x < 1 || x > max) {
    throw new RangeError(`${name} must be an integer in [1, ${max}], got ${x}`);
  }
  return x;
}

export class VisionChannel implements VisionEmitter {
  readonly modulesTrackedMax: number;
  readonly snapshotsMax: number;

  private defaultThreshold: AttentionThreshold;
  private readonly moduleThresholds = new Map<string, AttentionThreshold>();
  /** Lowest and highest threshold in force: below the first nothing passes, from the second all. */
  private thresholdMin: AttentionThreshold;
  private thresholdMax: AttentionThreshold;
  private snapshotLevelValue: AttentionThreshold;

  private readonly rings: PeerRecordRings;
  private listeners: readonly RecordListener[] = [];
  private painHandler: PainHandler | undefined;
  private inPainHandler = false;

  private recordsAccepted = 0;
  private recordsFilteredOut = 0;
  private readonly recordsByLevel = new Float64Array(attentionLevelCount);
  private painsTotal = 0;
  /** Per module: pains by (level - painLevelMin). */
  private readonly painsByModule = new Map<string, Float64Array>();
  private snapshotsTaken = 0;
  private snapshotsSkipped = 0;
  private snapshotsNested = 0;

  constructor(config: VisionChannelConfig = {}) {
    const d = config.defaultThreshold ?? visionDefaults.defaultThreshold;
    checkThreshold('defaultThreshold', d);
    this.defaultThreshold = d;
    const s = config.snapshotLevel ?? visionDefaults.snapshotLevel;
    checkThreshold('snapshotLevel', s);
    this.snapshotLevelValue = s;
    this.modulesTrackedMax = checkCount(
      'modulesTrackedMax',
      config.modulesTrackedMax ?? visionDefaults.modulesTrackedMax,
      modulesTrackedMaxLimit,
    );
    this.snapshotsMax = checkCount(
      'snapshotsMax',
      config.snapshotsMax ?? visionDefaults.snapshotsMax,
      Number.MAX_SAFE_INTEGER,
    );
    this.rings = new PeerRecordRings({
      recordsPerPeerMax: config.recordsPerPeerMax ?? visionDefaults.recordsPerPeerMax,
      peersTrackedMax: config.peersTrackedMax ?? visionDefaults.peersTrackedMax,
    });
    this.thresholdMin = d;
    this.thresholdMax = d;
    for (const [module, t] of Object.entries(config.moduleThresholds ?? {})) this.setThreshold(module, t);
  }

  // ---- thresholds ----

  wants(module: string, level: AttentionLevel): boolean {
    if (level < this.thresholdMin) return false;
    if (level >= this.thresholdMax) return true;
    const t = this.moduleThresholds.get(module);
    return level >= (t === undefined ? this.defaultThreshold : t);
  }

  /** The threshold in force for `module`. */
  threshold(module: string): AttentionThreshold {
    return this.moduleThresholds.get(module) ?? this.defaultThreshold;
  }

  setDefaultThreshold(t: AttentionThreshold): void {
    checkThreshold('defaultThreshold', t);
    this.defaultThreshold = t;
    this.recomputeThresholdRange();
  }

  /** Gives `module` its own threshold. Throws RangeError beyond `modulesTrackedMax` modules. */
  setThreshold(module: string, t: AttentionThreshold): void {
    checkThreshold(`threshold of module '${module}'`, t);
    if (!this.moduleThresholds.has(module) && this.moduleThresholds.size >= this.modulesTrackedMax) {
      throw new RangeError(`more than modulesTrackedMax=${this.modulesTrackedMax} module thresholds`);
    }
    this.moduleThresholds.set(module, t);
    this.recomputeThresholdRange();
  }

  /** `module` goes back to the default threshold. */
  clearThreshold(module: string): void {
    this.moduleThresholds.delete(module);
    this.recomputeThresholdRange();
  }

  get snapshotLevel(): AttentionThreshold {
    return this.snapshotLevelValue;
  }

  set snapshotLevel(t: AttentionThreshold) {
    checkThreshold('snapshotLevel', t);
    this.snapshotLevelValue = t;
  }

  // ---- emitting ----

  emit(record: VisionRecord): boolean {
    if (!this.wants(record.module, record.level)) {
      this.recordsFilteredOut++;
      return false;
    }
    const r = boundRecord(record);
    this.rings.push(r);
    this.recordsAccepted++;
    this.recordsByLevel[r.level]!++;
    if (r.level >= painLevelMin) this.countPain(r);
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(r);
    if (r.level >= this.snapshotLevelValue && this.painHandler !== undefined) this.callPainHandler(r);
    return true;
  }

  /** Calls `listener` with every accepted record; returns the function that removes it. */
  onRecord(listener: RecordListener): () => void {
    if (this.listeners.length >= recordListenersMax) {
      throw new RangeError(`more than recordListenersMax=${recordListenersMax} listeners`);
    }
    // Copy on write, so a listener may unsubscribe (itself or another) during emission.
    this.listeners = [...this.listeners, listener];
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners = [...this.listeners.slice(0, i), ...this.listeners.slice(i + 1)];
    };
  }

  /** Installs (or, with undefined, removes) the handler called for records at or above `snapshotLevel`. */
  onPain(handler: PainHandler | undefined): void {
    this.painHandler = handler;
  }

  // ---- reading ----

  /** The newest `limit` records of `peer`, oldest first. */
  recentRecords(peer: string, limit?: number): VisionRecord[] {
    return this.rings.records(peer, limit);
  }

  /** The newest `limitPerPeer` records of each of `peers`, merged in emission order. */
  recentRecordsOf(peers: Iterable<string>, limitPerPeer?: number): VisionRecord[] {
    return this.rings.recentRecordsOf(peers, limitPerPeer);
  }

  /** Records stored for `peer`. */
  recordCount(peer: string): number {
    return this.rings.recordCount(peer);
  }

  /** Peers with stored records, most recently emitting first. */
  trackedPeers(): string[] {
    return this.rings.peers();
  }

  get storedRecordCount(): number {
    return this.rings.storedRecordCount;
  }

  get recordsPerPeerMax(): number {
    return this.rings.recordsPerPeerMax;
  }

  get peersTrackedMax(): number {
    return this.rings.peersTrackedMax;
  }

  /** Pains counted for `module` (all modules when omitted), optionally only those at `level`. */
  painCount(module?: string, level?: AttentionLevel): number {
    if (module === undefined) {
      if (level === undefined) return this.painsTotal;
      return level >= painLevelMin ? this.recordsByLevel[level]! : 0;
    }
    const c = this.painsByModule.get(module);
    if (c === undefined) return 0;
    if (level === undefined) return c.reduce((a, b) => a + b, 0);
    return level >= painLevelMin ? c[level - painLevelMin]! : 0;
  }

  counters(): VisionCounters {
    const byLevel = Object.fromEntries(
      Array.from(this.recordsByLevel, (n, l) => [levelName(l as AttentionLevel), n]),
    ) as Record<AttentionLevelName, number>;
    const byModule = Object.fromEntries(
      Array.from(this.painsByModule, ([module, counts]) => [
        module,
        Object.fromEntries(
          Array.from(counts, (n, i) => [levelName((i + painLevelMin) as AttentionLevel), n]).filter(
            ([, n]) => n !== 0,
          ),
        ) as Partial<Record<PainLevelName, number>>,
      ]),
    );
    return {
      recordsAccepted: this.recordsAccepted,
      recordsFilteredOut: this.recordsFilteredOut,
      recordsByLevel: byLevel,
      painsTotal: this.painsTotal,
      painsByModule: byModule,
      storedRecordCount: this.rings.storedRecordCount,
      peersTracked: this.rings.peersTracked,
      peersEvicted: this.rings.peersEvicted,
      recordsOverwritten: this.rings.recordsOverwritten,
      snapshotsTaken: this.snapshotsTaken,
      snapshotsSkipped: this.snapshotsSkipped,
      snapshotsNested: this.snapshotsNested,
    };
  }

  /** Forgets stored records (counters and configuration stay). */
  clearRecords(): void {
    this.rings.clear();
  }

  // ---- internals ----

  private recomputeThresholdRange(): void {
    let lo: AttentionThreshold = this.defaultThreshold;
    let hi: AttentionThreshold = this.defaultThreshold;
    for (const t of this.moduleThresholds.values()) {
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    this.thresholdMin = lo;
    this.thresholdMax = hi;
  }

  private countPain(r: VisionRecord): void {
    this.painsTotal++;
    let counts = this.painsByModule.get(r.module);
    if (counts === undefined) {
      // One slot is kept for the overflow key, so the map never exceeds modulesTrackedMax + 1.
      const key = this.painsByModule.size < this.modulesTrackedMax ? r.module : otherModulesKey;
      counts = this.painsByModule.get(key);
      if (counts === undefined) {
        counts = new Float64Array(painLevelCount);
        this.painsByModule.set(key, counts);
      }
    }
    counts[r.level - painLevelMin]!++;
  }

  private callPainHandler(r: VisionRecord): void {
    if (this.inPainHandler) {
      this.snapshotsNested++;
      return;
    }
    if (this.snapshotsTaken >= this.snapshotsMax) {
      this.snapshotsSkipped++;
      return;
    }
    this.snapshotsTaken++;
    this.inPainHandler = true;
    try {
      this.painHandler!(r);
    } finally {
      this.inPainHandler = false;
    }
  }
}
