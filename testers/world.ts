/**
 * A tester's world: the peers of a scenario on one transport. The same tester code runs on the
 * simulator (`SimWorld`: virtual time, seeded, NATs and lossy links as configured) and on real UDP
 * (`UdpWorld`: loopback sockets in this process, the wall clock). Both expose the same small surface:
 * add entry peers and users, run for a while, run until a condition holds, read the event log.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { memoCrypto } from '../sim/drp/memo-crypto.js';
import { SimDrpNode } from '../sim/drp/node.js';
import { Kernel } from '../sim/kernel/kernel.js';
import type { LinkProfile } from '../sim/network/link.js';
import type { NatPreset } from '../sim/network/nat.js';
import { SimNetwork } from '../sim/network/network.js';
import { nodeCrypto } from '../src/crypto/index.js';
import type { DrpConfig } from '../src/drp/config.js';
import type { DrpEngine, LocalPeer } from '../src/drp/engine.js';
import type { EngineEvent, InviteHandler } from '../src/drp/types.js';
import { UdpDrpNode } from '../src/net/node.js';
import { PowSolver } from '../src/net/pow-solver.js';
import type { Endpoint } from '../src/seams/transport.js';
import { AttentionLevel } from '../src/vision/attention.js';
import { VisionChannel } from '../src/vision/channel.js';

export type TransportKind = 'sim' | 'udp';

export interface TesterNode {
  readonly name: string;
  readonly engine: DrpEngine;
  readonly endpoint: Endpoint;
  /** The node's (first) registration. */
  peer: LocalPeer | undefined;
  act<T>(fn: (engine: DrpEngine, now: number) => T): T;
  stop(): Promise<void>;
  readonly stopped: boolean;
}

export interface NodeSpec {
  readonly name: string;
  readonly config?: Partial<DrpConfig>;
  /** Simulator only: the NAT in front of the node (entry peers are always open servers). */
  readonly nat?: NatPreset;
  readonly region?: string;
  /** Fixed port (entry peers: 12000 + i). */
  readonly port?: number;
  readonly onInvite?: InviteHandler;
  /** Entry peers the node registers through; none for the first entry peer. */
  readonly entryPeers: readonly Endpoint[];
  /** Start registering at once. */
  readonly register: boolean;
  /** Seed of the registration key (default: drawn from the node's Rng). */
  readonly regKeySeed?: Uint8Array;
}

export type EventListener = (node: TesterNode, e: EngineEvent) => void;

export interface World {
  readonly transport: TransportKind;
  readonly seed: string;
  readonly vision: VisionChannel;
  now(): number;
  addNode(spec: NodeSpec): Promise<TesterNode>;
  onEvent(listener: EventListener): void;
  /** Advances time by `ms` (simulator) or waits `ms` (UDP). */
  runFor(ms: number): Promise<void>;
  /**
   * Runs `fn` after `delayMs`: a kernel event on the simulator (so a scripted scenario is part of the
   * deterministic run), a timer on UDP.
   */
  schedule(delayMs: number, fn: () => void): void;
  /** Runs until `pred()` or `maxMs` elapsed, checking every `stepMs`. Returns whether `pred` held. */
  runUntil(pred: () => boolean, maxMs: number, stepMs?: number): Promise<boolean>;
  close(): Promise<void>;
  readonly nodes: TesterNode[];
}

export interface SimWorldOptions {
  readonly seed: string;
  /** One-way latency between regions (ms). Default: one region, 50 ms. */
  readonly latencyMs?: number;
  readonly link?: LinkProfile;
  readonly visionThreshold?: AttentionLevel;
}

/** The default engine configuration of simulated testers: cheap PoW (its cost is modelled anyway). */
export const simConfigDefault: Partial<DrpConfig> = { powBits: 8 };

export class SimWorld implements World {
  readonly transport = 'sim' as const;
  readonly seed: string;
  readonly kernel: Kernel;
  readonly network: SimNetwork;
  readonly vision: VisionChannel;
  readonly nodes: TesterNode[] = [];
  /** One crypto for the world's peers, memoising signature checks they repeat (see memo-crypto.ts). */
  readonly crypto = memoCrypto(nodeCrypto);
  private readonly listeners: EventListener[] = [];

  constructor(opts: SimWorldOptions) {
    this.seed = opts.seed;
    this.kernel = new Kernel({ seed: opts.seed });
    this.kScript = this.kernel.kind('tester.script');
    this.network = new SimNetwork(this.kernel, {
      latencyMs: { local: { local: opts.latencyMs ?? 50 } },
      ...(opts.link !== undefined ? { link: opts.link } : {}),
    });
    this.vision = new VisionChannel({
      defaultThreshold: opts.visionThreshold ?? AttentionLevel.higherLevelDetail,
      recordsPerPeerMax: 256,
      peersTrackedMax: 4096,
    });
  }

