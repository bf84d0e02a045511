/**
 * Vision channel costs: what a filtered-out record costs a caller (`wants`), what an accepted record
 * costs (`emit` into the per-peer rings), and what writing a record to a trace costs, each against a
 * baseline in the same run.
 */
import { Encoder } from '@msgpack/msgpack';
import { AttentionLevel } from '../src/vision/attention.js';
import { VisionChannel } from '../src/vision/channel.js';
import type { VisionRecord } from '../src/vision/record.js';
import { encodeTraceItem } from '../src/vision/trace.js';
import { type BenchFigures, type BenchOptions, opsPerSec, round3 } from './lib.js';

const opsPerCall = 1000;

export async function run(_opts: BenchOptions): Promise<BenchFigures> {
  const modules = ['reg.proxy', 'inv.proxy', 'udp', 'p2p'];
  const peers = Array.from({ length: 100 }, (_, i) => `peer${i}`);
  const v = new VisionChannel({
    defaultThreshold: AttentionLevel.guiActivity,
    moduleThresholds: { 'inv.proxy': AttentionLevel.detail },
    recordsPerPeerMax: 128,
    peersTrackedMax: 1024,
  });
  let sink = 0;

  // 1. wants() for a record below every threshold, vs. one comparison with a constant.
  const threshold = AttentionLevel.guiActivity as number;
  let level: number = AttentionLevel.deepDetail;
  const wantsFiltered = opsPerSec(
    () => {
      for (let i = 0; i < opsPerCall; i++) if (v.wants(modules[i & 3]!, AttentionLevel.deepDetail)) sink++;
    },
    { opsPerCall },
  );
  const compareBaseline = opsPerSec(
    () => {
      for (let i = 0; i < opsPerCall; i++) if (level >= threshold) sink++;
      level = (level + 1) & 1;
    },
    { opsPerCall },
  );
  // 2. wants() that must look the module up (level between the lowest and highest thresholds).
  const wantsLookup = opsPerSec(
    () => {
      for (let i = 0; i < opsPerCall; i++) if (v.wants(modules[i & 3]!, AttentionLevel.detail)) sink++;
    },
    { opsPerCall },
  );

  // 3. emit() of accepted records (ring store, counters), vs. storing the records in a plain array ring.
  const records: VisionRecord[] = Array.from({ length: 4096 }, (_, i) => ({
    timeMs: i,
    peer: peers[i % peers.length]!,
    module: 'inv.proxy',
    level: AttentionLevel.detail,
    message: 'forwarding INVITE',
    attributes: { hop: i % 30, rttMs: 12 },
  }));
  let k = 0;
  const emitAccepted = opsPerSec(
    () => {
      for (let i = 0; i < opsPerCall; i++) v.emit(records[k++ & 4095]!);
    },
    { opsPerCall },
  );
  const plainRing: (VisionRecord | undefined)[] = new Array(128 * 1024).fill(undefined);
  let at = 0;
  const arrayRingBaseline = opsPerSec(
    () => {
      for (let i = 0; i < opsPerCall; i++) {
        plainRing[at] = records[k++ & 4095]!;
        at = at + 1 === plainRing.length ? 0 : at + 1;
      }
    },
    { opsPerCall },
  );

  // 4. A record framed as a trace item, vs. a bare msgpack encode of the same fields.
  const encoder = new Encoder();
  const traceEncode = opsPerSec(
    () => {
      for (let i = 0; i < 100; i++)
        sink += encodeTraceItem({ kind: 'record', record: records[k++ & 4095]! }).length;
    },
    { opsPerCall: 100 },
  );
  const msgpackBaseline = opsPerSec(
    () => {
      for (let i = 0; i < 100; i++) {
        const r = records[k++ & 4095]!;
        sink += encoder.encode([1, r.timeMs, r.peer, r.module, r.level, r.message, r.attributes]).length;
      }
    },
    { opsPerCall: 100 },
  );

  return {
    wantsFilteredOutPerSec: round3(wantsFiltered),
    compareBaselinePerSec: round3(compareBaseline),
    wantsFilteredOutVsCompare: round3(wantsFiltered / compareBaseline),
    wantsModuleLookupPerSec: round3(wantsLookup),
    emitAcceptedPerSec: round3(emitAccepted),
    arrayRingBaselinePerSec: round3(arrayRingBaseline),
    emitVsArrayRing: round3(emitAccepted / arrayRingBaseline),
    traceEncodeRecordPerSec: round3(traceEncode),
    msgpackEncodeBaselinePerSec: round3(msgpackBaseline),
    traceEncodeVsMsgpack: round3(traceEncode / msgpackBaseline),
    storedRecordCount: v.storedRecordCount,
    sink: sink > 0,
  };
}
