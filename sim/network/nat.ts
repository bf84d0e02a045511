/**
 * NAT as data, after RFC 4787 (NAT behavioural requirements for unicast UDP).
 *
 * A NAT box is described by five independent behaviours rather than by a classic name:
 * - mapping: which external port an outgoing datagram leaves from. Endpoint-independent mapping reuses one
 *   external port per internal endpoint whatever the destination; address-dependent allocates one per
 *   (internal endpoint, remote address); address-and-port-dependent one per (internal endpoint, remote
 *   endpoint) — the "symmetric" NAT that defeats hole punching through a third party.
 * - filtering: which inbound datagrams to an external port pass. Endpoint-independent: anyone; address-
 *   dependent: addresses the inside has sent to; address-and-port-dependent: exact endpoints sent to.
 * - port allocation: preserve the internal port when free (else sequential), sequential, or random;
 *   sequential and random allocation hand out ports from 1024 up.
 * - binding lifetime: a binding (and each filtering permission) lives `bindingLifetimeMs` after the last
 *   outbound datagram (RFC 4787 REQ-6: outbound refreshes; inbound refresh is a per-box option).
 * - hairpinning: whether a datagram from the inside to the box's own public endpoint loops back in (with
 *   the sender's *external* source endpoint, REQ-9).
 *
 * The classic names are presets over these behaviours. The box is pure logic: it owns no timers (expiry is
 * checked lazily against the `now` passed in, and expired bindings are swept when the table is full), its
 * only randomness is the `Rng` it was given (for random port allocation), and its table is bounded by
 * `natBindingsMax`: when full and nothing has expired, a new mapping is refused (`natTableFull`), as a real
 * box runs out of conntrack entries.
 *
 * Addresses are u32 here (see `ipv4ToU32`), endpoints are numeric keys `address * 65536 + port`, which fit
 * in a double exactly (48 bits).
 */
import type { Rng } from '../../src/seams/rng.js';
import { checkBoolean, checkOneOf, checkPositiveInt } from './params.js';

export type NatBehaviour = 'endpointIndependent' | 'addressDependent' | 'addressAndPortDependent';
export type PortAllocation = 'preserve' | 'sequential' | 'random';

export interface NatConfig {
  readonly mapping: NatBehaviour;
  readonly filtering: NatBehaviour;
  readonly portAllocation: PortAllocation;
  /** How long a binding (and a filtering permission) lives after its last refresh. */
  readonly bindingLifetimeMs: number;
  readonly hairpinning: boolean;
  /** Whether inbound datagrams that pass the filter refresh the binding (RFC 4787 leaves it open). */
  readonly inboundRefresh?: boolean;
  /** Bound on simultaneous bindings; new mappings beyond it are refused. */
  readonly natBindingsMax?: number;
}

export type NatPresetName = 'fullCone' | 'restricted' | 'portRestricted' | 'symmetric';
/** `open` means no NAT box at all: the host holds a public address. */
export type NatPreset = 'open' | NatPresetName;

export const natBehaviours: readonly NatBehaviour[] = [
  'endpointIndependent',
  'addressDependent',
  'addressAndPortDependent',
];
export const portAllocations: readonly PortAllocation[] = ['preserve', 'sequential', 'random'];
export const natPresetNames: readonly NatPreset[] = [
  'open',
  'fullCone',
  'restricted',
  'portRestricted',
  'symmetric',
];

/** RFC 4787 REQ-5: a UDP binding must not expire in less than two minutes. */
export const natBindingLifetimeDefaultMs = 120_000;
export const natBindingsMaxDefault = 4096;
/** External ports a box hands out: the unprivileged range (never 0, never below 1024). */
export const natPortFirst = 1024;
export const natPortLast = 65535;
const natPortCount = natPortLast - natPortFirst + 1;
/** Random port allocation tries this many draws before scanning sequentially from a random start. */
const randomPortAttemptsMax = 32;
/** Filtering permissions kept per binding (oldest dropped first). */
export const natPermissionsPerBindingMax = 256;

export const natPresets: Readonly<Record<NatPresetName, NatConfig>> = {
  fullCone: {
    mapping: 'endpointIndependent',
    filtering: 'endpointIndependent',
    portAllocation: 'preserve',
    bindingLifetimeMs: natBindingLifetimeDefaultMs,
    hairpinning: true,
  },
  restricted: {
    mapping: 'endpointIndependent',
    filtering: 'addressDependent',
    portAllocation: 'preserve',
    bindingLifetimeMs: natBindingLifetimeDefaultMs,
    hairpinning: true,
  },
  portRestricted: {
    mapping: 'endpointIndependent',
    filtering: 'addressAndPortDependent',
    portAllocation: 'preserve',
    bindingLifetimeMs: natBindingLifetimeDefaultMs,
    hairpinning: true,
  },
  symmetric: {
    mapping: 'addressAndPortDependent',
    filtering: 'addressAndPortDependent',
    portAllocation: 'random',
    bindingLifetimeMs: natBindingLifetimeDefaultMs,
    hairpinning: false,
  },
};

