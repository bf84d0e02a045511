/**
 * The simulated Internet: hosts, NAT boxes, links, ISPs, devices and an on-path adversary, driven by the
 * kernel's virtual time, and the `DatagramTransport` the protocol engines run on inside the simulator.
 *
 * Theory of operation. A datagram sent on a `SimTransport` is handled synchronously at send time up to
 * the moment it is "on the wire": the sender's NAT box translates its source (creating or refreshing a
 * binding), and then, in this order, the partition check, the ISP rule, the adversary hooks and the
 * sender's link (loss, jitter, duplication, reordering) decide its fate. Surviving copies are scheduled as
 * `net.deliver` kernel events (peer = destination host id, or -1 if a NAT hides it; detail = hash of the
 * bytes) at the virtual arrival time. At arrival the destination is looked up again (addresses change
 * while datagrams fly), the destination NAT filters and translates it, and the bound transport's handler
 * is called with the *translated* source endpoint — exactly what a socket behind real NATs sees.
 *
 * Addresses: open hosts and NAT boxes hold public addresses allocated sequentially from
 * `publicAddressFirst` (default 11.0.0.1) unless given; the hosts behind NAT box #n get private addresses
 * 10.(n >> 8).(n & 255).2, .3, …. Hosts behind the same box reach each other directly on the LAN (not
 * through the box), and reach the box's own public endpoints only if the box hairpins.
 *
 * Usage:
 *   const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 10, us: 45 }, us: { us: 12 } },
 *                                        link: { lossRate: 0.01, jitterMeanMs: 3 } });
 *   const a = net.addHost({ region: 'eu', nat: 'portRestricted', isp: 'p2pUdpDrop' });
 *   const s = net.addHost({ region: 'us', kind: 'server' });
 *   const t = net.bind(a, 5000);  t.onDatagram((bytes, from) => …);  t.send({ address, port }, bytes);
 *   a.onOffline(() => …); a.onOnline(() => rebind…); a.onAddressChange((c) => …);
 *   net.partition([a], [s], { startMs, endMs });  net.addAdversary({ match, action: 'drop' });
 *   kernel.run(untilMs);  net.stats.dropped.loss …
 * Hosts with device profiles schedule recurring events, so run the kernel with an `untilMs`.
 *
 * Randomness: every stream is forked from `kernel.rng` by name — `network/link/<host id>`,
 * `network/nat/<box id>`, `network/device/<host id>`, `network/adversary`, `network/link/inject` — so adding
 * a host never changes another host's draws. Limits: `hostsMax`, `natBoxesMax`, `hostsPerNatMax`,
 * `inFlightMax` (datagrams scheduled but not yet arrived), `ispFlowsMax`, `partitionsMax`,
 * `adversaryHooksMax`, per-box `natBindingsMax`, per-hook `replayBufferMax`, `portsPerHostMax`,
 * `hostListenersMax`.
 */
import {
  checkSend,
  type DatagramHandler,
  type DatagramTransport,
  datagramSizeMaxBytes,
  type Endpoint,
  ipv4ToU32,
  isIpv4,
  isPort,
  TransportError,
  u32ToIpv4,
} from '../../src/seams/transport.js';
import { hashBytes } from '../kernel/hash.js';
import type { Kernel } from '../kernel/kernel.js';
import type { SeededRng } from '../kernel/rng.js';
import {
  type AdversaryHook,
  adversaryHooksMax,
  type ResolvedAdversaryHook,
  resolveAdversaryHook,
  type WireDatagram,
} from './adversary.js';
import {
  checkDeviceProfile,
  type DeviceProfile,
  dayMs,
  exponentialMs,
  type OfflineReason,
} from './device.js';
import {
  IspFlowTable,
  type IspPreset,
  type IspProfile,
  ispFlowsMaxDefault,
  type ResolvedIspProfile,
  resolveIspProfile,
} from './isp.js';
import { type LatencyConfig, LatencyTable, type LinkProfile, LinkState, resolveLinkProfile } from './link.js';
import { endpointNumber, NatBox, type NatConfig, type NatPreset, resolveNatConfig } from './nat.js';
import { checkNonNegativeInt, checkOneOf, checkPositiveInt } from './params.js';

export type HostKind = 'consumer' | 'server';

export interface SimNetworkOptions {
  /** One-way base latency per region pair (ms, integers). Default: one region `local`, 10 ms. */
  readonly latencyMs?: LatencyConfig;
  /** Region names, required when `latencyMs` is a function. */
  readonly regions?: readonly string[];
  /** Default link profile of every host (overridable per host). */
  readonly link?: LinkProfile;
  /** Delay within a LAN, for loopback, and for hairpinned datagrams (ms). Default 1. */
  readonly lanLatencyMs?: number;
  readonly publicAddressFirst?: string;
  readonly hostsMax?: number;
  readonly inFlightMax?: number;
  readonly ispFlowsMax?: number;
}

