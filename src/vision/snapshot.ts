/**
 * Pain snapshots: the network around a pain, as the developer looks at it afterwards.
 *
 * When a record at or above the channel's `snapshotLevel` is emitted, the simulator driver captures
 * (sim/vision/capture.ts) the peers with their 8-D points, neighbour lists and status, the failed
 * request's route hop by hop (rebuilt from the `drp.route` hop records its transaction ids name), the
 * recent ring records of the peers on the route and the faults active at that moment. A snapshot is one
 * trace item of kind `traceItemKindSnapshot` (src/vision/trace.ts reserves kinds ≥ 2 for such items, so
 * older readers pass over it). At the end of a run the driver appends one *run log* item: event-hash
 * checkpoints and per-event fingerprints (what `drp-sim replay` compares a rerun against), the fault
 * periods, and delivery/hop series for the visualizer's panels.
 *
 * Bounded everywhere: every list below has a named maximum; a writer clips to it (`boundSnapshot`) and a
 * reader refuses more (`parseSnapshot` returns undefined, which the trace reader reports as `corrupt`).
 * This module is pure (no I/O), so the web app (`vision/`) decodes traces with the same code.
 */
import { type AttentionLevel, isAttentionLevel, levelName } from './attention.js';
import { type Attributes, boundRecord, isAttributeValue, type VisionRecord } from './record.js';
import {
  type TraceHeader,
  type TraceReadErrorCode,
  TraceReader,
  traceFormatVersion,
  traceRecordsReadMax,
} from './trace.js';

export const traceItemKindSnapshot = 2;
export const traceItemKindRunLog = 3;
/** Version of the snapshot and run-log item layouts (inside trace format version 1). */
export const snapshotLayoutVersion = 1;

/** Most peers in one snapshot (beyond the capture's own cap; a reader refuses more). */
export const snapshotPeersMaxLimit = 200_000;
/** Most neighbours kept per peer. */
export const snapshotNeighboursPerPeerMax = 64;
/** Most hops kept per route (every attempt of the failed request, in time order). */
export const snapshotHopsMax = 256;
/** Most candidates kept per hop decision. */
export const snapshotConsideredPerHopMax = 32;
/** Most transaction ids (attempts) kept per route. */
export const snapshotTxsMax = 16;
/** Most ring records kept per snapshot. */
export const snapshotRecordsMax = 4096;
/** Most faults listed per snapshot or run log. */
export const snapshotFaultsMax = 1024;
/** Peers named per fault. */
export const faultPeersMax = 4096;
/** Event-hash checkpoints per run log. */
export const runLogCheckpointsMax = 65_536;
/** Per-event fingerprints per run log (two bytes each). */
export const runLogFingerprintsMax = 1 << 24;
/** Points of each series in a run log. */
export const runLogSeriesPointsMax = 100_000;

export interface SnapshotPeer {
  readonly name: string;
  /** First 16 hex digits of the regID. */
  readonly regId: string;
  /** The 8-D torus point, each coordinate in [0, 1). */
  readonly point: readonly number[];
  /** Indices (into the snapshot's `peers`) of the usable neighbours that are in the snapshot. */
  readonly neighbours: readonly number[];
  /** Usable neighbours left out of the snapshot (or beyond `snapshotNeighboursPerPeerMax`). */
  readonly neighboursOutside: number;
  /** The host is online and the node not stopped. */
  readonly online: boolean;
  /** Why it is not online ('' when online): 'stopped', 'sleep', 'nightly', 'manual'. */
  readonly offline: string;
  /** NAT preset in front of the host ('open', 'fullCone', …, or 'custom'). */
  readonly nat: string;
  /** ISP profile name ('default', 'p2pUdpDrop', …). */
  readonly isp: string;
  /** Mean rating (0..1) of its usable links, as the peer itself rates them; 0 without links. */
  readonly rating: number;
  /** An entry peer (a public server others register through). */
  readonly entry: boolean;
}

export interface SnapshotCandidate {
  /** First 8 hex digits of the candidate's regID. */
  readonly regId: string;
  /** Index into `peers`, or -1 when the candidate is not in the snapshot. */
  readonly peer: number;
  readonly distance: number;
}