export interface ResolvedNatConfig {
  readonly mapping: NatBehaviour;
  readonly filtering: NatBehaviour;
  readonly portAllocation: PortAllocation;
  readonly bindingLifetimeMs: number;
  readonly hairpinning: boolean;
  readonly inboundRefresh: boolean;
  readonly natBindingsMax: number;
}

/**
 * A preset name or a full config -> a validated config, or `null` for `open`. Throws a RangeError/TypeError
 * naming the parameter (`name`, e.g. `nat` or `nat.bindingLifetimeMs`).
 */
export function resolveNatConfig(nat: NatPreset | NatConfig, name = 'nat'): ResolvedNatConfig | null {
  if (typeof nat === 'string') {
    const preset = checkOneOf(name, nat, natPresetNames);
    if (preset === 'open') return null;
    return resolveNatConfig(natPresets[preset], name);
  }
  if (typeof nat !== 'object' || nat === null) {
    throw new TypeError(`${name} must be a preset name or a NatConfig, got ${String(nat)}`);
  }
  const natBindingsMax = checkPositiveInt(
    `${name}.natBindingsMax`,
    nat.natBindingsMax ?? natBindingsMaxDefault,
  );
  if (natBindingsMax > natPortCount) {
    throw new RangeError(
      `${name}.natBindingsMax must be at most ${natPortCount} (the port range), got ${natBindingsMax}`,
    );
  }
  return {
    mapping: checkOneOf(`${name}.mapping`, nat.mapping, natBehaviours),
    filtering: checkOneOf(`${name}.filtering`, nat.filtering, natBehaviours),
    portAllocation: checkOneOf(`${name}.portAllocation`, nat.portAllocation, portAllocations),
    bindingLifetimeMs: checkPositiveInt(`${name}.bindingLifetimeMs`, nat.bindingLifetimeMs),
    hairpinning: checkBoolean(`${name}.hairpinning`, nat.hairpinning),
    inboundRefresh: checkBoolean(`${name}.inboundRefresh`, nat.inboundRefresh ?? false),
    natBindingsMax,
  };
}

/** Numeric endpoint key: address (u32) * 65536 + port. Exact in a double. */
export function endpointNumber(address: number, port: number): number {
  return address * 65536 + port;
}

interface Binding {
  readonly internalAddress: number;
  readonly internalPort: number;
  readonly externalPort: number;
  readonly mappingKey: string;
  lastActiveMs: number;
  /** Filtering permissions: remote address (address-dependent) or remote endpoint number -> last outbound ms. */
  readonly permissions: Map<number, number>;
}

export type NatOutboundResult = { ok: true; externalPort: number } | { ok: false; code: 'natTableFull' };
export type NatInboundResult =
  | { ok: true; internalAddress: number; internalPort: number }
  | { ok: false; code: 'natNoBinding' | 'natFiltered' };

export class NatBox {
  readonly config: ResolvedNatConfig;
  private readonly rng: Rng;
  private readonly byMapping = new Map<string, Binding>();
  private readonly byExternalPort = new Map<number, Binding>();
  private nextPort = natPortFirst;

  constructor(config: ResolvedNatConfig, rng: Rng) {
    this.config = config;
    this.rng = rng;
  }

  /** Live and expired-but-unswept bindings. */
  get bindingCount(): number {
    return this.byExternalPort.size;
  }

  /**
   * Translates an outgoing datagram: finds or creates the mapping for (internal endpoint, remote), refreshes
   * it, grants the remote a filtering permission, and returns the external source port.
   */
  outbound(
    internalAddress: number,
    internalPort: number,
    remoteAddress: number,
    remotePort: number,
    nowMs: number,
  ): NatOutboundResult {
    const key = this.mappingKey(internalAddress, internalPort, remoteAddress, remotePort);
    let binding = this.byMapping.get(key);
    if (binding !== undefined && this.expired(binding, nowMs)) {
      this.remove(binding);
      binding = undefined;
    }
    if (binding === undefined) {
      if (this.byExternalPort.size >= this.config.natBindingsMax) this.sweep(nowMs);
      if (this.byExternalPort.size >= this.config.natBindingsMax) return { ok: false, code: 'natTableFull' };
      const externalPort = this.allocatePort(internalPort, nowMs);
      if (externalPort === undefined) return { ok: false, code: 'natTableFull' };
      binding = {
        internalAddress,
        internalPort,
        externalPort,
        mappingKey: key,
        lastActiveMs: nowMs,
        permissions: new Map(),
      };
      this.byMapping.set(key, binding);
      this.byExternalPort.set(externalPort, binding);
    }
    binding.lastActiveMs = nowMs;
    this.permit(binding, remoteAddress, remotePort, nowMs);
    return { ok: true, externalPort: binding.externalPort };
  }