export interface HostOptions {
  readonly region?: string;
  /** NAT preset, full config, or an existing box to share (then region, isp and kind are the box's). */
  readonly nat?: NatPreset | NatConfig | SimNatBox;
  readonly isp?: IspPreset | IspProfile;
  /** `consumer` (default) or `server` (publicly hosted: exempt from the ISP's P2P rule). */
  readonly kind?: HostKind;
  readonly device?: DeviceProfile;
  /** Public address: the host's own if open, else its new NAT box's. */
  readonly address?: string;
  /** Link profile of this host's uplink (defaults to the network's). */
  readonly link?: LinkProfile;
}

export interface NatBoxOptions {
  readonly region?: string;
  readonly isp?: IspPreset | IspProfile;
  readonly kind?: HostKind;
  readonly address?: string;
}

export type DropReason =
  | 'loss'
  | 'natFilter'
  | 'natNoBinding'
  | 'natTableFull'
  | 'natHairpin'
  | 'isp'
  | 'partition'
  | 'offline'
  | 'adversary'
  | 'inFlightFull'
  | 'noRoute'
  | 'noListener';

export const dropReasons: readonly DropReason[] = [
  'loss',
  'natFilter',
  'natNoBinding',
  'natTableFull',
  'natHairpin',
  'isp',
  'partition',
  'offline',
  'adversary',
  'inFlightFull',
  'noRoute',
  'noListener',
];

export interface NetworkStats {
  sent: number;
  delivered: number;
  /** Extra copies created by link duplication or the adversary. */
  duplicated: number;
  delayed: number;
  replayed: number;
  corrupted: number;
  injected: number;
  readonly dropped: Record<DropReason, number>;
}

export interface AddressChange {
  readonly host: SimHost;
  readonly oldPublic: string;
  readonly newPublic: string;
  readonly local: string;
}

export interface PartitionWindow {
  readonly startMs: number;
  /** Heals at this time (exclusive); default never. */
  readonly endMs?: number;
}

export interface PartitionHandle {
  /** Heals the partition now. */
  heal(): void;
}

export interface AdversaryHandle {
  /** Datagrams the hook acted on so far. */
  readonly acted: number;
  remove(): void;
}

export const hostsMaxDefault = 1 << 20;
export const natBoxesMax = 1 << 16;
export const hostsPerNatMax = 253;
export const inFlightMaxDefault = 1 << 22;
export const partitionsMax = 1024;
export const portsPerHostMax = 4096;
export const hostListenersMax = 64;
/** Entries of each address parse/print cache before it is cleared. */
export const addressCacheEntriesMax = 1 << 16;
const ephemeralPortFirst = 49152;
const ephemeralPortLast = 65535;
const privateNet = ipv4ToU32('10.0.0.0');
const privateMask = 0xff000000;

type Listener<T> = (value: T) => void;

class ListenerList<T> {
  private readonly fns: Listener<T>[] = [];
  constructor(private readonly name: string) {}
  add(fn: Listener<T>): () => void {
    if (this.fns.length >= hostListenersMax) {
      throw new RangeError(`${this.name}: at most hostListenersMax=${hostListenersMax} listeners`);
    }
    this.fns.push(fn);
    return () => {
      const i = this.fns.indexOf(fn);
      if (i >= 0) this.fns.splice(i, 1);
    };
  }
  emit(value: T): void {
    for (const fn of [...this.fns]) fn(value);
  }
}

/** A NAT box with a public address, shared by the hosts behind it. */
export class SimNatBox {
  readonly id: number;
  readonly nat: NatBox;
  readonly regionIndex: number;
  readonly region: string;
  readonly kind: HostKind;
  readonly isp: ResolvedIspProfile;
  /** Private address -> host on this box's LAN. */
  readonly lan = new Map<number, SimHost>();
  publicAddressU32: number;
  publicAddress: string;
  readonly lanBase: number;

  constructor(
    id: number,
    nat: NatBox,
    region: string,
    regionIndex: number,
    kind: HostKind,
    isp: ResolvedIspProfile,
    address: number,
  ) {
    this.id = id;
    this.nat = nat;
    this.region = region;
    this.regionIndex = regionIndex;
    this.kind = kind;
    this.isp = isp;
    this.publicAddressU32 = address;
    this.publicAddress = u32ToIpv4(address);
    this.lanBase = (privateNet | (id << 8)) >>> 0;
  }
}

