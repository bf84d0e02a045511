/**
 * Shared scaffolding of the DRP adversarial scenario tests: a warmed-up simulated network of entry
 * peers and users (SimWorld), a wire tap that records real datagrams, per-engine drop totals, an
 * INVITE campaign between honest users, and helpers to forge link packets as a genuine neighbour
 * (signed by its own registration key, sealed with the link's MAC) and send them from its socket.
 *
 * Every scenario is seeded; assertion messages carry `replayHint(seed, file)` so a failure names the
 * one command that replays it.
 */

import type { WireDatagram } from '../../sim/network/adversary.js';
import type { DrpConfig } from '../../src/drp/config.js';
import type { DrpEngine } from '../../src/drp/engine.js';
import type { NeighborLink } from '../../src/drp/neighbor.js';
import type { DropReason, EngineEvent } from '../../src/drp/types.js';
import { dropReasons } from '../../src/drp/types.js';
import {
  decodeDatagram,
  endpointToWire,
  type InviteReq,
  inviteReqSignedBytes,
  macPlaceholder,
  type Packet,
  PacketType,
  type RegisterReq,
  registerReqSignedBytes,
  sealDatagram,
} from '../../src/wire/index.js';
import { InviteCampaign } from '../../testers/invites.js';
import { entryPeerConfig } from '../../testers/tester2.js';
import { SimWorld, type TesterNode } from '../../testers/world.js';

export function replayHint(seed: string, file: string, extra = ''): string {
  return `seed=${seed}; replay: cd /work/main && DRP_TEST_SEED=${seed} npx vitest run ${file}${extra === '' ? '' : ` (${extra})`}`;
}

/** The seed of a scenario: DRP_TEST_SEED overrides the file's default (replays a reported failure). */
export function scenarioSeed(fallback: string): string {
  const s = process.env.DRP_TEST_SEED;
  return s !== undefined && s !== '' ? s : fallback;
}

export interface NetOptions {
  readonly seed: string;
  readonly entryPeers: number;
  readonly users: number;
  /** Engine configuration of the users (merged over the simulator defaults). */
  readonly userConfig?: Partial<DrpConfig>;
  readonly entryConfig?: Partial<DrpConfig>;
  /** Users' neighbour minimum the warm-up waits for. */
  readonly warmNeighborsMin: number;
  readonly warmupMaxMs?: number;
  /** Extra per-user config by index (e.g. a victim with a tiny table bound). */
  readonly perUser?: (i: number) => Partial<DrpConfig> | undefined;
  /** Start a wire tap before the first peer (captures the whole join), at most this many per type. */
  readonly tapPerTypeMax?: number;
}

export interface TestNet {
  readonly world: SimWorld;
  readonly eps: TesterNode[];
  readonly users: TesterNode[];
  readonly all: TesterNode[];
  readonly events: { node: string; e: EngineEvent; atMs: number }[];
  readonly campaign: InviteCampaign;
  readonly warmedUp: boolean;
  readonly tap: WireTap | undefined;
}

const natMix = ['open', 'fullCone', 'restricted', 'portRestricted'] as const;

/** Builds and warms up a network: entry peers first (a backbone), then users joining through EP0. */
export async function buildNet(o: NetOptions): Promise<TestNet> {
  const world = new SimWorld({ seed: o.seed, latencyMs: 30 });
  const events: TestNet['events'] = [];
  world.onEvent((n, e) => {
    if (e.type !== 'powJob') events.push({ node: n.name, e, atMs: world.now() });
  });
  const campaign = new InviteCampaign(world);
  const tap = o.tapPerTypeMax === undefined ? undefined : new WireTap(world, () => true, o.tapPerTypeMax);
  const eps: TesterNode[] = [];
  for (let i = 0; i < o.entryPeers; i++) {
    eps.push(
      world.addNodeNow({
        name: `EP${i}`,
        port: 12000 + i,
        entryPeers: eps.map((e) => e.endpoint),
        register: i > 0,
        config: { ...entryPeerConfig, ...o.entryConfig },
      }),
    );
    await world.runFor(200);
  }
  await world.runFor(3_000);
  const users: TesterNode[] = [];
  const answer = (): Uint8Array => new TextEncoder().encode('ok');
  for (let i = 0; i < o.users; i++) {
    users.push(
      world.addNodeNow({
        name: `U${i}`,
        nat: natMix[i % natMix.length]!,
        entryPeers: [eps[0]!.endpoint],
        register: true,
        onInvite: answer,
        config: { ...o.userConfig, ...o.perUser?.(i) },
      }),
    );
    await world.runFor(300);
  }
  const warmedUp = await world.runUntil(
    () => users.every((u) => usable(u) >= o.warmNeighborsMin),
    o.warmupMaxMs ?? 120_000,
    1_000,
  );
  return { world, eps, users, all: [...eps, ...users], events, campaign, warmedUp, tap };
}