export interface SnapshotHop {
  readonly timeMs: number;
  readonly tx: string;
  /** Name of the deciding peer, and its index into `peers` (-1 when not in the snapshot). */
  readonly peerName: string;
  readonly peer: number;
  /** The deciding peer's distance to the target. */
  readonly distance: number;
  /** First 16 hex digits of the chosen next hop ('' when none), its index (-1) and its distance (-1). */
  readonly chosen: string;
  readonly chosenPeer: number;
  readonly chosenDistance: number;
  readonly considered: readonly SnapshotCandidate[];
  /** What the hop did, in words (the hop record's message). */
  readonly decision: string;
  readonly hopsRemaining: number;
}

export interface SnapshotRoute {
  readonly txs: readonly string[];
  readonly sourceName: string;
  readonly source: number;
  /** First 16 hex digits of the target regID, and its index (-1 when nobody in the snapshot holds it). */
  readonly target: string;
  readonly targetPeer: number;
  readonly hops: readonly SnapshotHop[];
}

export interface SnapshotFault {
  /** 'partition', 'isp', 'offline', 'loss', … */
  readonly kind: string;
  readonly startMs: number;
  /** -1: still active at the end of the run. */
  readonly endMs: number;
  readonly description: string;
  readonly peers: readonly string[];
}

export interface PainSnapshot {
  readonly layout: typeof snapshotLayoutVersion;
  /** 1-based number of this snapshot in its run. */
  readonly number: number;
  readonly pain: VisionRecord;
  /** Kernel events dispatched when the pain was emitted, and the running event hash then. */
  readonly eventIndex: number;
  readonly eventHash: string;
  /** Peers in the network, in this snapshot, and how the ones in it were chosen. */
  readonly peersTotal: number;
  readonly selection: 'all' | 'routeNeighbourhood';
  /** Hops of the neighbourhood around the route kept when the network exceeds the cap. */
  readonly neighbourhoodHops: number;
  readonly peers: readonly SnapshotPeer[];
  readonly route: SnapshotRoute | null;
  /** Ring records of the peers on the route (the source, every hop, the target), oldest first. */
  readonly records: readonly VisionRecord[];
  readonly faults: readonly SnapshotFault[];
}

/** An event-hash checkpoint: after `index` events at `timeMs` the running hash was `hash`. */
export interface EventCheckpoint {
  readonly index: number;
  readonly timeMs: number;
  readonly hash: string;
}

export interface RunLog {
  readonly layout: typeof snapshotLayoutVersion;
  /** Events the run dispatched in all. */
  readonly events: number;
  readonly eventHash: string;
  readonly checkpoints: readonly EventCheckpoint[];
  /**
   * Low 16 bits of the running hash after each event, from event 1 on (little-endian u16s); may
   * stop early (bounded by `runLogFingerprintsMax`, or the recorder did not step the run itself).
   */
  readonly fingerprints: Uint8Array;
  readonly faults: readonly SnapshotFault[];
  /** INVITEs by start time: [bucket start ms, sent, delivered]. */
  readonly delivery: readonly (readonly [number, number, number])[];
  /** Delivered INVITEs by hop count: `hops[h]` INVITEs took h hops. */
  readonly hops: readonly number[];
}

// ---- writing ----

function clipList<T>(xs: readonly T[], max: number): readonly T[] {
  return xs.length <= max ? xs : xs.slice(0, max);
}

function boundFault(f: SnapshotFault): SnapshotFault {
  return {
    kind: f.kind.slice(0, 64),
    startMs: f.startMs,
    endMs: f.endMs,
    description: f.description.slice(0, 1024),
    peers: clipList(f.peers, faultPeersMax),
  };
}