/** A simulated machine: an address, a region, an access profile, maybe a NAT box, its bound ports. */
export class SimHost {
  readonly id: number;
  readonly region: string;
  readonly regionIndex: number;
  readonly kind: HostKind;
  readonly isp: ResolvedIspProfile;
  readonly box: SimNatBox | null;
  readonly device: DeviceProfile | undefined;
  /** @internal */ readonly link: LinkState;
  /** @internal */ readonly ports = new Map<number, SimTransport>();
  /** @internal */ localAddressU32: number;
  /** @internal */ nextEphemeralPort = ephemeralPortFirst;
  private readonly offlineReasons = new Set<OfflineReason>();
  /** @internal */ readonly offlineListeners = new ListenerList<OfflineReason>('onOffline');
  /** @internal */ readonly onlineListeners = new ListenerList<void>('onOnline');
  /** @internal */ readonly addressListeners = new ListenerList<AddressChange>('onAddressChange');

  constructor(
    id: number,
    region: string,
    regionIndex: number,
    kind: HostKind,
    isp: ResolvedIspProfile,
    box: SimNatBox | null,
    localAddress: number,
    link: LinkState,
    device: DeviceProfile | undefined,
  ) {
    this.id = id;
    this.region = region;
    this.regionIndex = regionIndex;
    this.kind = kind;
    this.isp = isp;
    this.box = box;
    this.localAddressU32 = localAddress;
    this.link = link;
    this.device = device;
  }

  /** The address the host's sockets are bound to (private behind a NAT). */
  get localAddress(): string {
    return u32ToIpv4(this.localAddressU32);
  }

  /** The address the Internet sees (the NAT box's public address behind a NAT). */
  get publicAddress(): string {
    return this.box === null ? this.localAddress : this.box.publicAddress;
  }

  get online(): boolean {
    return this.offlineReasons.size === 0;
  }

  /** Reasons currently holding the host offline. */
  get offlineBecause(): readonly OfflineReason[] {
    return [...this.offlineReasons];
  }

  /** Called after the host went offline (its transports are already closed). Returns an unsubscribe. */
  onOffline(fn: (reason: OfflineReason) => void): () => void {
    return this.offlineListeners.add(fn);
  }

  /** Called when the host is back online: bind again. */
  onOnline(fn: () => void): () => void {
    return this.onlineListeners.add(fn);
  }

  /** Called when the host's public address changed (bindings at its NAT are gone too). */
  onAddressChange(fn: (change: AddressChange) => void): () => void {
    return this.addressListeners.add(fn);
  }

  /** @internal */ addReason(r: OfflineReason): boolean {
    const was = this.online;
    this.offlineReasons.add(r);
    return was;
  }

  /** @internal */ removeReason(r: OfflineReason): boolean {
    if (!this.offlineReasons.delete(r)) return false;
    return this.online;
  }
}

/** The simulator's `DatagramTransport`: one bound port of one host. */
export class SimTransport implements DatagramTransport {
  readonly host: SimHost;
  readonly port: number;
  readonly network: SimNetwork;
  /** @internal */ handler: DatagramHandler | undefined;
  private closed = false;

  constructor(net: SimNetwork, host: SimHost, port: number) {
    this.network = net;
    this.host = host;
    this.port = port;
  }

  get local(): Endpoint {
    return { address: this.host.localAddress, port: this.port };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    if (this.closed)
      throw new TransportError('closed', `transport ${this.host.localAddress}:${this.port} is closed`);
    this.network.sendFrom(this, to, bytes);
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    if (this.host.ports.get(this.port) === this) this.host.ports.delete(this.port);
  }
}

type Attachment =
  | { readonly host: SimHost; readonly box: null }
  | { readonly host: null; readonly box: SimNatBox };

interface Partition {
  readonly a: ReadonlySet<number>;
  readonly b: ReadonlySet<number>;
  readonly startMs: number;
  endMs: number;
}

interface Hook {
  readonly h: ResolvedAdversaryHook;
  acted: number;
  replayPending: number;
}

export class SimNetwork {
  readonly kernel: Kernel;
  readonly latency: LatencyTable;
  readonly stats: NetworkStats;
  readonly lanLatencyMs: number;
  readonly inFlightMax: number;
  readonly hostsMax: number;
  private readonly linkDefault: LinkProfile | undefined;
  private readonly rng: SeededRng;
  private readonly adversaryRng: SeededRng;
  private readonly injectLink: LinkState;
  private readonly routes = new Map<number, Attachment>();
  private readonly hosts: SimHost[] = [];
  private readonly boxes: SimNatBox[] = [];
  private readonly ispFlows: IspFlowTable;
  private partitions: Partition[] = [];
  private hooks: Hook[] = [];
  private inFlight = 0;
  private nextPublic: number;
  private readonly kindDeliver: number;
  private readonly kindDevice: number;
  private readonly kindReplay: number;
  /**
   * Dotted quads seen as destinations → their u32, and u32 source addresses → their dotted quad: a
   * datagram's endpoints are strings at the seam, and parsing or printing them per datagram is a
   * measurable share of the datagram path. Both are plain caches (cleared when full).
   */
  private readonly addressU32 = new Map<string, number>();
  private readonly addressText = new Map<number, string>();

