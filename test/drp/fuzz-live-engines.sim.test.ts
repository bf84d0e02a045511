/**
 * Fuzz at live engines: a warmed-up simulated network (4 entry peers, 20 users behind a mix of NATs)
 * takes ≥ 100,000 random and mutated datagrams — bit flips, truncations, extensions, type swaps and
 * header-valid garbage made from real captured traffic, plus a few verbatim replays — injected from
 * spoofed real peers' endpoints, from a real peer's address with a foreign port, and from random
 * addresses, while honest users keep sending INVITEs.
 *
 * It pins: no exception escapes an engine (the kernel run completes); every injected datagram that
 * reaches an engine and is not a well-formed verbatim copy is dropped with a counted reason
 * (`engine.drops`), spread over several reasons; no honest link dies and no user loses neighbours to
 * the attack; INVITE delivery among honest users stays at 100%.
 */
import { describe, expect, it } from 'vitest';
import type { DrpEngine } from '../../src/drp/engine.js';
import { dropReasons } from '../../src/drp/types.js';
import type { Endpoint } from '../../src/seams/transport.js';
import { datagramSizeMaxBytes, PacketType, packetCodecs } from '../../src/wire/index.js';
import {
  buildNet,
  diffDrops,
  dropsByReason,
  dropTotal,
  replayHint,
  runCampaign,
  scenarioSeed,
  typeOf,
  usable,
} from './harness.js';

const file = 'test/drp/fuzz-live-engines.sim.test.ts';
const injectedCount = 100_000;
const batchSize = 250;
const batchGapMs = 250; // 1,000 datagrams per virtual second → 100 s of attack
const capturedPerTypeMax = 400;

