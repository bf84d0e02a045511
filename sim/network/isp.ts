/**
 * ISP profiles: what an access operator does to UDP beyond plain loss and delay.
 *
 * The one modelled behaviour is `p2pUdpDrop`, seen in the 2019 field test: a mobile operator dropped UDP
 * between two consumer endpoints (peer to peer) while UDP to publicly hosted servers passed. It can drop
 * such a flow from its first datagram (`always`) or only after the first `afterPackets` datagrams of the
 * flow have passed — which is what makes it treacherous: a hole punch succeeds, then the link dies.
 *
 * A flow is the unordered pair of public endpoints, counted over both directions. The rule applies when
 * both ends are consumer endpoints and either end's ISP has it (an operator drops what crosses its network,
 * whichever way); with two such ISPs the smaller `afterPackets` wins. The flow table is bounded by
 * `ispFlowsMax`; when full the least recently seen flow is forgotten (its count restarts, as a middlebox's
 * flow state would).
 */
import { checkNonNegativeInt, checkOneOf } from './params.js';

export type P2pUdpDrop =
  | { readonly mode: 'always' }
  | { readonly mode: 'afterPackets'; readonly packets: number };

export interface IspProfile {
  readonly name: string;
  /** Drop UDP between consumer endpoints; absent = pass. */
  readonly p2pUdpDrop?: P2pUdpDrop;
}

export type IspPreset = 'default' | 'p2pUdpDrop';

export const ispPresets: Readonly<Record<IspPreset, IspProfile>> = {
  default: { name: 'default' },
  p2pUdpDrop: { name: 'p2pUdpDrop', p2pUdpDrop: { mode: 'always' } },
};

export const ispFlowsMaxDefault = 65_536;

/** Validated profile; `afterPackets` is 0 for `always`, `Infinity` for none. */
export interface ResolvedIspProfile {
  readonly name: string;
  readonly p2pDropAfterPackets: number;
}

export function resolveIspProfile(isp: IspPreset | IspProfile | undefined, name = 'isp'): ResolvedIspProfile {
  if (isp === undefined) return { name: 'default', p2pDropAfterPackets: Number.POSITIVE_INFINITY };
  if (typeof isp === 'string') {
    const preset = checkOneOf(name, isp, ['default', 'p2pUdpDrop'] as const);
    return resolveIspProfile(ispPresets[preset], name);
  }
  if (typeof isp !== 'object' || isp === null)
    throw new TypeError(`${name} must be a preset name or an IspProfile`);
  if (typeof isp.name !== 'string') throw new TypeError(`${name}.name must be a string`);
  const d = isp.p2pUdpDrop;
  if (d === undefined) return { name: isp.name, p2pDropAfterPackets: Number.POSITIVE_INFINITY };
  const mode = checkOneOf(`${name}.p2pUdpDrop.mode`, d.mode, ['always', 'afterPackets'] as const);
  const after = d.mode === 'afterPackets' ? checkNonNegativeInt(`${name}.p2pUdpDrop.packets`, d.packets) : 0;
  return { name: isp.name, p2pDropAfterPackets: mode === 'always' ? 0 : after };
}

/** Per-flow packet counts for the `afterPackets` rule, bounded with least-recently-seen eviction. */
export class IspFlowTable {
  private readonly counts = new Map<string, number>();
  readonly flowsMax: number;

  constructor(flowsMax: number) {
    this.flowsMax = flowsMax;
  }

  get size(): number {
    return this.counts.size;
  }

  /**
   * Counts one datagram of the flow between endpoint numbers `a` and `b` and says whether it passes under a
   * rule that lets the first `afterPackets` datagrams through.
   */
  pass(a: number, b: number, afterPackets: number): boolean {
    if (afterPackets === Number.POSITIVE_INFINITY) return true;
    if (afterPackets === 0) return false;
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    const seen = this.counts.get(key) ?? 0;
    this.counts.delete(key);
    this.counts.set(key, seen + 1);
    if (this.counts.size > this.flowsMax) {
      const oldest = this.counts.keys().next();
      if (!oldest.done) this.counts.delete(oldest.value);
    }
    return seen < afterPackets;
  }
}