  constructor(kernel: Kernel, opts: SimNetworkOptions = {}) {
    this.kernel = kernel;
    this.latency = new LatencyTable(opts.latencyMs ?? { local: { local: 10 } }, opts.regions);
    this.linkDefault = opts.link;
    resolveLinkProfile(opts.link, 'link');
    this.lanLatencyMs = checkNonNegativeInt('lanLatencyMs', opts.lanLatencyMs ?? 1);
    this.inFlightMax = checkPositiveInt('inFlightMax', opts.inFlightMax ?? inFlightMaxDefault);
    this.hostsMax = checkPositiveInt('hostsMax', opts.hostsMax ?? hostsMaxDefault);
    this.ispFlows = new IspFlowTable(checkPositiveInt('ispFlowsMax', opts.ispFlowsMax ?? ispFlowsMaxDefault));
    const first = opts.publicAddressFirst ?? '11.0.0.1';
    if (typeof first !== 'string' || !isIpv4(first)) {
      throw new RangeError(`publicAddressFirst must be an IPv4 dotted quad, got ${String(first)}`);
    }
    this.nextPublic = ipv4ToU32(first);
    this.rng = kernel.rng.fork('network');
    this.adversaryRng = this.rng.fork('adversary');
    this.injectLink = new LinkState(resolveLinkProfile(opts.link), this.rng.fork('link').fork('inject'));
    const dropped = {} as Record<DropReason, number>;
    for (const r of dropReasons) dropped[r] = 0;
    this.stats = {
      sent: 0,
      delivered: 0,
      duplicated: 0,
      delayed: 0,
      replayed: 0,
      corrupted: 0,
      injected: 0,
      dropped,
    };
    this.kindDeliver = kernel.kind('net.deliver');
    this.kindDevice = kernel.kind('net.device');
    this.kindReplay = kernel.kind('net.replay');
  }

  /** Datagrams scheduled for arrival and not yet arrived. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  get hostCount(): number {
    return this.hosts.length;
  }

  host(id: number): SimHost | undefined {
    return this.hosts[id];
  }

  /** Creates a NAT box that several hosts can share (pass it as `nat` to `addHost`). */
  addNatBox(nat: Exclude<NatPreset, 'open'> | NatConfig, opts: NatBoxOptions = {}): SimNatBox {
    const config = resolveNatConfig(nat, 'nat');
    if (config === null) throw new RangeError('nat must not be open for a NAT box');
    if (this.boxes.length >= natBoxesMax) throw new RangeError(`natBoxesMax=${natBoxesMax} reached`);
    const region = opts.region ?? this.latency.regions[0]!;
    const regionIndex = this.latency.regionIndex(region);
    const kind = checkOneOf('kind', opts.kind ?? 'consumer', ['consumer', 'server'] as const);
    const isp = resolveIspProfile(opts.isp, 'isp');
    const address = this.takePublicAddress(opts.address);
    const id = this.boxes.length;
    const box = new SimNatBox(
      id,
      new NatBox(config, this.rng.fork('nat').fork(String(id))),
      region,
      regionIndex,
      kind,
      isp,
      address,
    );
    this.boxes.push(box);
    this.routes.set(address, { host: null, box });
    return box;
  }

  addHost(opts: HostOptions = {}): SimHost {
    if (this.hosts.length >= this.hostsMax) throw new RangeError(`hostsMax=${this.hostsMax} reached`);
    const device = checkDeviceProfile(opts.device, 'device');
    const id = this.hosts.length;
    const link = new LinkState(
      resolveLinkProfile(opts.link ?? this.linkDefault, 'link'),
      this.rng.fork('link').fork(String(id)),
    );
    let host: SimHost;
    const nat = opts.nat ?? 'open';
    if (nat instanceof SimNatBox) {
      if (this.boxes[nat.id] !== nat) throw new TypeError('nat: this NAT box belongs to another network');
      if (opts.address !== undefined)
        throw new RangeError('address: a host sharing a NAT box takes no address');
      if (nat.lan.size >= hostsPerNatMax)
        throw new RangeError(`nat: hostsPerNatMax=${hostsPerNatMax} reached`);
      const local = (nat.lanBase + 2 + nat.lan.size) >>> 0;
      host = new SimHost(id, nat.region, nat.regionIndex, nat.kind, nat.isp, nat, local, link, device);
      nat.lan.set(local, host);
    } else {
      const config = resolveNatConfig(nat, 'nat');
      const region = opts.region ?? this.latency.regions[0]!;
      const regionIndex = this.latency.regionIndex(region);
      const kind = checkOneOf('kind', opts.kind ?? 'consumer', ['consumer', 'server'] as const);
      const isp = resolveIspProfile(opts.isp, 'isp');
      if (config === null) {
        const address = this.takePublicAddress(opts.address);
        host = new SimHost(id, region, regionIndex, kind, isp, null, address, link, device);
        this.routes.set(address, { host, box: null });
      } else {
        const boxOpts: NatBoxOptions = { region, kind, isp: opts.isp ?? 'default' };
        const box = this.addNatBox(
          config,
          opts.address === undefined ? boxOpts : { ...boxOpts, address: opts.address },
        );
        const local = (box.lanBase + 2) >>> 0;
        host = new SimHost(id, region, regionIndex, kind, isp, box, local, link, device);
        box.lan.set(local, host);
      }
    }
    this.hosts.push(host);
    if (device !== undefined) this.startDevice(host, device);
    return host;
  }