export function usable(n: TesterNode): number {
  return n.peer?.usableLinks().length ?? 0;
}

export function dropTotal(e: DrpEngine): number {
  let s = 0;
  for (const r of dropReasons) s += e.drops[r];
  return s;
}

export function dropsByReason(nodes: readonly TesterNode[]): Record<DropReason, number> {
  const out = Object.fromEntries(dropReasons.map((r) => [r, 0])) as Record<DropReason, number>;
  for (const n of nodes) for (const r of dropReasons) out[r] += n.engine.drops[r];
  return out;
}

export function diffDrops(
  after: Record<DropReason, number>,
  before: Record<DropReason, number>,
): Record<DropReason, number> {
  return Object.fromEntries(dropReasons.map((r) => [r, after[r] - before[r]])) as Record<DropReason, number>;
}

/** Sends `count` INVITEs between random pairs of `users`, `gapMs` apart, then waits for every outcome. */
export async function runCampaign(
  net: TestNet,
  users: readonly TesterNode[],
  count: number,
  gapMs: number,
  rngName: string,
): Promise<{ sent: number; delivered: number; failed: string[] }> {
  const rng = net.world.kernel.rng.fork(rngName);
  const first = net.campaign.outcomes.length;
  for (let i = 0; i < count; i++) {
    const a = users[rng.int(users.length)]!;
    let b = users[rng.int(users.length)]!;
    while (b === a) b = users[rng.int(users.length)]!;
    net.campaign.send(a, b);
    await net.world.runFor(gapMs);
  }
  await net.world.runUntil(() => net.campaign.pending === 0, 120_000, 500);
  const mine = net.campaign.outcomes.slice(first);
  const delivered = mine.filter(InviteCampaign.delivered);
  return {
    sent: mine.length,
    delivered: delivered.length,
    failed: mine
      .filter((o) => !InviteCampaign.delivered(o))
      .map((o) => `#${o.id} ${o.from}→${o.to}: ${o.failure ?? 'no outcome'}`),
  };
}

/** A wire tap: records datagrams `want` selects (at most `perTypeMax` of each packet type), never acting on them. */
export class WireTap {
  readonly captured: (WireDatagram & { atMs: number })[] = [];
  private readonly perType = new Map<number, number>();
  private readonly handle: { remove(): void };
  constructor(
    world: SimWorld,
    want: (d: WireDatagram) => boolean,
    readonly perTypeMax: number,
  ) {
    this.handle = world.network.addAdversary({
      action: 'drop',
      match: (d) => {
        if (d.fromHost < 0 || d.replayed || !want(d)) return false;
        const t = typeOf(d.bytes);
        const n = this.perType.get(t) ?? 0;
        if (n < this.perTypeMax) {
          this.perType.set(t, n + 1);
          this.captured.push({ ...d, bytes: d.bytes.slice(), atMs: world.now() });
        }
        return false;
      },
    });
  }
  remove(): void {
    this.handle.remove();
  }
}

export function typeOf(bytes: Uint8Array): number {
  return bytes.length >= 2 ? bytes[1]! : -1;
}

/** Decodes a datagram the test expects to be well-formed. */
export function decodeOrThrow(bytes: Uint8Array): Packet {
  const r = decodeDatagram(bytes);
  if (!r.ok) throw new Error(`test expected a valid datagram: ${r.code}`);
  return r.packet;
}

