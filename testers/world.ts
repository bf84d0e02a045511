/**
 * A tester's world: the peers of a scenario on one transport. The same tester code runs on the
 * simulator (`SimWorld`: virtual time, seeded, NATs and lossy links as configured) and on real UDP
 * (`UdpWorld`: loopback sockets in this process, the wall clock). Both expose the same small surface:
 * add entry peers and users, run for a while, run until a condition holds, read the event log.
 *
 * A node may also carry a messenger user (`NodeSpec.messenger`): a `MessengerHost` (src/dmp/host.ts)
 * attached beside its engine (src/dmp/attach.ts), whose events reach `onHostEvent` listeners.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { memoCrypto } from '../sim/drp/memo-crypto.js';
import { SimDrpNode } from '../sim/drp/node.js';
import { Kernel } from '../sim/kernel/kernel.js';
import type { LinkProfile } from '../sim/network/link.js';
import type { NatPreset } from '../sim/network/nat.js';
import { SimNetwork } from '../sim/network/network.js';
import { FaultLog, SnapshotCapture, type SnapshotConfig } from '../sim/vision/capture.js';
import type { Ed25519PrivateKey } from '../src/crypto/crypto.js';
import { nodeCrypto } from '../src/crypto/index.js';
import { MessengerAttachment, type MessengerUser } from '../src/dmp/attach.js';
import { type HostEvent, MessengerHost, type MessengerHostConfig } from '../src/dmp/host.js';
import type { DrpConfig } from '../src/drp/config.js';
import type { DrpEngine, LocalPeer } from '../src/drp/engine.js';
import type { EngineEvent, InviteHandler } from '../src/drp/types.js';
import type { UserIdentity } from '../src/id/identity.js';
import { UdpDrpNode } from '../src/net/node.js';
import { PowSolver } from '../src/net/pow-solver.js';
import type { Rng } from '../src/seams/rng.js';
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
  /** The messenger user of the node's registration, when the spec asked for one. */
  messenger: TesterMessenger | undefined;
  act<T>(fn: (engine: DrpEngine, now: number) => T): T;
  stop(): Promise<void>;
  readonly stopped: boolean;
}

/** A user's keys for a messenger host (exchanged in person: the identity; kept: the device key). */
export interface MessengerSpec {
  readonly identity: UserIdentity;
  readonly deviceKey: Ed25519PrivateKey;
  /** Encoded device certificate naming `deviceKey`. */
  readonly deviceCertificate: Uint8Array;
  readonly config?: Partial<MessengerHostConfig>;
}

export interface TesterMessenger {
  readonly host: MessengerHost;
  readonly attachment: MessengerAttachment;
  /**
   * Runs `fn` against the host at the node's current time, executes its commands and flushes the node.
   * Inside a host event listener call the host directly instead (with the listener's `now`): the
   * attachment and the node flush what it queues.
   */
  act<T>(fn: (host: MessengerHost, now: number) => T): T;
}

export type HostEventListener = (node: TesterNode, e: HostEvent, now: number) => void;

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
  /** Attach a messenger user to the node's registration. */
  readonly messenger?: MessengerSpec;
}

export type EventListener = (node: TesterNode, e: EngineEvent) => void;

export interface World {
  readonly transport: TransportKind;
  readonly seed: string;
  readonly vision: VisionChannel;
  now(): number;
  addNode(spec: NodeSpec): Promise<TesterNode>;
  onEvent(listener: EventListener): void;
  /** Events of every messenger host in the world. */
  onHostEvent(listener: HostEventListener): void;
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
  /** Capture pain snapshots (sim/vision/capture.ts) with this configuration; none when absent. */
  readonly snapshot?: SnapshotConfig;
}

/**
 * Attaches a messenger host for `spec` to a node's registration. `run(fn)` runs `fn` at the node's
 * current time and flushes the node afterwards.
 */
function attachMessenger(
  wrapper: TesterNode,
  spec: MessengerSpec,
  rng: Rng,
  vision: VisionChannel,
  now: number,
  localEndpoint: () => Endpoint | undefined,
  setAttachment: (a: MessengerAttachment) => void,
  listeners: readonly HostEventListener[],
): TesterMessenger {
  const peer = wrapper.peer!;
  const host = new MessengerHost({
    crypto: wrapper.engine.crypto,
    rng,
    now,
    regId: peer.regId,
    identity: spec.identity,
    deviceKey: spec.deviceKey,
    deviceCertificate: spec.deviceCertificate,
    vision,
    name: wrapper.name,
    ...(spec.config !== undefined ? { config: spec.config } : {}),
  });
  const attachment = new MessengerAttachment(wrapper.engine, localEndpoint);
  const user: MessengerUser = attachment.addUser(peer, host);
  attachment.onHostEvent((_u, e, t) => {
    for (const l of listeners) l(wrapper, e, t);
  });
  setAttachment(attachment);
  return {
    host,
    attachment,
    act: (fn) => wrapper.act((_e, t) => attachment.act(t, user, (h) => fn(h, t))),
  };
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
  /** The simulator nodes behind `nodes` (hosts and engines, for pain snapshots). */
  readonly simNodes: SimDrpNode[] = [];
  /** Faults the scenario injected, for snapshots and the visualizer's timeline. */
  readonly faults = new FaultLog();
  /** Pain snapshots, when `SimWorldOptions.snapshot` asked for them. */
  readonly capture: SnapshotCapture | undefined;
  /** One crypto for the world's peers, memoising signature checks they repeat (see memo-crypto.ts). */
  readonly crypto = memoCrypto(nodeCrypto);
  private readonly listeners: EventListener[] = [];
  private readonly hostListeners: HostEventListener[] = [];
  /** Numbers the messenger hosts, so a restarted user's host draws fresh randomness. */
  private hostSerial = 0;

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
    this.capture =
      opts.snapshot === undefined
        ? undefined
        : new SnapshotCapture({
            vision: this.vision,
            kernel: this.kernel,
            nodes: () => this.simNodes,
            faults: this.faults,
            config: opts.snapshot,
          });
  }

  now(): number {
    return this.kernel.now();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  onHostEvent(listener: HostEventListener): void {
    this.hostListeners.push(listener);
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
      messenger: undefined,
      act: (fn) => node.act(fn),
      stop: async () => node.stop(),
      get stopped() {
        return node.stopped;
      },
    };
    this.simNodes.push(node);
    wrapper.peer = node.addLocalPeer(spec.name, spec.entryPeers, spec.regKeySeed);
    if (spec.messenger !== undefined) {
      wrapper.messenger = attachMessenger(
        wrapper,
        spec.messenger,
        this.kernel.rng.fork(`messenger/${spec.name}/${this.hostSerial++}`),
        this.vision,
        this.kernel.now(),
        () => undefined,
        (a) => {
          node.attachment = a;
        },
        this.hostListeners,
      );
    }
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
  private readonly hostListeners: HostEventListener[] = [];
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

  onHostEvent(listener: HostEventListener): void {
    this.hostListeners.push(listener);
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
      messenger: undefined,
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
    if (spec.messenger !== undefined) {
      wrapper.messenger = attachMessenger(
        wrapper,
        spec.messenger,
        node.engine.rng.fork(`messenger/${spec.name}`),
        this.vision,
        node.now(),
        () => node.endpoint,
        (a) => {
          node.attachment = a;
        },
        this.hostListeners,
      );
    }
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