  /** Filters and translates an incoming datagram addressed to `externalPort` from `remote`. */
  inbound(remoteAddress: number, remotePort: number, externalPort: number, nowMs: number): NatInboundResult {
    const binding = this.byExternalPort.get(externalPort);
    if (binding === undefined) return { ok: false, code: 'natNoBinding' };
    if (this.expired(binding, nowMs)) {
      this.remove(binding);
      return { ok: false, code: 'natNoBinding' };
    }
    const filtering = this.config.filtering;
    if (filtering !== 'endpointIndependent') {
      const k = filtering === 'addressDependent' ? remoteAddress : endpointNumber(remoteAddress, remotePort);
      const last = binding.permissions.get(k);
      if (last === undefined || nowMs - last >= this.config.bindingLifetimeMs) {
        return { ok: false, code: 'natFiltered' };
      }
    }
    if (this.config.inboundRefresh) binding.lastActiveMs = nowMs;
    return { ok: true, internalAddress: binding.internalAddress, internalPort: binding.internalPort };
  }

  /** Which internal endpoint a live binding on `externalPort` leads to, without filtering (for routing hints). */
  peek(externalPort: number, nowMs: number): { internalAddress: number; internalPort: number } | undefined {
    const binding = this.byExternalPort.get(externalPort);
    if (binding === undefined || this.expired(binding, nowMs)) return undefined;
    return { internalAddress: binding.internalAddress, internalPort: binding.internalPort };
  }

  /** Forgets every binding (the box was renumbered or rebooted). */
  flush(): void {
    this.byMapping.clear();
    this.byExternalPort.clear();
  }

  /** Removes expired bindings. O(table); called only when the table is full. */
  sweep(nowMs: number): void {
    for (const b of this.byExternalPort.values()) if (this.expired(b, nowMs)) this.remove(b);
  }

  private expired(b: Binding, nowMs: number): boolean {
    return nowMs - b.lastActiveMs >= this.config.bindingLifetimeMs;
  }

  private remove(b: Binding): void {
    this.byMapping.delete(b.mappingKey);
    this.byExternalPort.delete(b.externalPort);
  }

  private mappingKey(ia: number, ip: number, ra: number, rp: number): string {
    const internal = endpointNumber(ia, ip);
    switch (this.config.mapping) {
      case 'endpointIndependent':
        return String(internal);
      case 'addressDependent':
        return `${internal}/${ra}`;
      case 'addressAndPortDependent':
        return `${internal}/${ra}:${rp}`;
    }
  }

  private permit(b: Binding, remoteAddress: number, remotePort: number, nowMs: number): void {
    const filtering = this.config.filtering;
    if (filtering === 'endpointIndependent') return;
    const k = filtering === 'addressDependent' ? remoteAddress : endpointNumber(remoteAddress, remotePort);
    // Delete first so Map order is least-recently-refreshed first, and the bound drops the stalest.
    b.permissions.delete(k);
    b.permissions.set(k, nowMs);
    if (b.permissions.size > natPermissionsPerBindingMax) {
      const oldest = b.permissions.keys().next();
      if (!oldest.done) b.permissions.delete(oldest.value);
    }
  }

  /** A port is free if unused, or held by an expired binding (which is then reclaimed). */
  private free(port: number, nowMs: number): boolean {
    const b = this.byExternalPort.get(port);
    if (b === undefined) return true;
    if (this.expired(b, nowMs)) {
      this.remove(b);
      return true;
    }
    return false;
  }

  private allocatePort(internalPort: number, nowMs: number): number | undefined {
    switch (this.config.portAllocation) {
      case 'preserve':
        // Any free port is preserved, privileged ones too (RFC 4787 REQ-3 keeps the port's range).
        if (this.free(internalPort, nowMs)) return internalPort;
        return this.scanFrom(this.nextPort, nowMs, true);
      case 'sequential':
        return this.scanFrom(this.nextPort, nowMs, true);
      case 'random': {
        for (let i = 0; i < randomPortAttemptsMax; i++) {
          const p = natPortFirst + this.rng.int(natPortCount);
          if (this.free(p, nowMs)) return p;
        }
        return this.scanFrom(natPortFirst + this.rng.int(natPortCount), nowMs, false);
      }
    }
  }

  /** First free port at or after `start` (wrapping); bounded by the port range. */
  private scanFrom(start: number, nowMs: number, advance: boolean): number | undefined {
    let p = start;
    for (let i = 0; i < natPortCount; i++) {
      if (this.free(p, nowMs)) {
        if (advance) this.nextPort = p === natPortLast ? natPortFirst : p + 1;
        return p;
      }
      p = p === natPortLast ? natPortFirst : p + 1;
    }
    return undefined;
  }
}