/** The link of `from` to `to` (its genuine neighbour link, up). */
export function linkBetween(from: TesterNode, to: TesterNode): NeighborLink | undefined {
  const l = from.peer!.neighbors.get(to.peer!.regIdHex);
  return l?.usable === true ? l : undefined;
}

/** Seals `packet` with `link`'s MAC as `node` (its own engine's key) and sends it from `node`'s socket. */
export function sendOnLink(node: TesterNode, link: NeighborLink, build: (seq: number) => Packet): number {
  const seq = link.takeSeq();
  const bytes = sealDatagram(build(seq), (covered) => node.engine.crypto.hmacSha256(link.txKey, covered));
  node.act((e) => e.sendRaw(link.remoteEndpoint, bytes));
  return seq;
}

/** A REGISTER request as `from` would build it for `link`, signed by its own registration key. */
export function forgeRegisterReq(
  from: TesterNode,
  link: NeighborLink,
  seq: number,
  o: { timestampMs: number; badSignature?: boolean; randomHops?: number; ephemeral?: Uint8Array },
): RegisterReq {
  const e = from.engine;
  const peer = from.peer!;
  const signed = {
    requesterRegId: peer.regId,
    requesterEphemeralKey: o.ephemeral ?? e.crypto.x25519PublicKey(e.rng.bytes(32)),
    timestampMs: o.timestampMs,
    busySectors: peer.busySectors(),
    requesterFlags: 0,
    directionVector: null,
    epEndpoint: endpointToWire(link.remoteEndpoint),
  };
  const sig = e.crypto.ed25519Sign(peer.regKey, registerReqSignedBytes(signed));
  if (o.badSignature === true) sig[7]! ^= 0x40;
  return {
    type: PacketType.RegisterReq,
    linkToken: link.remoteToken,
    ...signed,
    requesterSignature: sig,
    pow2Nonce: null,
    hopsRemaining: 30,
    randomHopsRemaining: o.randomHops ?? 0,
    seq,
    linkMac: macPlaceholder,
  };
}

/** An INVITE request from `from` to `responderRegId` for `link`, signed by `from`'s registration key. */
export function forgeInviteReq(
  from: TesterNode,
  link: NeighborLink,
  seq: number,
  responderRegId: Uint8Array,
  o: { timestampMs: number; badSignature?: boolean },
): InviteReq {
  const e = from.engine;
  const peer = from.peer!;
  const signed = {
    timestampMs: o.timestampMs,
    requesterRegId: peer.regId,
    responderRegId,
    requesterEphemeralKey: e.crypto.x25519PublicKey(e.rng.bytes(32)),
    contactInvitationToken: null,
  };
  const sig = e.crypto.ed25519Sign(peer.regKey, inviteReqSignedBytes(signed));
  if (o.badSignature === true) sig[7]! ^= 0x40;
  return {
    type: PacketType.InviteReq,
    linkToken: link.remoteToken,
    ...signed,
    requesterSignature: sig,
    hopsRemaining: 30,
    exploreHopsRemaining: null,
    seq,
    linkMac: macPlaceholder,
  };
}

/**
 * Records the NPACK codes `receiver` gets on its link to `sender` (seq → code), by decoding datagrams
 * on the wire addressed to the receiver with the receiver's local token.
 */
export class NpackTap {
  readonly bySeq = new Map<number, number>();
  readonly counts = new Map<number, number>();
  constructor(world: SimWorld, receiver: TesterNode, link: NeighborLink) {
    world.network.addAdversary({
      action: 'drop',
      match: (d) => {
        if (d.bytes[1] !== PacketType.Npack) return false;
        const r = decodeDatagram(d.bytes);
        if (!r.ok || r.packet.type !== PacketType.Npack || r.packet.linkToken !== link.localToken)
          return false;
        void receiver;
        this.bySeq.set(r.packet.seq, r.packet.code);
        this.counts.set(r.packet.code, (this.counts.get(r.packet.code) ?? 0) + 1);
        return false;
      },
    });
  }
}
