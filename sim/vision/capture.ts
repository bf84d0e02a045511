/**
 * Pain snapshots on the simulator: the driver's side of src/vision/snapshot.ts.
 *
 * `SnapshotCapture` installs the vision channel's `onPain` handler. When a record at or above the
 * configured level is emitted (a failed INVITE is a strong pain), it captures, synchronously and inside
 * the event that raised the pain:
 * - the peers (every registration of every node, up to `peersMax`; beyond it the `neighbourhoodHops`-hop
 *   neighbourhood of the route plus the count of the rest) with their 8-D points, usable neighbours and
 *   status (online or why not, NAT preset, ISP profile, mean link rating);
 * - the failed request's route hop by hop, rebuilt from the `drp.route` hop records its transaction ids
 *   name (the capture keeps a bounded index of them by transaction id): the deciding peer, its distance
 *   to the target, the candidates it considered with their distances, and what it decided;
 * - the ring records of the peers on the route, and the faults active at that moment (the scenario's
 *   `FaultLog` plus what the hosts say: offline, behind a P2P-dropping ISP);
 * - the kernel's event count and running hash, so `drp-sim replay` can check a rerun reaches the same
 *   state at the same event.
 *
 * It also keeps the run log: event-hash checkpoints at every record of `checkpointLevel` or above and at
 * every pain, and, when the run is stepped through `runRecorded`, a 16-bit fingerprint of the hash after
 * every event, which lets a replay name the very first event at which it differs.
 *
 * Capturing only observes: it schedules no event and draws no random number, so a run with capture has
 * the same event hash as one without. Bounded: `snapshotsMax` snapshots, `peersMax` peers each, the hop
 * index (`hopIndexTxsMax` transactions × `hopsPerTxMax` records), checkpoints (thinned to every other
 * one when full) and fingerprints (`runLogFingerprintsMax`).
 */
import type { DrpEngine, LocalPeer } from '../../src/drp/engine.js';
import { visionRouteModule } from '../../src/drp/engine.js';
import { axisRingSize } from '../../src/id/geometry.js';
import { AttentionLevel, type AttentionThreshold } from '../../src/vision/attention.js';
import type { VisionChannel } from '../../src/vision/channel.js';
import type { VisionRecord } from '../../src/vision/record.js';
import {
  type EventCheckpoint,
  fingerprintOfHash,
  type PainSnapshot,
  type RunLog,
  runLogCheckpointsMax,
  runLogFingerprintsMax,
  type SnapshotCandidate,
  type SnapshotFault,
  type SnapshotHop,
  type SnapshotPeer,
  type SnapshotRoute,
  snapshotConsideredPerHopMax,
  snapshotFaultsMax,
  snapshotHopsMax,
  snapshotLayoutVersion,
  snapshotNeighboursPerPeerMax,
  snapshotPeersMaxLimit,
  snapshotRecordsMax,
  snapshotTxsMax,
} from '../../src/vision/snapshot.js';
import type { Kernel } from '../kernel/kernel.js';
import { natPresets } from '../network/nat.js';
import type { SimHost } from '../network/network.js';

/** What the capture needs of a simulated node (`SimDrpNode` has it). */
export interface CaptureNode {
  readonly name: string;
  readonly engine: DrpEngine;
  readonly host: SimHost;
  readonly stopped: boolean;
}

export interface SnapshotConfig {
  /** Pains at or above this level are captured; default `strongPain`. */
  readonly level?: AttentionThreshold;
  /** Peers captured in full up to this many; default 2,000. */
  readonly peersMax?: number;
  /** Beyond `peersMax`: hops of the route's neighbourhood kept; default 2. */
  readonly neighbourhoodHops?: number;
  /** Ring records per route peer; default 32. */
  readonly recordsPerPeer?: number;
  /** Snapshots per run; default 20 (further pains are counted by the channel). */
  readonly snapshotsMax?: number;
  /** Records at or above this level also leave an event-hash checkpoint; default `needsAttention`. */
  readonly checkpointLevel?: AttentionThreshold;
}

export const snapshotConfigDefault = {
  level: AttentionLevel.strongPain,
  peersMax: 2000,
  neighbourhoodHops: 2,
  recordsPerPeer: 32,
  snapshotsMax: 20,
  checkpointLevel: AttentionLevel.needsAttention,
} as const;

