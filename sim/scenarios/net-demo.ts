/**
 * `drp-sim net-demo`: the network model exercised end to end, before any DRP peer runs on it.
 *
 * Consumers behind a mix of NATs keep a binding open to a rendezvous server by sending HELLO every
 * `helloIntervalMs`; the server reflects the public endpoint it sees (as STUN does) and introduces the
 * consumer to another consumer it has seen recently, telling both sides. Both then send PUNCH datagrams
 * to each other at once for `punchWindowMs` (simultaneous-open hole punching); a PUNCH that arrives is
 * answered with PUNCH_ACK. The run reports, for each pair of NAT presets, how many introductions ended in
 * a working path — RFC 4787 predicts which pairs can (symmetric ↔ symmetric and symmetric ↔
 * port-restricted cannot) — plus the network's drop counters and the run's event hash.
 *
 * Everything runs on the kernel's virtual clock with randomness forked from the seed, so a run is a pure
 * function of its options.
 */
import type { Endpoint } from '../../src/seams/transport.js';
import { Kernel } from '../kernel/kernel.js';
import type { NatPreset } from '../network/nat.js';
import { type NetworkStats, SimNetwork } from '../network/network.js';

export interface NetDemoOptions {
  readonly seed: string;
  readonly hosts: number;
  readonly minutes: number;
  /** Random loss on every uplink. */
  readonly lossRate: number;
  /** Mean exponential jitter (ms). */
  readonly jitterMeanMs: number;
}

export const netDemoDefaults: NetDemoOptions = {
  seed: '1',
  hosts: 240,
  minutes: 5,
  lossRate: 0.02,
  jitterMeanMs: 20,
};

const serverCount = (hosts: number): number => Math.max(1, Math.round(hosts / 15));
const consumerNats: readonly NatPreset[] = ['open', 'fullCone', 'restricted', 'portRestricted', 'symmetric'];
const regions = ['eu', 'us', 'asia'] as const;
const latencyMs = {
  eu: { eu: 15, us: 45, asia: 120 },
  us: { us: 20, asia: 90 },
  asia: { asia: 25 },
};
const port = 42777;
const helloIntervalMs = 20_000;
const punchIntervalMs = 500;
const punchWindowMs = 5_000;
/** Consumers a server remembers for introductions (most recent first). */
const recentConsumersMax = 64;

const Msg = { hello: 1, seen: 2, intro: 3, punch: 4, punchAck: 5 } as const;

export interface PairOutcome {
  attempts: number;
  succeeded: number;
}

export interface NetDemoResult {
  readonly seed: string;
  readonly hosts: number;
  readonly servers: number;
  readonly simulatedMinutes: number;
  readonly events: number;
  readonly eventHash: string;
  readonly introductions: number;
  readonly punchesSucceeded: number;
  /** "natA/natB" (sorted) → attempts and successes. */
  readonly byNatPair: Record<string, PairOutcome>;
  readonly network: NetworkStats;
}

function encodeEndpoint(kind: number, e: Endpoint, extra = 0): Uint8Array {
  const b = new Uint8Array(11);
  b[0] = kind;
  const parts = e.address.split('.').map(Number);
  for (let i = 0; i < 4; i++) b[1 + i] = parts[i]!;
  b[5] = e.port >>> 8;
  b[6] = e.port & 255;
  new DataView(b.buffer).setUint32(7, extra);
  return b;
}

function decodeEndpoint(b: Uint8Array): { endpoint: Endpoint; extra: number } | undefined {
  if (b.length !== 11) return undefined;
  return {
    endpoint: { address: `${b[1]}.${b[2]}.${b[3]}.${b[4]}`, port: (b[5]! << 8) | b[6]! },
    extra: new DataView(b.buffer, b.byteOffset).getUint32(7),
  };
}

/** A scenario instance: built, not yet run. `run()` advances it to the end. */
export interface NetDemo {
  readonly kernel: Kernel;
  readonly network: SimNetwork;
  readonly endMs: number;
  result(): NetDemoResult;
}