  /** Binds `port` (or a free ephemeral port) on `host`. */
  bind(host: SimHost, port?: number): SimTransport {
    if (!(host instanceof SimHost) || this.hosts[host.id] !== host) {
      throw new TypeError('host must be a SimHost of this network');
    }
    if (!host.online) throw new TransportError('closed', `host ${host.id} is offline`);
    if (host.ports.size >= portsPerHostMax) {
      throw new TransportError(
        'portInUse',
        `host ${host.id} has portsPerHostMax=${portsPerHostMax} ports bound`,
      );
    }
    let p: number;
    if (port === undefined) {
      p = this.ephemeralPort(host);
    } else {
      if (!isPort(port)) throw new RangeError(`port must be an integer in 1..65535, got ${port}`);
      if (host.ports.has(port))
        throw new TransportError('portInUse', `port ${port} in use on host ${host.id}`);
      p = port;
    }
    const t = new SimTransport(this, host, p);
    host.ports.set(p, t);
    return t;
  }

  /** Drops every datagram between a host of `a` and a host of `b` sent in [startMs, endMs). */
  partition(a: readonly SimHost[], b: readonly SimHost[], window: PartitionWindow): PartitionHandle {
    const startMs = checkNonNegativeInt('startMs', window.startMs);
    const endMs =
      window.endMs === undefined ? Number.POSITIVE_INFINITY : checkNonNegativeInt('endMs', window.endMs);
    if (endMs < startMs) throw new RangeError(`endMs must be >= startMs, got ${endMs} < ${startMs}`);
    const now = this.kernel.now();
    this.partitions = this.partitions.filter((p) => p.endMs > now);
    if (this.partitions.length >= partitionsMax)
      throw new RangeError(`partitionsMax=${partitionsMax} reached`);
    const p: Partition = { a: new Set(a.map((h) => h.id)), b: new Set(b.map((h) => h.id)), startMs, endMs };
    this.partitions.push(p);
    return {
      heal: () => {
        p.endMs = Math.min(p.endMs, this.kernel.now());
      },
    };
  }

  addAdversary(hook: AdversaryHook): AdversaryHandle {
    const h = resolveAdversaryHook(hook, 'adversary');
    if (this.hooks.length >= adversaryHooksMax)
      throw new RangeError(`adversaryHooksMax=${adversaryHooksMax} reached`);
    const entry: Hook = { h, acted: 0, replayPending: 0 };
    this.hooks.push(entry);
    return {
      get acted() {
        return entry.acted;
      },
      remove: () => {
        this.hooks = this.hooks.filter((x) => x !== entry);
      },
    };
  }

  /**
   * Puts a forged datagram on the public wire with any source endpoint (spoofing). It passes the ISP
   * rule, the adversary hooks and the network's default link like any other.
   */
  inject(from: Endpoint, to: Endpoint, bytes: Uint8Array): void {
    checkSend(from, bytes);
    checkSend(to, bytes);
    this.stats.injected++;
    this.wire(ipv4ToU32(from.address), from.port, ipv4ToU32(to.address), to.port, bytes.slice(), null, false);
  }

  takeOffline(host: SimHost, reason: OfflineReason = 'manual'): void {
    if (!host.addReason(reason)) return;
    for (const t of [...host.ports.values()]) t.close();
    host.offlineListeners.emit(reason);
  }

  bringOnline(host: SimHost, reason: OfflineReason = 'manual'): void {
    if (host.removeReason(reason)) host.onlineListeners.emit(undefined);
  }