/** Transactions whose hop records the capture indexes (least recently seen forgotten first). */
export const hopIndexTxsMax = 8192;
/** Hop records kept per transaction. */
export const hopsPerTxMax = 64;

export interface FaultHandle {
  /** Marks the fault over at `timeMs` (now, by default). */
  end(timeMs: number): void;
}

/**
 * The faults a scenario injected (partitions, cut links, ISP rules it switched on), with their periods,
 * for snapshots and the visualizer's timeline. Bounded by `snapshotFaultsMax`; further faults are counted.
 */
export class FaultLog {
  private readonly entries: { -readonly [K in keyof SnapshotFault]: SnapshotFault[K] }[] = [];
  faultsDropped = 0;

  add(f: SnapshotFault): FaultHandle {
    if (this.entries.length >= snapshotFaultsMax) {
      this.faultsDropped++;
      return { end: () => {} };
    }
    const entry = { ...f, peers: [...f.peers] };
    this.entries.push(entry);
    return {
      end: (timeMs) => {
        if (entry.endMs < 0 || timeMs < entry.endMs) entry.endMs = timeMs;
      },
    };
  }

  /** Every fault of the run. */
  all(): SnapshotFault[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** Faults active at `timeMs`. */
  activeAt(timeMs: number): SnapshotFault[] {
    return this.entries.filter((e) => e.startMs <= timeMs && (e.endMs < 0 || timeMs < e.endMs));
  }
}

/** The NAT preset whose configuration a host's box has ('open' without a box, 'custom' for others). */
export function natPresetOf(host: SimHost): string {
  if (host.box === null) return 'open';
  const c = host.box.nat.config;
  for (const [name, p] of Object.entries(natPresets)) {
    if (
      p.mapping === c.mapping &&
      p.filtering === c.filtering &&
      p.portAllocation === c.portAllocation &&
      p.hairpinning === c.hairpinning
    ) {
      return name;
    }
  }
  return 'custom';
}

function checkInt(name: string, x: number, min: number, max: number): number {
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${x}`);
  }
  return x;
}

interface PeerEntry {
  readonly node: CaptureNode;
  readonly peer: LocalPeer;
}

/** A growable byte buffer for fingerprints, bounded by `runLogFingerprintsMax` events. */
class FingerprintLog {
  private bytes = new Uint8Array(1 << 16);
  private length = 0;
  dropped = 0;

  push(fp: number): void {
    if (this.length >= 2 * runLogFingerprintsMax) {
      this.dropped++;
      return;
    }
    if (this.length + 2 > this.bytes.length) {
      const next = new Uint8Array(Math.min(2 * runLogFingerprintsMax, this.bytes.length * 2));
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes[this.length++] = fp & 0xff;
    this.bytes[this.length++] = (fp >>> 8) & 0xff;
  }

  get events(): number {
    return this.length / 2;
  }

  view(events = this.events): Uint8Array {
    return this.bytes.slice(0, 2 * Math.min(events, this.events));
  }
}

export interface SnapshotCaptureOptions {
  readonly vision: VisionChannel;
  readonly kernel: Kernel;
  /** The run's nodes at the moment of a pain (stopped ones included: they show as offline). */
  readonly nodes: () => Iterable<CaptureNode>;
  readonly faults?: FaultLog;
  readonly config?: SnapshotConfig;
}

export class SnapshotCapture {
  readonly config: Required<SnapshotConfig>;
  readonly snapshots: PainSnapshot[] = [];
  readonly faults: FaultLog;
  private readonly vision: VisionChannel;
  private readonly kernel: Kernel;
  private readonly nodes: () => Iterable<CaptureNode>;
  private readonly hopIndex = new Map<string, VisionRecord[]>();
  private checkpoints: EventCheckpoint[] = [];
  /** Record checkpoints only every `checkpointStride`-th record (doubles when the list is thinned). */
  private checkpointStride = 1;
  private recordsSeen = 0;
  private readonly fingerprints = new FingerprintLog();
  /** Whether every event so far went through `runRecorded` (else the fingerprints stop). */
  private fingerprintsComplete = true;

  constructor(opts: SnapshotCaptureOptions) {
    const c = { ...snapshotConfigDefault, ...opts.config };
    checkInt('snapshot peersMax', c.peersMax, 1, snapshotPeersMaxLimit);
    checkInt('snapshot neighbourhoodHops', c.neighbourhoodHops, 0, 16);
    checkInt('snapshot recordsPerPeer', c.recordsPerPeer, 0, snapshotRecordsMax);
    checkInt('snapshot snapshotsMax', c.snapshotsMax, 0, 10_000);
    this.config = c;
    this.vision = opts.vision;
    this.kernel = opts.kernel;
    this.nodes = opts.nodes;
    this.faults = opts.faults ?? new FaultLog();
    this.vision.snapshotLevel = c.level;
    if (this.vision.threshold(visionRouteModule) > AttentionLevel.detail) {
      this.vision.setThreshold(visionRouteModule, AttentionLevel.detail);
    }
    this.vision.onRecord((r) => this.onRecord(r));
    this.vision.onPain((r) => this.onPain(r));
  }

  /**
   * Runs the kernel up to `untilMs` (as `kernel.run` does) one event at a time, recording each event's
   * fingerprint. A run stepped only through here has a fingerprint for every event.
   */
  runRecorded(untilMs: number): void {
    const k = this.kernel;
    if (k.eventsDispatched !== this.fingerprints.events) this.fingerprintsComplete = false;
    while (k.nextEventTime() <= untilMs) {
      k.step();
      if (this.fingerprintsComplete) this.fingerprints.push(fingerprintOfHash(k.eventHash));
    }
    k.run(untilMs);
  }

  /** The run log as it stands (call at the end of the run). Fingerprints only when they cover every event. */
  runLog(series: Pick<RunLog, 'delivery' | 'hops'> = { delivery: [], hops: [] }): RunLog {
    const k = this.kernel;
    const complete = this.fingerprintsComplete && this.fingerprints.events === k.eventsDispatched;
    return {
      layout: snapshotLayoutVersion,
      events: k.eventsDispatched,
      eventHash: k.eventHash,
      checkpoints: [...this.checkpoints, { index: k.eventsDispatched, timeMs: k.now(), hash: k.eventHash }],
      fingerprints: complete ? this.fingerprints.view() : new Uint8Array(0),
      faults: this.faults.all(),
      delivery: series.delivery,
      hops: series.hops,
    };
  }

  // ---- listening ----

  private onRecord(r: VisionRecord): void {
    if (r.module === visionRouteModule) {
      const tx = r.attributes?.tx;
      if (typeof tx === 'string' && tx.startsWith('I')) this.indexHop(tx, r);
    }
    if (r.level >= this.config.checkpointLevel && this.recordsSeen++ % this.checkpointStride === 0) {
      this.checkpoint();
    }
  }

  private indexHop(tx: string, r: VisionRecord): void {
    let hops = this.hopIndex.get(tx);
    if (hops === undefined) {
      if (this.hopIndex.size >= hopIndexTxsMax) {
        const oldest = this.hopIndex.keys().next();
        if (!oldest.done) this.hopIndex.delete(oldest.value);
      }
      hops = [];
      this.hopIndex.set(tx, hops);
    }
    if (hops.length < hopsPerTxMax) hops.push(r);
  }

  private checkpoint(): void {
    const k = this.kernel;
    const index = k.eventsDispatched;
    const last = this.checkpoints.at(-1);
    if (last !== undefined && last.index === index) return;
    if (this.checkpoints.length >= runLogCheckpointsMax - 1) {
      this.checkpoints = this.checkpoints.filter((_, i) => i % 2 === 1);
      this.checkpointStride *= 2;
    }
    this.checkpoints.push({ index, timeMs: k.now(), hash: k.eventHash });
  }

  private onPain(pain: VisionRecord): void {
    this.checkpoint();
    if (this.snapshots.length >= this.config.snapshotsMax) return;
    this.snapshots.push(this.capture(pain));
  }

  // ---- capturing ----

  /** Builds the snapshot of the network around `pain` now. */
  capture(pain: VisionRecord): PainSnapshot {
    const k = this.kernel;
    const now = k.now();
    const entries: PeerEntry[] = [];
    for (const node of this.nodes()) for (const peer of node.engine.localPeers) entries.push({ node, peer });
    const byRegId = new Map<string, number>();
    const byName = new Map<string, number>();
    entries.forEach((e, i) => {
      byRegId.set(e.peer.regIdHex, i);
      if (!byName.has(e.peer.name)) byName.set(e.peer.name, i);
    });
    const adjacency = entries.map((e) => {
      const out: number[] = [];
      for (const l of e.peer.neighbors.values()) {
        if (!l.usable) continue;
        const j = byRegId.get(l.remoteRegIdHex);
        if (j !== undefined) out.push(j);
      }
      return out;
    });
    const prefix16 = new Map<string, number>();
    const prefix8 = new Map<string, number>();
    entries.forEach((e, i) => {
      prefix16.set(e.peer.regIdHex.slice(0, 16), i);
      prefix8.set(e.peer.regIdHex.slice(0, 8), i);
    });

    // The route, in whole-network indices first.
    const txsText = pain.attributes?.txs;
    const txs =
      typeof txsText === 'string' && txsText !== '' ? txsText.split(' ').slice(0, snapshotTxsMax) : [];
    const responder = pain.attributes?.responder;
    const hopRecords = txs
      .flatMap((tx, order) => (this.hopIndex.get(tx) ?? []).map((r) => ({ r, order })))
      .sort((a, b) => a.r.timeMs - b.r.timeMs || a.order - b.order)
      .slice(0, snapshotHopsMax)
      .map((x) => x.r);
    const sourceIndex = byName.get(pain.peer) ?? -1;
    const targetIndex = typeof responder === 'string' ? (prefix16.get(responder) ?? -1) : -1;
    const onRoute = new Set<number>();
    if (sourceIndex >= 0) onRoute.add(sourceIndex);
    if (targetIndex >= 0) onRoute.add(targetIndex);
    for (const h of hopRecords) {
      const i = byName.get(h.peer);
      if (i !== undefined) onRoute.add(i);
      const c = h.attributes?.chosen;
      if (typeof c === 'string' && c !== '') {
        const j = prefix16.get(c);
        if (j !== undefined) onRoute.add(j);
      }
    }

    // Which peers: all, or the route's neighbourhood up to the cap.
    const { peersMax, neighbourhoodHops } = this.config;
    let chosen: number[];
    let selection: PainSnapshot['selection'] = 'all';
    if (entries.length <= peersMax) chosen = entries.map((_, i) => i);
    else {
      selection = 'routeNeighbourhood';
      const seen = new Set<number>([...onRoute].slice(0, peersMax));
      let frontier = [...seen];
      for (let hop = 0; hop < neighbourhoodHops && seen.size < peersMax; hop++) {
        const next: number[] = [];
        for (const i of frontier) {
          for (const j of adjacency[i]!) {
            if (seen.size >= peersMax) break;
            if (!seen.has(j)) {
              seen.add(j);
              next.push(j);
            }
          }
        }
        frontier = next;
      }
      chosen = [...seen].sort((a, b) => a - b);
    }
    const local = new Map<number, number>();
    chosen.forEach((g, i) => {
      local.set(g, i);
    });
    const at = (g: number | undefined): number => (g === undefined ? -1 : (local.get(g) ?? -1));

    const peers: SnapshotPeer[] = chosen.map((g) => {
      const { node, peer } = entries[g]!;
      const all = adjacency[g]!;
      const inside = all.map((j) => local.get(j)).filter((j): j is number => j !== undefined);
      const kept = inside.slice(0, snapshotNeighboursPerPeerMax);
      let ratingSum = 0;
      let links = 0;
      for (const l of peer.neighbors.values()) {
        if (!l.usable) continue;
        ratingSum += l.rating();
        links++;
      }
      const host = node.host;
      const offline = node.stopped ? 'stopped' : host.online ? '' : host.offlineBecause.join('+');
      return {
        name: peer.name,
        regId: peer.regIdHex.slice(0, 16),
        point: Array.from(peer.point, (c) => Number((c / axisRingSize).toFixed(7))),
        neighbours: kept,
        neighboursOutside: peer.usableLinkCount() - kept.length,
        online: offline === '',
        offline,
        nat: natPresetOf(host),
        isp: host.isp.name,
        rating: links === 0 ? 0 : Number((ratingSum / links).toFixed(4)),
        entry: host.kind === 'server',
      };
    });

    let route: SnapshotRoute | null = null;
    if (txs.length > 0 || hopRecords.length > 0) {
      route = {
        txs,
        sourceName: pain.peer,
        source: at(sourceIndex >= 0 ? sourceIndex : undefined),
        target: typeof responder === 'string' ? responder : '',
        targetPeer: at(targetIndex >= 0 ? targetIndex : undefined),
        hops: hopRecords.map((r) => this.hopOf(r, byName, prefix16, prefix8, at)),
      };
    }

    const routeNames = [...onRoute].map((i) => entries[i]!.peer.name);
    if (!routeNames.includes(pain.peer)) routeNames.unshift(pain.peer);
    const records = this.vision
      .recentRecordsOf(routeNames, this.config.recordsPerPeer)
      .slice(-snapshotRecordsMax);

    return {
      layout: snapshotLayoutVersion,
      number: this.snapshots.length + 1,
      pain,
      eventIndex: k.eventsDispatched,
      eventHash: k.eventHash,
      peersTotal: entries.length,
      selection,
      neighbourhoodHops: selection === 'all' ? 0 : neighbourhoodHops,
      peers,
      route,
      records,
      faults: this.activeFaults(now, entries),
    };
  }

  private hopOf(
    r: VisionRecord,
    byName: ReadonlyMap<string, number>,
    prefix16: ReadonlyMap<string, number>,
    prefix8: ReadonlyMap<string, number>,
    at: (g: number | undefined) => number,
  ): SnapshotHop {
    const a = r.attributes ?? {};
    const num = (x: unknown, d: number): number => (typeof x === 'number' && Number.isFinite(x) ? x : d);
    const chosen = typeof a.chosen === 'string' ? a.chosen : '';
    const considered: SnapshotCandidate[] = [];
    if (typeof a.considered === 'string' && a.considered !== '') {
      for (const token of a.considered.split(' ').slice(0, snapshotConsideredPerHopMax)) {
        const [regId = '', d = ''] = token.split(':');
        const distance = Number(d);
        considered.push({
          regId,
          peer: at(prefix8.get(regId)),
          distance: Number.isFinite(distance) ? distance : -1,
        });
      }
    }
    return {
      timeMs: r.timeMs,
      tx: typeof a.tx === 'string' ? a.tx : '',
      peerName: r.peer,
      peer: at(byName.get(r.peer)),
      distance: num(a.distance, -1),
      chosen,
      chosenPeer: chosen === '' ? -1 : at(prefix16.get(chosen)),
      chosenDistance: num(a.chosenDistance, -1),
      considered,
      decision: r.message,
      hopsRemaining: num(a.hopsRemaining, -1),
    };
  }

  private activeFaults(now: number, entries: readonly PeerEntry[]): SnapshotFault[] {
    const out = this.faults.activeAt(now);
    const byIsp = new Map<string, string[]>();
    const byOffline = new Map<string, string[]>();
    const seenHosts = new Set<number>();
    for (const { node, peer } of entries) {
      if (seenHosts.has(node.host.id)) continue;
      seenHosts.add(node.host.id);
      if (Number.isFinite(node.host.isp.p2pDropAfterPackets)) {
        const list = byIsp.get(node.host.isp.name) ?? [];
        list.push(peer.name);
        byIsp.set(node.host.isp.name, list);
      }
      if (!node.stopped && !node.host.online) {
        const why = node.host.offlineBecause.join('+');
        const list = byOffline.get(why) ?? [];
        list.push(peer.name);
        byOffline.set(why, list);
      }
    }
    const start = this.kernel.epochMs;
    for (const [isp, names] of byIsp) {
      out.push({
        kind: 'isp',
        startMs: start,
        endMs: -1,
        description: `ISP ${isp} drops UDP between consumer endpoints`,
        peers: names,
      });
    }
    for (const [why, names] of byOffline) {
      out.push({ kind: 'offline', startMs: now, endMs: -1, description: `offline (${why})`, peers: names });
    }
    return out.slice(0, snapshotFaultsMax);
  }
}
