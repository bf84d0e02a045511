/**
 * A simulated world of messenger users: entry peers, users behind NATs, ISPs and device profiles, each a
 * DRP engine (sim/drp/node.ts) with, for messenger users, a `MessengerHost` beside it (src/dmp/attach.ts).
 * The bad-internet scenarios (./bad-internet.ts) and the NAT pair matrix run on it.
 *
 * What it adds to the bare nodes is the app's life cycle on a device that sleeps: when the network takes
 * a user's host offline (a nightly stop, a laptop asleep) the user's app stops — its host is suspended
 * (`MessengerHost.suspend`: channels die, the outbox and delivered ids are kept as an app would store
 * them) and its engine stops — and when the host comes back the app starts again: a new engine on the
 * same port with the same registration key (a fresh random stream, so no key or token repeats), the same
 * host attached to it, registering again through the entry peers.
 *
 * Everything is a kernel event: one seed reproduces a run event for event.
 */
import type { Ed25519PrivateKey } from '../../src/crypto/crypto.js';
import { nodeCrypto } from '../../src/crypto/index.js';
import { MessengerAttachment, type MessengerUser } from '../../src/dmp/attach.js';
import { type HostEvent, MessengerHost, type MessengerHostConfig } from '../../src/dmp/host.js';
import type { DrpConfig } from '../../src/drp/config.js';
import type { LocalPeer } from '../../src/drp/engine.js';
import type { EngineEvent } from '../../src/drp/types.js';
import {
  createUserIdentity,
  encodeDeviceCertificate,
  generateDeviceKeyPair,
  generateRootKeys,
  issueDeviceCertificate,
  type UserIdentity,
} from '../../src/id/identity.js';
import type { Rng } from '../../src/seams/rng.js';
import type { Endpoint } from '../../src/seams/transport.js';
import { AttentionLevel } from '../../src/vision/attention.js';
import { VisionChannel } from '../../src/vision/channel.js';
import { memoCrypto } from '../drp/memo-crypto.js';
import { SimDrpNode } from '../drp/node.js';
import { Kernel } from '../kernel/kernel.js';
import type { DeviceProfile } from '../network/device.js';
import type { IspPreset } from '../network/isp.js';
import type { LinkProfile } from '../network/link.js';
import type { NatPreset } from '../network/nat.js';
import { type SimHost, SimNetwork } from '../network/network.js';

const dayMs = 24 * 60 * 60 * 1000;

/** A user's keys, as handed over in person: identity (public), device key and certificate, registration key. */
export interface UserKeys {
  readonly identity: UserIdentity;
  readonly deviceKey: Ed25519PrivateKey;
  readonly deviceCertificate: Uint8Array;
  readonly regKeySeed: Uint8Array;
  readonly regId: Uint8Array;
}

/** One root key, a device key certified by it for a year, and a registration key. */
export function makeUserKeys(crypto: typeof nodeCrypto, rng: Rng, nowMs: number): UserKeys {
  const [root] = generateRootKeys(crypto, rng, 1);
  const identity = createUserIdentity([root!.publicKey], 1);
  const deviceKey = generateDeviceKeyPair(crypto, rng);
  const certificate = issueDeviceCertificate(crypto, {
    identity,
    devicePublicKey: deviceKey.publicKey,
    validFromMs: nowMs - dayMs,
    validToMs: nowMs + 365 * dayMs,
    signers: [{ rootIndex: 0, key: root! }],
  });
  const regKeySeed = rng.bytes(32);
  return {
    identity,
    deviceKey,
    deviceCertificate: encodeDeviceCertificate(certificate),
    regKeySeed,
    regId: crypto.ed25519FromSeed(regKeySeed).publicKey,
  };
}

/**
 * RFC 4787: whether two NATs of these presets can hole-punch. Punching fails when one side maps per
 * destination (symmetric: the port the other side learned is not the one it will see) and the other
 * filters by address and port (port-restricted or symmetric: it drops the new port).
 */
export function punchable(a: NatPreset, b: NatPreset): boolean {
  const portFiltering = (n: NatPreset): boolean => n === 'portRestricted' || n === 'symmetric';
  return !((a === 'symmetric' && portFiltering(b)) || (b === 'symmetric' && portFiltering(a)));
}

/** Entry peers hold more neighbours and never recycle (as the testers' backbone). */
export const entryPeerDrpConfig: Partial<DrpConfig> = {
  neighborsMin: 13,
  neighborsSoftMax: 30,
  neighborsHardMax: 40,
  recycleWorstIntervalMs: 1e9,
};

/** Cheap PoW for simulated peers (its cost is modelled in virtual time anyway). */
export const simUserDrpConfig: Partial<DrpConfig> = { powBits: 8 };