/** FNV-1a over the bytes and length: tells injected datagrams from honest ones at the engines. */
function fnv(b: Uint8Array): number {
  let h = 0x811c9dc5 ^ b.length;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Entry-mode packets carry no MAC: a mutation may leave one well-formed, and the engine then answers it
 * (NatTest reflection, a PoW1 challenge for a still-valid PoW, the cached NPACK of a REGISTER from the
 * same endpoint and seq) or ignores it (an NPACK or FAILURE matching nothing) without a drop count.
 */
const entryModeTypes = new Set([
  PacketType.NatTestReq,
  PacketType.Pow1Request,
  PacketType.RegisterReq,
  PacketType.Npack,
  PacketType.Failure,
]);

describe('fuzz at live engines', () => {
  it('absorbs 100,000 random and mutated datagrams: no throw, drops counted by reason, links and delivery intact', async () => {
    const seed = scenarioSeed('fuzz-live-1');
    const hint = replayHint(seed, file);
    const wallStart = Date.now();
    const net = await buildNet({
      seed,
      entryPeers: 4,
      users: 20,
      warmNeighborsMin: 12,
      tapPerTypeMax: capturedPerTypeMax,
    });
    expect(net.warmedUp, `warm-up: ${net.users.map(usable).join(',')}; ${hint}`).toBe(true);
    const { world } = net;

    // Capture real traffic of every kind while a baseline campaign runs.
    const tap = net.tap!;
    const baseline = await runCampaign(net, net.users, 40, 300, 'fuzz/baseline');
    tap.remove();
    expect(baseline.delivered, `baseline: ${baseline.failed.join('; ')}; ${hint}`).toBe(baseline.sent);
    const seeds = tap.captured;
    const capturedTypes = new Set(seeds.map((d) => typeOf(d.bytes)));
    expect(capturedTypes.size, `captured types ${[...capturedTypes]}; ${hint}`).toBeGreaterThanOrEqual(14);

    // Classify what reaches each engine: injected (by content hash) or honest.
    const injectedHashes = new Set<number>();
    let injectedArrived = 0;
    let injectedDropped = 0;
    const undroppedByType = new Map<number, number>();
    let firstError: string | undefined;
    for (const n of net.all) {
      const engine = n.engine as DrpEngine;
      const orig = engine.onDatagram.bind(engine);
      engine.onDatagram = (now: number, from: Endpoint, bytes: Uint8Array): void => {
        const injected = injectedHashes.has(fnv(bytes));
        const before = injected ? dropTotal(engine) : 0;
        try {
          orig(now, from, bytes);
        } catch (err) {
          firstError ??= `${n.name} threw on ${Buffer.from(bytes).toString('hex')} from ${from.address}:${from.port}: ${String(err)}`;
          throw err;
        }
        if (injected) {
          injectedArrived++;
          if (dropTotal(engine) > before) injectedDropped++;
          else undroppedByType.set(typeOf(bytes), (undroppedByType.get(typeOf(bytes)) ?? 0) + 1);
        }
      };
    }

    const rng = world.kernel.rng.fork('fuzz/mutations');
    const types = packetCodecs.map((c) => c.type);
    const mutate = (src: Uint8Array): { bytes: Uint8Array; kind: string } => {
      const k = rng.int(100);
      if (k < 30) {
        const b = src.slice();
        const flips = 1 + rng.int(8);
        for (let i = 0; i < flips; i++) {
          const bit = rng.int(b.length * 8);
          b[bit >> 3]! ^= 1 << (bit & 7);
        }
        return { bytes: b, kind: 'bitFlip' };
      }
      if (k < 50) return { bytes: src.slice(0, rng.int(src.length)), kind: 'truncate' };
      if (k < 65) {
        const extra = rng.bytes(1 + rng.int(rng.int(4) === 0 ? datagramSizeMaxBytes : 64));
        const b = new Uint8Array(src.length + extra.length);
        b.set(src);
        b.set(extra, src.length);
        return {
          bytes: b.length > datagramSizeMaxBytes ? b.slice(0, datagramSizeMaxBytes) : b,
          kind: 'extend',
        };
      }
      if (k < 80) {
        const b = src.slice();
        // A different type: the same body under another schema.
        if (b.length >= 2) b[1] = types.filter((t) => t !== b[1])[rng.int(types.length - 1)]!;
        return { bytes: b, kind: 'typeSwap' };
      }
      if (k < 95) {
        const b = rng.bytes(rng.int(400));
        if (b.length >= 2 && rng.int(2) === 0) {
          b[0] = 1;
          b[1] = types[rng.int(types.length)]!;
        }
        return { bytes: b, kind: 'random' };
      }
      return { bytes: src.slice(), kind: 'verbatim' };
    };

    const dropsBefore = dropsByReason(net.all);
    const sumBefore = net.all.reduce((s, n) => s + dropTotal(n.engine), 0);
    const countsBefore = new Map(net.all.map((n) => [n.name, usable(n)]));
    const eventsBefore = net.events.length;
    let sent = 0;
    let verbatim = 0;
    const kinds = new Map<string, number>();
    const inject = (): void => {
      for (let i = 0; i < batchSize && sent < injectedCount; i++, sent++) {
        const d = seeds[rng.int(seeds.length)]!;
        const m = mutate(d.bytes);
        kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
        const s = rng.int(4);
        const from: Endpoint =
          m.kind === 'verbatim' || s <= 1
            ? d.from
            : s === 2
              ? { address: d.from.address, port: 1024 + rng.int(60_000) }
              : {
                  address: `100.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`,
                  port: 1 + rng.int(65_535),
                };
        if (m.kind === 'verbatim') verbatim++;
        else if (!sameBytes(m.bytes, d.bytes)) injectedHashes.add(fnv(m.bytes));
        world.network.inject(from, d.to, m.bytes);
      }
      if (sent < injectedCount) world.schedule(batchGapMs, inject);
    };
    world.schedule(0, inject);
    const during = await runCampaign(net, net.users, 100, 1_000, 'fuzz/during');
    await world.runUntil(() => sent >= injectedCount, 60_000, 1_000);
    await world.runFor(5_000);

    const drops = diffDrops(dropsByReason(net.all), dropsBefore);
    const sumAfter = net.all.reduce((s, n) => s + dropTotal(n.engine), 0);
    const downs = net.events
      .slice(eventsBefore)
      .filter((x) => x.e.type === 'neighborDown')
      .map((x) => `${x.node}:${x.e.type === 'neighborDown' ? x.e.reason : ''}`);
    const summary = [
      `sent ${sent} (verbatim ${verbatim}), kinds ${JSON.stringify(Object.fromEntries(kinds))}`,
      `reached engines ${injectedArrived}, dropped ${injectedDropped}, undropped by type ${JSON.stringify(Object.fromEntries(undroppedByType))}`,
      `drops ${JSON.stringify(drops)}`,
      `net dropped ${JSON.stringify(world.network.stats.dropped)}`,
      `neighbourDown ${downs.join(' ')}`,
      `wall ${((Date.now() - wallStart) / 1000).toFixed(1)} s`,
      hint,
    ].join('\n');
    console.log(summary);

    expect(firstError, summary).toBeUndefined();
    expect(sent, summary).toBe(injectedCount);
    // Every mutated datagram that reached an engine was dropped with a counted reason, except the rare
    // mutation that left a well-formed unauthenticated entry-mode packet (which the engine answers).
    expect(injectedArrived, summary).toBeGreaterThan(injectedCount / 2);
    expect(injectedDropped / injectedArrived, summary).toBeGreaterThanOrEqual(0.995);
    for (const t of undroppedByType.keys()) {
      expect(entryModeTypes.has(t as never), `undropped type ${t}\n${summary}`).toBe(true);
    }
    expect(sumAfter - sumBefore, summary).toBeGreaterThanOrEqual(injectedDropped);
    for (const r of ['decode', 'unknownToken', 'badMac', 'wrongSource'] as const) {
      expect(drops[r], `${r}\n${summary}`).toBeGreaterThan(0);
    }
    expect(dropReasons.filter((r) => drops[r] > 0).length, summary).toBeGreaterThanOrEqual(5);
    // Honest links stay up: none died for lack of PONGs, nobody lost neighbours.
    expect(
      downs.filter((d) => d.endsWith('no PONG')),
      summary,
    ).toEqual([]);
    // Upkeep goes on under the fuzz: a neighbour's periodic recycling may leave a peer one below its
    // minimum until its next REGISTER (seconds), so the counts are read once upkeep has caught up.
    const restored = (n: (typeof net.users)[number]): boolean =>
      usable(n) >= Math.min(12, countsBefore.get(n.name)!);
    await world.runUntil(() => net.users.every(restored), 30_000, 500);
    for (const n of net.users) {
      expect(usable(n), `${n.name}\n${summary}`).toBeGreaterThanOrEqual(
        Math.min(12, countsBefore.get(n.name)!),
      );
    }
    expect(during.delivered, `during: ${during.failed.join('; ')}\n${summary}`).toBe(during.sent);
    expect(Date.now() - wallStart, summary).toBeLessThan(60_000);
  }, 120_000);
});