  /**
   * Gives the host a new public address (`address` or the next free one). Behind a NAT the box is
   * renumbered and its bindings forgotten, so every host behind it hears of the change.
   */
  changeAddress(host: SimHost, address?: string): void {
    const fresh = this.takePublicAddress(address);
    const box = host.box;
    if (box !== null) {
      const old = box.publicAddress;
      this.routes.delete(box.publicAddressU32);
      box.publicAddressU32 = fresh;
      box.publicAddress = u32ToIpv4(fresh);
      box.nat.flush();
      this.routes.set(fresh, { host: null, box });
      for (const h of [...box.lan.values()]) {
        h.addressListeners.emit({
          host: h,
          oldPublic: old,
          newPublic: box.publicAddress,
          local: h.localAddress,
        });
      }
    } else {
      const old = host.localAddress;
      this.routes.delete(host.localAddressU32);
      host.localAddressU32 = fresh;
      this.routes.set(fresh, { host, box: null });
      host.addressListeners.emit({
        host,
        oldPublic: old,
        newPublic: host.localAddress,
        local: host.localAddress,
      });
    }
  }

  // ---- the datagram path -------------------------------------------------------------------------

  /** @internal Called by `SimTransport.send` (an open transport); makes the transport checks here. */
  sendFrom(t: SimTransport, to: Endpoint, bytes: Uint8Array): void {
    // The transport's checks (`checkSend`), with the destination's parse remembered.
    let toAddr = this.addressU32.get(to.address);
    if (toAddr === undefined || bytes.length > datagramSizeMaxBytes || !isPort(to.port)) {
      checkSend(to, bytes);
      toAddr = ipv4ToU32(to.address);
      if (this.addressU32.size >= addressCacheEntriesMax) this.addressU32.clear();
      this.addressU32.set(to.address, toAddr);
    }
    const host = t.host;
    const stats = this.stats;
    stats.sent++;
    const data = bytes.slice();
    if (toAddr === host.localAddressU32 || to.address === '127.0.0.1') {
      this.scheduleLocal(host, to.port, { address: host.localAddress, port: t.port }, data, 0);
      return;
    }
    const box = host.box;
    if (box === null) {
      this.wire(host.localAddressU32, t.port, toAddr, to.port, data, host, false);
      return;
    }
    const lanHost = box.lan.get(toAddr);
    if (lanHost !== undefined) {
      this.scheduleLocal(
        lanHost,
        to.port,
        { address: host.localAddress, port: t.port },
        data,
        this.lanLatencyMs,
      );
      return;
    }
    const now = this.kernel.now();
    const out = box.nat.outbound(host.localAddressU32, t.port, toAddr, to.port, now);
    if (!out.ok) {
      stats.dropped.natTableFull++;
      return;
    }
    if (toAddr === box.publicAddressU32) {
      if (!box.nat.config.hairpinning) {
        stats.dropped.natHairpin++;
        return;
      }
      this.schedule(box.publicAddressU32, out.externalPort, toAddr, to.port, data, this.lanLatencyMs, -1);
      return;
    }
    this.wire(box.publicAddressU32, out.externalPort, toAddr, to.port, data, host, false);
  }