  now(): number {
    return this.kernel.now();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  async addNode(spec: NodeSpec): Promise<TesterNode> {
    return this.addNodeNow(spec);
  }

  /** `addNode` without a promise: on the simulator a node is ready at once (no socket to bind). */
  addNodeNow(spec: NodeSpec): TesterNode {
    const isEntry = spec.port !== undefined && spec.nat === undefined;
    const host = isEntry
      ? this.network.addHost({ kind: 'server' })
      : this.network.addHost({ nat: spec.nat ?? 'open' });
    const port = spec.port ?? 42777;
    let wrapper: TesterNode;
    const node = new SimDrpNode({
      name: spec.name,
      kernel: this.kernel,
      network: this.network,
      host,
      port,
      crypto: this.crypto,
      vision: this.vision,
      config: { ...simConfigDefault, ...spec.config },
      ...(spec.onInvite !== undefined ? { onInvite: spec.onInvite } : {}),
      ...(isEntry || spec.nat === 'open' ? { publicEndpoint: { address: host.publicAddress, port } } : {}),
      onEvent: (_n, e) => {
        for (const l of this.listeners) l(wrapper, e);
      },
    });
    wrapper = {
      name: spec.name,
      engine: node.engine,
      get endpoint() {
        return node.endpoint;
      },
      peer: undefined,
      act: (fn) => node.act(fn),
      stop: async () => node.stop(),
      get stopped() {
        return node.stopped;
      },
    };
    wrapper.peer = node.addLocalPeer(spec.name, spec.entryPeers, spec.regKeySeed);
    if (spec.register) node.act((e, now) => e.startRegistration(now, wrapper.peer!));
    this.nodes.push(wrapper);
    return wrapper;
  }

  async runFor(ms: number): Promise<void> {
    this.kernel.runFor(ms);
  }

  schedule(delayMs: number, fn: () => void): void {
    this.kernel.after(Math.max(0, Math.round(delayMs)), this.kScript, -1, 0, fn);
  }

  private readonly kScript: number = 0;

  async runUntil(pred: () => boolean, maxMs: number, stepMs = 100): Promise<boolean> {
    const end = this.kernel.now() + maxMs;
    while (!pred()) {
      if (this.kernel.now() >= end) return false;
      this.kernel.run(Math.min(end, this.kernel.now() + stepMs));
    }
    return true;
  }

  async close(): Promise<void> {}
}

export interface UdpWorldOptions {
  readonly seed: string;
  readonly address?: string;
  readonly visionThreshold?: AttentionLevel;
}

/** Real UDP on one address (loopback by default); every node is one socket in this process. */
export class UdpWorld implements World {
  readonly transport = 'udp' as const;
  readonly seed: string;
  readonly vision: VisionChannel;
  readonly nodes: TesterNode[] = [];
  private readonly listeners: EventListener[] = [];
  private readonly solver = new PowSolver({ queuedJobsMax: 4096 });
  private readonly address: string;

  constructor(opts: UdpWorldOptions) {
    this.seed = opts.seed;
    this.address = opts.address ?? '127.0.0.1';
    this.vision = new VisionChannel({
      defaultThreshold: opts.visionThreshold ?? AttentionLevel.higherLevelDetail,
      recordsPerPeerMax: 256,
      peersTrackedMax: 4096,
    });
  }

  now(): number {
    return Date.now();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  async addNode(spec: NodeSpec): Promise<TesterNode> {
    let wrapper: TesterNode;
    const node = await UdpDrpNode.start({
      name: spec.name,
      bind: { address: this.address, ...(spec.port !== undefined ? { port: spec.port } : {}) },
      vision: this.vision,
      powSolver: this.solver,
      ...(spec.config !== undefined ? { config: spec.config } : {}),
      ...(spec.onInvite !== undefined ? { onInvite: spec.onInvite } : {}),
      onEvent: (_n, e) => {
        for (const l of this.listeners) l(wrapper, e);
      },
    });
    let stopped = false;
    wrapper = {
      name: spec.name,
      engine: node.engine,
      endpoint: node.endpoint,
      peer: undefined,
      act: (fn) => node.act(fn),
      stop: async () => {
        stopped = true;
        await node.stop();
      },
      get stopped() {
        return stopped;
      },
    };
    wrapper.peer = node.addLocalPeer(spec.name, spec.entryPeers, spec.regKeySeed);
    if (spec.register) node.act((e, now) => e.startRegistration(now, wrapper.peer!));
    this.nodes.push(wrapper);
    return wrapper;
  }

  async runFor(ms: number): Promise<void> {
    await sleep(ms);
  }

  schedule(delayMs: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, delayMs);
    this.timers.add(t);
  }

  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  async runUntil(pred: () => boolean, maxMs: number, stepMs = 50): Promise<boolean> {
    const end = Date.now() + maxMs;
    while (!pred()) {
      if (Date.now() >= end) return false;
      await sleep(stepMs);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const n of this.nodes) if (!n.stopped) await n.stop();
    await this.solver.close();
  }
}