/** The snapshot clipped to the limits above (the capture keeps within them; this is the backstop). */
export function boundSnapshot(s: PainSnapshot): PainSnapshot {
  if (s.peers.length > snapshotPeersMaxLimit) {
    throw new RangeError(`snapshot of ${s.peers.length} peers exceeds snapshotPeersMaxLimit`);
  }
  return {
    ...s,
    pain: boundRecord(s.pain),
    peers: s.peers.map((p) =>
      p.neighbours.length <= snapshotNeighboursPerPeerMax
        ? p
        : {
            ...p,
            neighbours: p.neighbours.slice(0, snapshotNeighboursPerPeerMax),
            neighboursOutside: p.neighboursOutside + p.neighbours.length - snapshotNeighboursPerPeerMax,
          },
    ),
    route:
      s.route === null
        ? null
        : {
            ...s.route,
            txs: clipList(s.route.txs, snapshotTxsMax),
            hops: clipList(s.route.hops, snapshotHopsMax).map((h) => ({
              ...h,
              considered: clipList(h.considered, snapshotConsideredPerHopMax),
            })),
          },
    records: clipList(s.records, snapshotRecordsMax).map(boundRecord),
    faults: clipList(s.faults, snapshotFaultsMax).map(boundFault),
  };
}

function recordValue(r: VisionRecord): unknown[] {
  const v: unknown[] = [r.timeMs, r.peer, r.module, r.level, r.message];
  if (r.attributes !== undefined) {
    const a: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(r.attributes)) if (k !== '__proto__') a[k] = x;
    v.push(a);
  }
  return v;
}

/** The fields (after the item kind) of a snapshot item. */
export function snapshotItemFields(snapshot: PainSnapshot): unknown[] {
  const s = boundSnapshot(snapshot);
  return [
    {
      layout: s.layout,
      number: s.number,
      pain: recordValue(s.pain),
      eventIndex: s.eventIndex,
      eventHash: s.eventHash,
      peersTotal: s.peersTotal,
      selection: s.selection,
      neighbourhoodHops: s.neighbourhoodHops,
      peers: s.peers.map((p) => [
        p.name,
        p.regId,
        p.point,
        p.neighbours,
        p.neighboursOutside,
        p.online,
        p.offline,
        p.nat,
        p.isp,
        p.rating,
        p.entry,
      ]),
      route:
        s.route === null
          ? null
          : {
              txs: s.route.txs,
              sourceName: s.route.sourceName,
              source: s.route.source,
              target: s.route.target,
              targetPeer: s.route.targetPeer,
              hops: s.route.hops.map((h) => [
                h.timeMs,
                h.tx,
                h.peerName,
                h.peer,
                h.distance,
                h.chosen,
                h.chosenPeer,
                h.chosenDistance,
                h.considered.map((c) => [c.regId, c.peer, c.distance]),
                h.decision,
                h.hopsRemaining,
              ]),
            },
      records: s.records.map(recordValue),
      faults: s.faults.map(faultValue),
    },
  ];
}

function faultValue(f: SnapshotFault): unknown[] {
  return [f.kind, f.startMs, f.endMs, f.description, f.peers];
}

/** The fields (after the item kind) of a run-log item. */
export function runLogItemFields(log: RunLog): unknown[] {
  const checkpoints = clipList(log.checkpoints, runLogCheckpointsMax);
  const fp =
    log.fingerprints.length <= 2 * runLogFingerprintsMax
      ? log.fingerprints
      : log.fingerprints.subarray(0, 2 * runLogFingerprintsMax);
  return [
    {
      layout: log.layout,
      events: log.events,
      eventHash: log.eventHash,
      checkpoints: checkpoints.map((c) => [c.index, c.timeMs, c.hash]),
      fingerprints: fp,
      faults: clipList(log.faults, snapshotFaultsMax).map((f) => faultValue(boundFault(f))),
      delivery: clipList(log.delivery, runLogSeriesPointsMax),
      hops: clipList(log.hops, runLogSeriesPointsMax),
    },
  ];
}

// ---- reading ----

function isMap(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}
const isStr = (x: unknown): x is string => typeof x === 'string';
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isList = (x: unknown, max: number): x is unknown[] => Array.isArray(x) && x.length <= max;