export interface MessengerWorldOptions {
  readonly seed: string;
  /** One-way latency between any two hosts (ms). */
  readonly latencyMs?: number;
  /** Every host's uplink (loss, jitter, …) unless its spec says otherwise. */
  readonly link?: LinkProfile;
  /** Entry peers' uplinks (default: `link`). */
  readonly entryLink?: LinkProfile;
  readonly visionThreshold?: AttentionLevel;
  readonly hostConfig?: Partial<MessengerHostConfig>;
}

export interface UserSpec {
  readonly name: string;
  readonly nat?: NatPreset;
  readonly isp?: IspPreset;
  readonly device?: DeviceProfile;
  /** A messenger user (else a plain DRP peer). */
  readonly keys?: UserKeys;
}

/** One user: a simulated host, its current engine (a new one after each wake) and its messenger host. */
export class SimUser {
  /** The current incarnation of the app's engine (replaced when the device wakes). */
  node: SimDrpNode;
  peer: LocalPeer;
  /** The app's messenger state: one object for the user's whole life (suspended while asleep). */
  readonly host: MessengerHost | undefined;
  attachment: MessengerAttachment | undefined;
  private user: MessengerUser | undefined;
  /** App starts so far (1 + wakes). */
  incarnations = 1;
  /** [from, to) intervals of virtual time during which the app was stopped. */
  readonly asleep: [number, number][] = [];

  constructor(
    readonly world: MessengerWorld,
    readonly name: string,
    readonly simHost: SimHost,
    readonly keys: UserKeys | undefined,
  ) {
    this.node = world.newNode(this, name);
    this.peer = this.node.addLocalPeer(name, world.entryEndpoints, keys?.regKeySeed);
    if (keys !== undefined) {
      this.host = new MessengerHost({
        crypto: world.crypto,
        rng: world.kernel.rng.fork(`messenger/${name}`),
        now: world.kernel.now(),
        regId: this.peer.regId,
        identity: keys.identity,
        deviceKey: keys.deviceKey,
        deviceCertificate: keys.deviceCertificate,
        vision: world.vision,
        name,
        ...(world.hostConfig !== undefined ? { config: world.hostConfig } : {}),
      });
      this.attach();
    }
    this.node.act((e, now) => e.startRegistration(now, this.peer));
  }

  get online(): boolean {
    return this.simHost.online;
  }

  /** Usable DRP neighbours of the current engine. */
  get neighbours(): number {
    return this.peer.usableLinkCount();
  }

  /** Runs `fn` against the messenger host now, then runs its commands and sends its datagrams. */
  act<T>(fn: (host: MessengerHost, now: number) => T): T {
    const a = this.attachment;
    const u = this.user;
    if (a === undefined || u === undefined) throw new Error(`${this.name} is not a messenger user`);
    return this.node.act((_e, now) => a.act(now, u, (h) => fn(h, now)));
  }

  /** The device went offline: the app stops. */
  suspend(): void {
    const now = this.world.kernel.now();
    this.asleep.push([now, Number.POSITIVE_INFINITY]);
    if (this.attachment !== undefined && this.user !== undefined) {
      const a = this.attachment;
      const u = this.user;
      this.node.act(() => a.act(now, u, (h) => h.suspend(now)));
    }
    this.node.stop();
  }

  /** The device is back: the app starts again (a new engine, the same keys and messenger state). */
  wake(): void {
    const now = this.world.kernel.now();
    const last = this.asleep.at(-1);
    if (last !== undefined && last[1] === Number.POSITIVE_INFINITY) last[1] = now;
    this.incarnations++;
    this.node = this.world.newNode(this, `${this.name}~${this.incarnations}`);
    this.peer = this.node.addLocalPeer(this.name, this.world.entryEndpoints, this.keys?.regKeySeed);
    if (this.host !== undefined) this.attach();
    this.node.act((e, t) => e.startRegistration(t, this.peer));
  }

  /** Whether the app was running during all of [from, to). */
  awakeThroughout(from: number, to: number): boolean {
    for (const [a, b] of this.asleep) if (a < to && b > from) return false;
    return true;
  }

  private attach(): void {
    const a = new MessengerAttachment(this.node.engine);
    this.user = a.addUser(this.peer, this.host!);
    a.onHostEvent((_u, e, now) => this.world.hostEvent(this, e, now));
    this.attachment = a;
    this.node.attachment = a;
  }
}

export type WorldHostListener = (user: SimUser, e: HostEvent, now: number) => void;
export type WorldEngineListener = (user: SimUser, e: EngineEvent) => void;