  /** A datagram on the public wire: partitions, ISP, adversary, link; then scheduled for arrival. */
  private wire(
    fromAddr: number,
    fromPort: number,
    toAddr: number,
    toPort: number,
    data: Uint8Array,
    sender: SimHost | null,
    replayed: boolean,
  ): void {
    const stats = this.stats;
    const now = this.kernel.now();
    const dst = this.routes.get(toAddr);
    if (dst === undefined) {
      stats.dropped.noRoute++;
      return;
    }
    const dstHost = this.resolveHost(dst, toPort, now);
    if (sender !== null && dstHost !== undefined && this.partitioned(sender.id, dstHost.id, now)) {
      stats.dropped.partition++;
      return;
    }
    // The ISP rule needs both ends' kinds; a forged source with no site behind it counts as a server.
    let srcSite: { readonly kind: HostKind; readonly isp: ResolvedIspProfile } | undefined =
      sender ?? undefined;
    if (srcSite === undefined) {
      const a = this.routes.get(fromAddr);
      srcSite = a === undefined ? undefined : (a.box ?? a.host);
    }
    const dstSite = dst.box ?? dst.host;
    if (srcSite !== undefined && srcSite.kind === 'consumer' && dstSite.kind === 'consumer') {
      const after = Math.min(srcSite.isp.p2pDropAfterPackets, dstSite.isp.p2pDropAfterPackets);
      if (!this.ispFlows.pass(endpointNumber(fromAddr, fromPort), endpointNumber(toAddr, toPort), after)) {
        stats.dropped.isp++;
        return;
      }
    }
    let bytes = data;
    let extraDelayMs = 0;
    let copies = 1;
    if (this.hooks.length > 0) {
      const wd: WireDatagram = {
        from: { address: u32ToIpv4(fromAddr), port: fromPort },
        to: { address: u32ToIpv4(toAddr), port: toPort },
        bytes: data,
        fromHost: sender?.id ?? -1,
        toHost: dstHost?.id ?? -1,
        replayed,
      };
      for (const hook of this.hooks) {
        const h = hook.h;
        if (now < h.startMs || now >= h.endMs || !h.match(wd)) continue;
        if (h.probability < 1 && !(this.adversaryRng.float() < h.probability)) continue;
        switch (h.action) {
          case 'drop':
            hook.acted++;
            stats.dropped.adversary++;
            return;
          case 'delay':
            hook.acted++;
            stats.delayed++;
            extraDelayMs += h.delayMs;
            break;
          case 'duplicate':
            hook.acted++;
            stats.duplicated += h.copies;
            copies += h.copies;
            break;
          case 'replay':
            if (replayed || hook.replayPending >= h.replayBufferMax) break;
            hook.acted++;
            hook.replayPending++;
            this.kernel.after(h.replayAfterMs, this.kindReplay, dstHost?.id ?? -1, hashBytes(data), () => {
              hook.replayPending--;
              stats.replayed++;
              this.wire(fromAddr, fromPort, toAddr, toPort, data, sender, true);
            });
            break;
          case 'corrupt':
            if (bytes.length === 0) break;
            hook.acted++;
            stats.corrupted++;
            if (bytes === data) bytes = data.slice();
            for (let i = 0; i < h.bitFlips; i++) {
              const bit = this.adversaryRng.int(bytes.length * 8);
              bytes[bit >>> 3]! ^= 1 << (bit & 7);
            }
            break;
        }
      }
    }
    const link = sender?.link ?? this.injectLink;
    if (link.lost()) {
      stats.dropped.loss++;
      return;
    }
    if (link.duplicated()) {
      stats.duplicated++;
      copies++;
    }
    const fromRegion = sender?.regionIndex ?? dstSite.regionIndex;
    const base = this.latency.baseMs(fromRegion, dstSite.regionIndex) + extraDelayMs;
    const peer = dstHost?.id ?? -1;
    for (let c = 0; c < copies; c++) {
      this.schedule(fromAddr, fromPort, toAddr, toPort, bytes, base + link.extraDelayMs(), peer);
    }
  }

  private schedule(
    fromAddr: number,
    fromPort: number,
    toAddr: number,
    toPort: number,
    bytes: Uint8Array,
    delayMs: number,
    peer: number,
  ): void {
    if (this.inFlight >= this.inFlightMax) {
      this.stats.dropped.inFlightFull++;
      return;
    }
    this.inFlight++;
    this.kernel.after(delayMs, this.kindDeliver, peer, hashBytes(bytes), () => {
      this.inFlight--;
      this.arrive(fromAddr, fromPort, toAddr, toPort, bytes);
    });
  }

  /** Loopback and LAN traffic: no NAT, no ISP, no link model. */
  private scheduleLocal(
    host: SimHost,
    port: number,
    from: Endpoint,
    bytes: Uint8Array,
    delayMs: number,
  ): void {
    if (this.inFlight >= this.inFlightMax) {
      this.stats.dropped.inFlightFull++;
      return;
    }
    this.inFlight++;
    this.kernel.after(delayMs, this.kindDeliver, host.id, hashBytes(bytes), () => {
      this.inFlight--;
      this.deliverToHost(host, port, from, bytes);
    });
  }

  private arrive(
    fromAddr: number,
    fromPort: number,
    toAddr: number,
    toPort: number,
    bytes: Uint8Array,
  ): void {
    const dst = this.routes.get(toAddr);
    if (dst === undefined) {
      this.stats.dropped.noRoute++;
      return;
    }
    let address = this.addressText.get(fromAddr);
    if (address === undefined) {
      address = u32ToIpv4(fromAddr);
      if (this.addressText.size >= addressCacheEntriesMax) this.addressText.clear();
      this.addressText.set(fromAddr, address);
    }
    const from: Endpoint = { address, port: fromPort };
    if (dst.box === null) {
      this.deliverToHost(dst.host, toPort, from, bytes);
      return;
    }
    const r = dst.box.nat.inbound(fromAddr, fromPort, toPort, this.kernel.now());
    if (!r.ok) {
      if (r.code === 'natFiltered') this.stats.dropped.natFilter++;
      else this.stats.dropped.natNoBinding++;
      return;
    }
    const host = dst.box.lan.get(r.internalAddress);
    if (host === undefined) {
      this.stats.dropped.noRoute++;
      return;
    }
    this.deliverToHost(host, r.internalPort, from, bytes);
  }