function parseRecordValue(x: unknown): VisionRecord | undefined {
  if (!Array.isArray(x) || (x.length !== 5 && x.length !== 6)) return undefined;
  const [timeMs, peer, module, level, message, attributes] = x as unknown[];
  if (!isNum(timeMs) || !isStr(peer) || !isStr(module) || !isStr(message) || !isAttentionLevel(level)) {
    return undefined;
  }
  const base = { timeMs, peer, module, level: level as AttentionLevel, message };
  if (x.length === 5) return base;
  if (!isMap(attributes)) return undefined;
  for (const v of Object.values(attributes)) if (!isAttributeValue(v)) return undefined;
  return { ...base, attributes: attributes as Attributes };
}

function parseFault(x: unknown): SnapshotFault | undefined {
  if (!Array.isArray(x) || x.length !== 5) return undefined;
  const [kind, startMs, endMs, description, peers] = x as unknown[];
  if (!isStr(kind) || !isNum(startMs) || !isNum(endMs) || !isStr(description)) return undefined;
  if (!isList(peers, faultPeersMax) || !peers.every(isStr)) return undefined;
  return { kind, startMs, endMs, description, peers };
}

function parseList<T>(x: unknown, max: number, parse: (v: unknown) => T | undefined): T[] | undefined {
  if (!isList(x, max)) return undefined;
  const out: T[] = [];
  for (const v of x) {
    const p = parse(v);
    if (p === undefined) return undefined;
    out.push(p);
  }
  return out;
}

function parsePeer(x: unknown, peerCount: number): SnapshotPeer | undefined {
  if (!Array.isArray(x) || x.length !== 11) return undefined;
  const [name, regId, point, neighbours, outside, online, offline, nat, isp, rating, entry] = x as unknown[];
  if (!isStr(name) || !isStr(regId) || !isStr(offline) || !isStr(nat) || !isStr(isp)) return undefined;
  if (!isList(point, 16) || point.length === 0 || !point.every(isNum)) return undefined;
  if (!isList(neighbours, snapshotNeighboursPerPeerMax)) return undefined;
  for (const n of neighbours) if (!isInt(n) || n < 0 || n >= peerCount) return undefined;
  if (!isInt(outside) || outside < 0 || typeof online !== 'boolean' || typeof entry !== 'boolean') {
    return undefined;
  }
  if (!isNum(rating)) return undefined;
  return {
    name,
    regId,
    point: point as number[],
    neighbours: neighbours as number[],
    neighboursOutside: outside,
    online,
    offline,
    nat,
    isp,
    rating,
    entry,
  };
}

const peerIndexOk = (x: unknown, peerCount: number): x is number => isInt(x) && x >= -1 && x < peerCount;

function parseHop(x: unknown, peerCount: number): SnapshotHop | undefined {
  if (!Array.isArray(x) || x.length !== 11) return undefined;
  const [
    timeMs,
    tx,
    peerName,
    peer,
    distance,
    chosen,
    chosenPeer,
    chosenDistance,
    considered,
    decision,
    hops,
  ] = x as unknown[];
  if (!isNum(timeMs) || !isStr(tx) || !isStr(peerName) || !peerIndexOk(peer, peerCount)) return undefined;
  if (!isNum(distance) || !isStr(chosen) || !peerIndexOk(chosenPeer, peerCount)) return undefined;
  if (!isNum(chosenDistance) || !isStr(decision) || !isInt(hops)) return undefined;
  const cands = parseList(considered, snapshotConsideredPerHopMax, (c) => {
    if (!Array.isArray(c) || c.length !== 3) return undefined;
    const [regId, p, d] = c as unknown[];
    if (!isStr(regId) || !peerIndexOk(p, peerCount) || !isNum(d)) return undefined;
    return { regId, peer: p, distance: d };
  });
  if (cands === undefined) return undefined;
  return {
    timeMs,
    tx,
    peerName,
    peer,
    distance,
    chosen,
    chosenPeer,
    chosenDistance,
    considered: cands,
    decision,
    hopsRemaining: hops,
  };
}