export function buildNetDemo(opts: NetDemoOptions): NetDemo {
  const kernel = new Kernel({ seed: opts.seed });
  const network = new SimNetwork(kernel, {
    latencyMs,
    link: { lossRate: opts.lossRate, jitterMeanMs: opts.jitterMeanMs },
  });
  const rng = kernel.rng.fork('net-demo');
  const kHello = kernel.kind('demo.hello');
  const kPunch = kernel.kind('demo.punch');

  const servers = serverCount(opts.hosts);
  const serverEndpoints: Endpoint[] = [];
  for (let i = 0; i < servers; i++) {
    const host = network.addHost({ region: regions[i % regions.length]!, kind: 'server' });
    const t = network.bind(host, port);
    serverEndpoints.push(t.local);
    const recent: { endpoint: Endpoint; id: number }[] = [];
    t.onDatagram((bytes, from) => {
      if (bytes[0] !== Msg.hello || bytes.length !== 5) return;
      const id = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
      t.send(from, encodeEndpoint(Msg.seen, from, id));
      const others = recent.filter((r) => r.id !== id);
      if (others.length > 0) {
        const other = others[rng.int(others.length)]!;
        // Introduce both ways: each learns the other's public endpoint and id.
        t.send(from, encodeEndpoint(Msg.intro, other.endpoint, other.id));
        t.send(other.endpoint, encodeEndpoint(Msg.intro, from, id));
      }
      const at = recent.findIndex((r) => r.id === id);
      if (at >= 0) recent.splice(at, 1);
      recent.unshift({ endpoint: from, id });
      if (recent.length > recentConsumersMax) recent.pop();
    });
  }

  const consumers = opts.hosts - servers;
  const natOf: NatPreset[] = [];
  let introductions = 0;
  let punchesSucceeded = 0;
  const byNatPair: Record<string, PairOutcome> = {};
  const pairKey = (a: number, b: number): string => [natOf[a]!, natOf[b]!].sort().join('/');

  for (let c = 0; c < consumers; c++) {
    const nat = consumerNats[c % consumerNats.length]!;
    natOf.push(nat);
    const host = network.addHost({ region: regions[rng.int(regions.length)]!, nat });
    const t = network.bind(host, port);
    const server = serverEndpoints[c % servers]!;
    /** Peers this consumer is punching towards: id → punch deadline and whether it heard from them. */
    const punching = new Map<number, { until: number; heard: boolean }>();
    const hello = new Uint8Array(5);
    hello[0] = Msg.hello;
    new DataView(hello.buffer).setUint32(1, c);
    const sayHello = (): void => {
      t.send(server, hello);
      kernel.after(helloIntervalMs, kHello, host.id, c, sayHello);
    };
    kernel.after(rng.int(helloIntervalMs), kHello, host.id, c, sayHello);

    t.onDatagram((bytes, from) => {
      const kind = bytes[0];
      if (kind === Msg.intro) {
        const d = decodeEndpoint(bytes);
        if (d === undefined || punching.has(d.extra)) return;
        const peer = d.extra;
        const entry = { until: kernel.now() + punchWindowMs, heard: false };
        punching.set(peer, entry);
        if (c < peer) {
          introductions++;
          const key = pairKey(c, peer);
          const o = byNatPair[key] ?? { attempts: 0, succeeded: 0 };
          o.attempts++;
          byNatPair[key] = o;
        }
        const punch = encodeEndpoint(Msg.punch, d.endpoint, c);
        const sendPunch = (): void => {
          if (kernel.now() >= entry.until || entry.heard) {
            // Forget the attempt after its window (with margin for late acks) so a later intro may retry.
            if (kernel.now() >= entry.until + punchWindowMs) punching.delete(peer);
            else kernel.after(punchWindowMs, kPunch, host.id, peer, sendPunch);
            return;
          }
          t.send(d.endpoint, punch);
          kernel.after(punchIntervalMs, kPunch, host.id, peer, sendPunch);
        };
        sendPunch();
      } else if (kind === Msg.punch || kind === Msg.punchAck) {
        const d = decodeEndpoint(bytes);
        if (d === undefined) return;
        const peer = d.extra;
        const entry = punching.get(peer);
        if (entry !== undefined && !entry.heard) {
          entry.heard = true;
          // Count each pair once, from its lower id's side.
          if (c < peer) {
            punchesSucceeded++;
            byNatPair[pairKey(c, peer)]!.succeeded++;
          }
        }
        if (kind === Msg.punch) t.send(from, encodeEndpoint(Msg.punchAck, from, c));
      }
    });
  }

  const endMs = kernel.now() + Math.round(opts.minutes * 60_000);
  return {
    kernel,
    network,
    endMs,
    result: () => ({
      seed: opts.seed,
      hosts: opts.hosts,
      servers,
      simulatedMinutes: opts.minutes,
      events: kernel.eventsDispatched,
      eventHash: kernel.eventHash,
      introductions,
      punchesSucceeded,
      byNatPair,
      network: network.stats,
    }),
  };
}

export function runNetDemo(opts: NetDemoOptions): NetDemoResult {
  const demo = buildNetDemo(opts);
  demo.kernel.run(demo.endMs);
  return demo.result();
}