  private deliverToHost(host: SimHost, port: number, from: Endpoint, bytes: Uint8Array): void {
    if (!host.online) {
      this.stats.dropped.offline++;
      return;
    }
    const t = host.ports.get(port);
    if (t === undefined) {
      this.stats.dropped.noListener++;
      return;
    }
    this.stats.delivered++;
    t.handler?.(bytes, from);
  }

  private resolveHost(dst: Attachment, port: number, now: number): SimHost | undefined {
    if (dst.box === null) return dst.host;
    const inner = dst.box.nat.peek(port, now);
    return inner === undefined ? undefined : dst.box.lan.get(inner.internalAddress);
  }

  private partitioned(x: number, y: number, now: number): boolean {
    for (const p of this.partitions) {
      if (now < p.startMs || now >= p.endMs) continue;
      if ((p.a.has(x) && p.b.has(y)) || (p.b.has(x) && p.a.has(y))) return true;
    }
    return false;
  }

  // ---- addresses and ports -------------------------------------------------------------------------

  private takePublicAddress(address: string | undefined): number {
    if (address !== undefined) {
      if (typeof address !== 'string' || !isIpv4(address)) {
        throw new RangeError(`address must be an IPv4 dotted quad, got ${String(address)}`);
      }
      const a = ipv4ToU32(address);
      if ((a & privateMask) >>> 0 === privateNet) {
        throw new RangeError(`address must not be in 10.0.0.0/8 (the simulated LANs), got ${address}`);
      }
      if (this.routes.has(a)) throw new RangeError(`address ${address} is already in use`);
      return a;
    }
    // Sequential, skipping taken, private and .0/.255 addresses; bounded by the address space.
    for (let i = 0; i < 0x1_0000_0000; i++) {
      const a = this.nextPublic >>> 0;
      this.nextPublic = (a + 1) >>> 0;
      const last = a & 255;
      if (last === 0 || last === 255 || (a & privateMask) >>> 0 === privateNet || a >>> 24 === 127) continue;
      if (!this.routes.has(a)) return a;
    }
    throw new RangeError('address space exhausted');
  }

  private ephemeralPort(host: SimHost): number {
    let p = host.nextEphemeralPort;
    for (let i = 0; i <= ephemeralPortLast - ephemeralPortFirst; i++) {
      const next = p === ephemeralPortLast ? ephemeralPortFirst : p + 1;
      if (!host.ports.has(p)) {
        host.nextEphemeralPort = next;
        return p;
      }
      p = next;
    }
    throw new TransportError('portInUse', `host ${host.id} has no free ephemeral port`);
  }

  // ---- devices -------------------------------------------------------------------------------------

  private startDevice(host: SimHost, d: DeviceProfile): void {
    const rng = this.rng.fork('device').fork(String(host.id));
    if (d.nightly !== undefined) {
      const spread = d.nightly.spreadMs ?? 0;
      const offset = spread > 0 ? rng.int(spread + 1) : 0;
      this.scheduleNightly(host, d.nightly.startMsOfDay + offset, d.nightly.durationMs);
    }
    if (d.sleep !== undefined) this.scheduleSleep(host, d, rng);
    const interval = d.addressChange?.meanIntervalMs;
    if (interval !== undefined) this.scheduleAddressChange(host, interval, rng);
  }

  private scheduleNightly(host: SimHost, startMsOfDay: number, durationMs: number): void {
    const now = this.kernel.now();
    let start = now - (now % dayMs) + startMsOfDay;
    if (start + durationMs <= now) start += dayMs;
    // Inside the window already (e.g. a run starting at night): offline at once.
    this.kernel.at(Math.max(start, now), this.kindDevice, host.id, 1, () => {
      this.takeOffline(host, 'nightly');
      this.kernel.at(start + durationMs, this.kindDevice, host.id, 2, () => {
        this.bringOnline(host, 'nightly');
        this.scheduleNightly(host, startMsOfDay, durationMs);
      });
    });
  }

  private scheduleSleep(host: SimHost, d: DeviceProfile, rng: SeededRng): void {
    const sleep = d.sleep!;
    this.kernel.after(exponentialMs(sleep.meanAwakeMs, rng.float()), this.kindDevice, host.id, 3, () => {
      this.takeOffline(host, 'sleep');
      this.kernel.after(exponentialMs(sleep.meanAsleepMs, rng.float()), this.kindDevice, host.id, 4, () => {
        if (d.addressChange?.onWake === true) this.changeAddress(host);
        this.bringOnline(host, 'sleep');
        this.scheduleSleep(host, d, rng);
      });
    });
  }

  private scheduleAddressChange(host: SimHost, meanIntervalMs: number, rng: SeededRng): void {
    this.kernel.after(exponentialMs(meanIntervalMs, rng.float()), this.kindDevice, host.id, 5, () => {
      this.changeAddress(host);
      this.scheduleAddressChange(host, meanIntervalMs, rng);
    });
  }
}