export class MessengerWorld {
  readonly seed: string;
  readonly kernel: Kernel;
  readonly network: SimNetwork;
  readonly vision: VisionChannel;
  readonly crypto = memoCrypto(nodeCrypto);
  readonly hostConfig: Partial<MessengerHostConfig> | undefined;
  readonly entryPeers: SimDrpNode[] = [];
  readonly users: SimUser[] = [];
  private readonly entryLink: LinkProfile | undefined;
  private readonly hostListeners: WorldHostListener[] = [];
  private readonly engineListeners: WorldEngineListener[] = [];
  private readonly kScript: number;

  constructor(opts: MessengerWorldOptions) {
    this.seed = opts.seed;
    this.kernel = new Kernel({ seed: opts.seed });
    this.kScript = this.kernel.kind('scenario.script');
    this.network = new SimNetwork(this.kernel, {
      latencyMs: { local: { local: opts.latencyMs ?? 30 } },
      ...(opts.link !== undefined ? { link: opts.link } : {}),
    });
    this.entryLink = opts.entryLink ?? opts.link;
    this.vision = new VisionChannel({
      defaultThreshold: opts.visionThreshold ?? AttentionLevel.needsAttention,
      recordsPerPeerMax: 256,
      peersTrackedMax: 8192,
    });
    this.hostConfig = opts.hostConfig;
  }

  get entryEndpoints(): Endpoint[] {
    return this.entryPeers.map((n) => n.endpoint);
  }

  /** Entry peer `i` (an open server on port 12000 + i), registering through the earlier ones. */
  addEntryPeer(): SimDrpNode {
    const i = this.entryPeers.length;
    const host = this.network.addHost({
      kind: 'server',
      ...(this.entryLink !== undefined ? { link: this.entryLink } : {}),
    });
    const port = 12000 + i;
    const node = new SimDrpNode({
      name: `EP${i}`,
      kernel: this.kernel,
      network: this.network,
      host,
      port,
      crypto: this.crypto,
      vision: this.vision,
      config: { ...simUserDrpConfig, ...entryPeerDrpConfig },
      publicEndpoint: { address: host.publicAddress, port },
    });
    const peer = node.addLocalPeer(`EP${i}`, this.entryEndpoints);
    this.entryPeers.push(node);
    if (i > 0) node.act((e, now) => e.startRegistration(now, peer));
    return node;
  }

  addUser(spec: UserSpec): SimUser {
    const host = this.network.addHost({
      nat: spec.nat ?? 'open',
      ...(spec.isp !== undefined ? { isp: spec.isp } : {}),
      ...(spec.device !== undefined ? { device: spec.device } : {}),
    });
    const user = new SimUser(this, spec.name, host, spec.keys);
    host.onOffline(() => user.suspend());
    host.onOnline(() => user.wake());
    this.users.push(user);
    return user;
  }

  /** @internal A new engine for `user` on its host's port 42777 (named for its random stream). */
  newNode(user: SimUser, name: string): SimDrpNode {
    const open = user.simHost.box === null;
    return new SimDrpNode({
      name,
      kernel: this.kernel,
      network: this.network,
      host: user.simHost,
      port: 42777,
      crypto: this.crypto,
      vision: this.vision,
      config: simUserDrpConfig,
      ...(open ? { publicEndpoint: { address: user.simHost.publicAddress, port: 42777 } } : {}),
      onEvent: (_n, e) => {
        for (const l of this.engineListeners) l(user, e);
      },
    });
  }

  /** @internal */
  hostEvent(user: SimUser, e: HostEvent, now: number): void {
    for (const l of this.hostListeners) l(user, e, now);
  }

  onHostEvent(listener: WorldHostListener): void {
    this.hostListeners.push(listener);
  }

  onEngineEvent(listener: WorldEngineListener): void {
    this.engineListeners.push(listener);
  }

  now(): number {
    return this.kernel.now();
  }

  /** Virtual ms since the run began. */
  elapsed(): number {
    return this.kernel.elapsed();
  }

  runFor(ms: number): void {
    this.kernel.runFor(ms);
  }

  /** Runs until `pred()` or `maxMs` elapsed, checking every `stepMs`. Returns whether `pred` held. */
  runUntil(pred: () => boolean, maxMs: number, stepMs = 500): boolean {
    const end = this.kernel.now() + maxMs;
    while (!pred()) {
      if (this.kernel.now() >= end) return false;
      this.kernel.run(Math.min(end, this.kernel.now() + stepMs));
    }
    return true;
  }

  /** Runs `fn` after `delayMs` as a kernel event (part of the deterministic run). */
  schedule(delayMs: number, fn: () => void): void {
    this.kernel.after(Math.max(0, Math.round(delayMs)), this.kScript, -1, 0, fn);
  }
}