function parseRoute(x: unknown, peerCount: number): SnapshotRoute | null | undefined {
  if (x === null) return null;
  if (!isMap(x)) return undefined;
  const { txs, sourceName, source, target, targetPeer, hops } = x;
  if (!isList(txs, snapshotTxsMax) || !txs.every(isStr)) return undefined;
  if (!isStr(sourceName) || !peerIndexOk(source, peerCount)) return undefined;
  if (!isStr(target) || !peerIndexOk(targetPeer, peerCount)) return undefined;
  const parsed = parseList(hops, snapshotHopsMax, (h) => parseHop(h, peerCount));
  if (parsed === undefined) return undefined;
  return { txs, sourceName, source, target, targetPeer, hops: parsed };
}

/** A snapshot item's fields (after the kind), or undefined when they are not a valid snapshot. */
export function parseSnapshot(fields: readonly unknown[]): PainSnapshot | undefined {
  if (fields.length !== 1 || !isMap(fields[0])) return undefined;
  const s = fields[0];
  if (s.layout !== snapshotLayoutVersion) return undefined;
  const { number, eventIndex, eventHash, peersTotal, selection, neighbourhoodHops } = s;
  if (!isInt(number) || !isInt(eventIndex) || !isStr(eventHash) || !isInt(peersTotal)) return undefined;
  if (selection !== 'all' && selection !== 'routeNeighbourhood') return undefined;
  if (!isInt(neighbourhoodHops)) return undefined;
  const pain = parseRecordValue(s.pain);
  if (pain === undefined) return undefined;
  if (!isList(s.peers, snapshotPeersMaxLimit)) return undefined;
  const peerCount = s.peers.length;
  const peers = parseList(s.peers, snapshotPeersMaxLimit, (p) => parsePeer(p, peerCount));
  const route = parseRoute(s.route, peerCount);
  const records = parseList(s.records, snapshotRecordsMax, parseRecordValue);
  const faults = parseList(s.faults, snapshotFaultsMax, parseFault);
  if (peers === undefined || route === undefined || records === undefined || faults === undefined) {
    return undefined;
  }
  return {
    layout: snapshotLayoutVersion,
    number,
    pain,
    eventIndex,
    eventHash,
    peersTotal,
    selection,
    neighbourhoodHops,
    peers,
    route,
    records,
    faults,
  };
}

/** A run-log item's fields (after the kind), or undefined when they are not a valid run log. */
export function parseRunLog(fields: readonly unknown[]): RunLog | undefined {
  if (fields.length !== 1 || !isMap(fields[0])) return undefined;
  const l = fields[0];
  if (l.layout !== snapshotLayoutVersion) return undefined;
  const { events, eventHash, fingerprints } = l;
  if (!isInt(events) || !isStr(eventHash)) return undefined;
  if (!(fingerprints instanceof Uint8Array) || fingerprints.length % 2 !== 0) return undefined;
  if (fingerprints.length > 2 * runLogFingerprintsMax) return undefined;
  const checkpoints = parseList(l.checkpoints, runLogCheckpointsMax, (c) => {
    if (!Array.isArray(c) || c.length !== 3) return undefined;
    const [index, timeMs, hash] = c as unknown[];
    return isInt(index) && isNum(timeMs) && isStr(hash) ? { index, timeMs, hash } : undefined;
  });
  const faults = parseList(l.faults, snapshotFaultsMax, parseFault);
  const delivery = parseList(l.delivery, runLogSeriesPointsMax, (p) =>
    Array.isArray(p) && p.length === 3 && p.every(isNum)
      ? (p as unknown as [number, number, number])
      : undefined,
  );
  const hops = parseList(l.hops, runLogSeriesPointsMax, (h) => (isInt(h) ? h : undefined));
  if (checkpoints === undefined || faults === undefined || delivery === undefined || hops === undefined) {
    return undefined;
  }
  return {
    layout: snapshotLayoutVersion,
    events,
    eventHash,
    checkpoints,
    fingerprints,
    faults,
    delivery,
    hops,
  };
}

/** The fingerprint of event `index` (1-based) in a run log, or undefined beyond what it holds. */
export function fingerprintAt(log: RunLog, index: number): number | undefined {
  const at = 2 * (index - 1);
  if (index < 1 || at + 1 >= log.fingerprints.length) return undefined;
  return log.fingerprints[at]! | (log.fingerprints[at + 1]! << 8);
}

/** The low 16 bits of a 16-hex-digit event hash: an event's fingerprint. */
export function fingerprintOfHash(hashHex: string): number {
  return Number.parseInt(hashHex.slice(-4), 16) & 0xffff;
}

// ---- a whole vision trace ----

export type VisionTraceErrorCode = TraceReadErrorCode;

export type VisionTraceResult =
  | {
      readonly ok: true;
      readonly header: TraceHeader;
      readonly records: readonly VisionRecord[];
      readonly snapshots: readonly PainSnapshot[];
      readonly runLog: RunLog | undefined;
      /** The trace has no end item (the run died or is still writing); what was complete is here. */
      readonly truncated: boolean;
      /** Items of kinds this reader does not know (written by a later compatible writer). */
      readonly unknownItems: number;
    }
  | {
      readonly ok: false;
      readonly code: VisionTraceErrorCode;
      readonly offset: number;
      readonly message: string;
    };

/** A sentence for a trace that cannot be read, for the CLI and the page alike. */
export function describeTraceError(code: VisionTraceErrorCode, offset: number): string {
  switch (code) {
    case 'notATrace':
      return 'not a dcomms trace (the file does not start with a dcomms-trace header)';
    case 'truncatedHeader':
      return 'the trace is cut off inside its header (the run died at once, or the file was truncated)';
    case 'newerVersion':
      return `the trace was written by a newer version of the format than this build reads (version ${traceFormatVersion}); update the project to read it`;
    case 'corrupt':
      return `the trace is corrupt at byte ${offset} (an item that is not valid)`;
    case 'tooLarge':
      return `the trace holds more records than this reader accepts (${traceRecordsReadMax})`;
  }
}

/** Reads a trace with its snapshots and run log. Never throws. */
export function readVisionTrace(bytes: Uint8Array, recordsMax = traceRecordsReadMax): VisionTraceResult {
  const fail = (code: VisionTraceErrorCode, offset: number): VisionTraceResult => ({
    ok: false,
    code,
    offset,
    message: describeTraceError(code, offset),
  });
  const reader = new TraceReader(bytes);
  const h = reader.readHeader();
  if (!h.ok) return fail(h.code, h.offset);
  const records: VisionRecord[] = [];
  const snapshots: PainSnapshot[] = [];
  let runLog: RunLog | undefined;
  let unknownItems = 0;
  for (;;) {
    const at = reader.offset;
    const item = reader.next();
    switch (item.kind) {
      case 'record':
        if (records.length >= recordsMax) return fail('tooLarge', at);
        records.push(item.record);
        break;
      case 'other': {
        if (item.itemKind === traceItemKindSnapshot) {
          const s = parseSnapshot(item.fields);
          if (s === undefined) return fail('corrupt', at);
          snapshots.push(s);
        } else if (item.itemKind === traceItemKindRunLog) {
          const l = parseRunLog(item.fields);
          if (l === undefined) return fail('corrupt', at);
          runLog = l;
        } else unknownItems++;
        break;
      }
      case 'end': {
        if (item.recordCount !== records.length) return fail('corrupt', at);
        const rest = reader.next();
        if (rest.kind === 'corrupt') return fail('corrupt', rest.offset);
        return { ok: true, header: h.header, records, snapshots, runLog, truncated: false, unknownItems };
      }
      case 'done':
      case 'eof':
      case 'truncated':
        return { ok: true, header: h.header, records, snapshots, runLog, truncated: true, unknownItems };
      case 'corrupt':
        return fail('corrupt', item.offset);
    }
  }
}

/** One line naming a snapshot's pain, e.g. `#1 t=93.2 s strongPain U3: INVITE failed: …`. */
export function painTitle(s: PainSnapshot, epochMs = 0): string {
  const t = ((s.pain.timeMs - epochMs) / 1000).toFixed(1);
  return `#${s.number} t=${t} s ${levelName(s.pain.level)} ${s.pain.peer}: ${s.pain.message}`;
}
