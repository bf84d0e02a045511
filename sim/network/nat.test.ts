import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/seams/transport.js';
import { ipv4ToU32 } from '../../src/seams/transport.js';
import { Kernel } from '../kernel/kernel.js';
import { SeededRng } from '../kernel/rng.js';
import { NatBox, type NatConfig, type NatPreset, natPresets, resolveNatConfig } from './nat.js';
import { SimNetwork } from './network.js';

const inside = ipv4ToU32('10.0.0.2');
const r1 = ipv4ToU32('20.0.0.1');
const r2 = ipv4ToU32('20.0.0.2');

function box(config: Partial<NatConfig>): NatBox {
  const full = resolveNatConfig({ ...natPresets.portRestricted, ...config })!;
  return new NatBox(full, new SeededRng('nat-unit'));
}

describe('NatBox (RFC 4787 behaviours)', () => {
  it('endpoint-independent mapping reuses one external port for every destination', () => {
    const n = box({ mapping: 'endpointIndependent' });
    const a = n.outbound(inside, 5000, r1, 1, 0);
    const b = n.outbound(inside, 5000, r2, 2, 0);
    expect(a).toEqual({ ok: true, externalPort: 5000 });
    expect(b).toEqual(a);
  });

  it('address-dependent mapping: one port per remote address, any remote port', () => {
    const n = box({ mapping: 'addressDependent', portAllocation: 'sequential' });
    const a = n.outbound(inside, 5000, r1, 1, 0);
    const b = n.outbound(inside, 5000, r1, 2, 0);
    const c = n.outbound(inside, 5000, r2, 1, 0);
    expect(b).toEqual(a);
    expect(c.ok && a.ok && c.externalPort !== a.externalPort).toBe(true);
  });

  it('address-and-port-dependent mapping: a new port per remote endpoint', () => {
    const n = box({ mapping: 'addressAndPortDependent', portAllocation: 'sequential' });
    const ports = new Set<number>();
    for (let p = 1; p <= 5; p++) {
      const r = n.outbound(inside, 5000, r1, p, 0);
      if (r.ok) ports.add(r.externalPort);
    }
    expect(ports.size).toBe(5);
    expect([...ports]).toEqual([1024, 1025, 1026, 1027, 1028]);
  });

  it('port preservation keeps the internal port when free and falls back when taken', () => {
    const n = box({ mapping: 'endpointIndependent', portAllocation: 'preserve' });
    expect(n.outbound(inside, 7000, r1, 1, 0)).toEqual({ ok: true, externalPort: 7000 });
    // A second inside host on the same port cannot have 7000 too.
    const other = n.outbound(inside + 1, 7000, r1, 1, 0);
    expect(other.ok && other.externalPort !== 7000).toBe(true);
  });

  it('random allocation stays in the unprivileged range and replays with the seed', () => {
    const draw = () => {
      const n = new NatBox(resolveNatConfig('symmetric')!, new SeededRng('same'));
      return Array.from({ length: 50 }, (_, i) => {
        const r = n.outbound(inside, 5000, r1, i + 1, 0);
        return r.ok ? r.externalPort : -1;
      });
    };
    const a = draw();
    expect(a).toEqual(draw());
    expect(a.every((p) => p >= 1024 && p <= 65535)).toBe(true);
    expect(new Set(a).size).toBe(50);
  });

  it('filtering: endpoint-independent, address-dependent, address-and-port-dependent', () => {
    const ei = box({ filtering: 'endpointIndependent' });
    const ad = box({ filtering: 'addressDependent' });
    const apd = box({ filtering: 'addressAndPortDependent' });
    for (const n of [ei, ad, apd]) n.outbound(inside, 5000, r1, 100, 0);
    // Same endpoint: everyone passes.
    for (const n of [ei, ad, apd]) expect(n.inbound(r1, 100, 5000, 1).ok).toBe(true);
    // Same address, other port.
    expect(ei.inbound(r1, 101, 5000, 1).ok).toBe(true);
    expect(ad.inbound(r1, 101, 5000, 1).ok).toBe(true);
    expect(apd.inbound(r1, 101, 5000, 1)).toEqual({ ok: false, code: 'natFiltered' });
    // Other address.
    expect(ei.inbound(r2, 100, 5000, 1).ok).toBe(true);
    expect(ad.inbound(r2, 100, 5000, 1)).toEqual({ ok: false, code: 'natFiltered' });
    // No binding at all on that port.
    expect(ei.inbound(r1, 100, 5001, 1)).toEqual({ ok: false, code: 'natNoBinding' });
  });

  it('a binding expires after its lifetime unless outbound traffic refreshes it', () => {
    const n = box({ bindingLifetimeMs: 30_000 });
    n.outbound(inside, 5000, r1, 100, 0);
    expect(n.inbound(r1, 100, 5000, 29_999).ok).toBe(true);
    expect(n.inbound(r1, 100, 5000, 30_000)).toEqual({ ok: false, code: 'natNoBinding' });
    const m = box({ bindingLifetimeMs: 30_000 });
    m.outbound(inside, 5000, r1, 100, 0);
    m.outbound(inside, 5000, r1, 100, 20_000);
    expect(m.inbound(r1, 100, 5000, 49_999).ok).toBe(true);
    // Inbound traffic does not refresh by default.
    expect(m.inbound(r1, 100, 5000, 50_000).ok).toBe(false);
  });

  it('inboundRefresh lets inbound datagrams keep the binding', () => {
    const n = box({ bindingLifetimeMs: 1000, filtering: 'endpointIndependent', inboundRefresh: true });
    n.outbound(inside, 5000, r1, 100, 0);
    for (let t = 900; t < 5000; t += 900) expect(n.inbound(r1, 100, 5000, t).ok).toBe(true);
  });

  it('the table is bounded by natBindingsMax; expired bindings are reclaimed', () => {
    const n = box({ mapping: 'addressAndPortDependent', natBindingsMax: 3, bindingLifetimeMs: 1000 });
    for (let p = 1; p <= 3; p++) expect(n.outbound(inside, 5000, r1, p, 0).ok).toBe(true);
    expect(n.outbound(inside, 5000, r1, 4, 10)).toEqual({ ok: false, code: 'natTableFull' });
    expect(n.outbound(inside, 5000, r1, 4, 1000).ok).toBe(true);
    expect(n.bindingCount).toBe(1);
  });
});

/**
 * Hole punching through a rendezvous server, for every pair of presets. Both hosts bind port 5000, send
 * to the server (which learns their public endpoints, as STUN or an entry peer would), learn each other's,
 * then both send to each other repeatedly. Like the DRP's pings, a side that receives from the expected
 * address on a different port retargets to that port. Success = each side received from the other.
 *
 * Why the table is what it is (A's mapping towards the server is eA, towards B is eA'):
 * - open and fullCone filter nothing (open has no NAT; fullCone's filtering is endpoint-independent), so
 *   the other side's datagrams always reach them — whatever port they come from — and they retarget to
 *   the source port, whose binding on the other side was opened by the other side's own send to them.
 *   So open/fullCone ↔ anything succeeds.
 * - restricted and portRestricted map endpoint-independently (eA' = eA), so the endpoint learned via the
 *   server is the one the datagrams come from; once both have sent, each filter has a permission for the
 *   other's exact endpoint. So any pair of {restricted, portRestricted} succeeds.
 * - symmetric maps per destination, so its datagrams to B leave from a fresh port eA' ≠ eA. B's NAT sees
 *   them from (A's address, eA'):
 *   · restricted (address-dependent filtering) lets them in, since B has sent to A's address (to eA);
 *     B retargets to eA', and A's binding eA' permits exactly B's endpoint (B maps endpoint-independently,
 *     so B sends from the port A targeted). Success.
 *   · portRestricted permits only (A, eA): eA' is filtered; B's datagrams to eA are filtered by A's
 *     binding eA, which only permits the server. Both directions fail.
 *   · symmetric ↔ symmetric: both send from fresh ports to the other's server-facing port, which permits
 *     only the server. Both directions fail.
 */
const presets: readonly NatPreset[] = ['open', 'fullCone', 'restricted', 'portRestricted', 'symmetric'];
const punchExpected: Record<NatPreset, Record<NatPreset, boolean>> = {
  open: { open: true, fullCone: true, restricted: true, portRestricted: true, symmetric: true },
  fullCone: { open: true, fullCone: true, restricted: true, portRestricted: true, symmetric: true },
  restricted: { open: true, fullCone: true, restricted: true, portRestricted: true, symmetric: true },
  portRestricted: { open: true, fullCone: true, restricted: true, portRestricted: true, symmetric: false },
  symmetric: { open: true, fullCone: true, restricted: true, portRestricted: false, symmetric: false },
};

function holePunch(aNat: NatPreset, bNat: NatPreset): { aGot: boolean; bGot: boolean } {
  const kernel = new Kernel({ seed: `punch-${aNat}-${bNat}` });
  const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 15 } }, link: { jitterMeanMs: 2 } });
  const server = net.addHost({ kind: 'server' });
  const serverEp: Endpoint = { address: server.publicAddress, port: 3478 };
  const reflexive = new Map<number, Endpoint>();
  net.bind(server, 3478).onDatagram((bytes, from) => reflexive.set(bytes[0]!, from));
  const a = net.addHost({ nat: aNat });
  const b = net.addHost({ nat: bNat });
  const ta = net.bind(a, 5000);
  const tb = net.bind(b, 5000);
  ta.send(serverEp, Uint8Array.of(1));
  tb.send(serverEp, Uint8Array.of(2));
  kernel.runFor(200);
  let aTarget = reflexive.get(2)!;
  let bTarget = reflexive.get(1)!;
  expect(aTarget.address).toBe(b.publicAddress);
  expect(bTarget.address).toBe(a.publicAddress);
  let aGot = false;
  let bGot = false;
  ta.onDatagram((_bytes, from) => {
    if (from.address !== aTarget.address) return;
    aGot = true;
    aTarget = from;
  });
  tb.onDatagram((_bytes, from) => {
    if (from.address !== bTarget.address) return;
    bGot = true;
    bTarget = from;
  });
  for (let i = 0; i < 10; i++) {
    ta.send(aTarget, Uint8Array.of(10, i));
    tb.send(bTarget, Uint8Array.of(20, i));
    kernel.runFor(200);
  }
  return { aGot, bGot };
}

describe('hole punching matrix', () => {
  for (const x of presets) {
    for (const y of presets) {
      const expected = punchExpected[x][y];
      it(`${x} <-> ${y} ${expected ? 'succeeds' : 'fails'}`, () => {
        expect(punchExpected[y][x]).toBe(expected); // the table is symmetric
        const r = holePunch(x, y);
        expect(r.aGot && r.bGot).toBe(expected);
        if (!expected) expect(r.aGot || r.bGot).toBe(false);
      });
    }
  }
});

describe('NAT boxes in the network', () => {
  it('a binding expires after its lifetime: the server reply is then dropped at the NAT', () => {
    const kernel = new Kernel({ seed: 'expiry' });
    const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 10 } } });
    const server = net.addHost({ kind: 'server' });
    const host = net.addHost({ nat: { ...natPresets.portRestricted, bindingLifetimeMs: 30_000 } });
    const ts = net.bind(server, 3478);
    const th = net.bind(host, 5000);
    let seenBy: Endpoint | undefined;
    ts.onDatagram((_b, from) => {
      seenBy = from;
    });
    let got = 0;
    th.onDatagram(() => {
      got++;
    });
    th.send({ address: server.publicAddress, port: 3478 }, Uint8Array.of(1));
    kernel.runFor(20);
    expect(seenBy?.address).toBe(host.publicAddress);
    ts.send(seenBy!, Uint8Array.of(2)); // arrives at +10 ms, binding alive
    kernel.runFor(30_000);
    expect(got).toBe(1);
    ts.send(seenBy!, Uint8Array.of(3)); // arrives 30,030 ms after the binding's last refresh
    kernel.runFor(1000);
    expect(got).toBe(1);
    expect(net.stats.dropped.natNoBinding).toBe(1);
  });

  for (const hairpinning of [true, false]) {
    it(`hairpinning ${hairpinning ? 'on loops back with the external source' : 'off drops'}`, () => {
      const kernel = new Kernel({ seed: 'hairpin' });
      const net = new SimNetwork(kernel);
      const server = net.addHost({ kind: 'server' });
      const reflexive = new Map<number, Endpoint>();
      net.bind(server, 3478).onDatagram((bytes, from) => reflexive.set(bytes[0]!, from));
      const shared = net.addNatBox({ ...natPresets.fullCone, hairpinning });
      const a = net.addHost({ nat: shared });
      const b = net.addHost({ nat: shared });
      expect(a.publicAddress).toBe(b.publicAddress);
      expect(a.localAddress).not.toBe(b.localAddress);
      const ta = net.bind(a, 5000);
      const tb = net.bind(b, 5000);
      const got: Endpoint[] = [];
      tb.onDatagram((_bytes, from) => got.push(from));
      ta.send({ address: server.publicAddress, port: 3478 }, Uint8Array.of(1));
      tb.send({ address: server.publicAddress, port: 3478 }, Uint8Array.of(2));
      kernel.runFor(100);
      ta.send(reflexive.get(2)!, Uint8Array.of(9));
      kernel.runFor(100);
      if (hairpinning) {
        expect(got).toEqual([reflexive.get(1)]);
      } else {
        expect(got).toEqual([]);
        expect(net.stats.dropped.natHairpin).toBe(1);
      }
      // The LAN path works either way: private address to private address, no translation.
      ta.send({ address: b.localAddress, port: 5000 }, Uint8Array.of(7));
      kernel.runFor(10);
      expect(got.at(-1)).toEqual({ address: a.localAddress, port: 5000 });
    });
  }
});

describe('NatBox properties', () => {
  it('live bindings never share an external port, and a sender always gets its own replies through', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<NatPreset>('fullCone', 'restricted', 'portRestricted', 'symmetric'),
        fc.constantFrom<NatConfig['portAllocation']>('preserve', 'sequential', 'random'),
        fc.array(
          fc.record({
            host: fc.integer({ min: 0, max: 3 }),
            port: fc.constantFrom(1024, 5000, 5001),
            remote: fc.integer({ min: 0, max: 3 }),
            remotePort: fc.constantFrom(1, 2),
            dtMs: fc.integer({ min: 0, max: 40_000 }),
          }),
          { maxLength: 60 },
        ),
        (preset, portAllocation, ops) => {
          const config = resolveNatConfig({
            ...natPresets[preset as keyof typeof natPresets],
            portAllocation,
          })!;
          const n = new NatBox({ ...config, bindingLifetimeMs: 60_000 }, new SeededRng('prop'));
          let now = 0;
          // Every (internal endpoint, remote) pair refreshed within the lifetime holds a live binding, so its
          // external port must still lead back to that internal endpoint: no port is shared or stolen.
          const recent = new Map<string, { ia: number; ip: number; port: number; last: number }>();
          for (const op of ops) {
            now += op.dtMs;
            const ia = inside + op.host;
            const ra = r1 + op.remote;
            const out = n.outbound(ia, op.port, ra, op.remotePort, now);
            if (!out.ok) return false;
            // The reply from the endpoint just contacted passes and reaches the sender.
            const back = n.inbound(ra, op.remotePort, out.externalPort, now);
            if (!back.ok || back.internalAddress !== ia || back.internalPort !== op.port) return false;
            recent.set(`${ia}:${op.port}/${ra}:${op.remotePort}`, {
              ia,
              ip: op.port,
              port: out.externalPort,
              last: now,
            });
            for (const r of recent.values()) {
              if (now - r.last >= 60_000) continue;
              const inner = n.peek(r.port, now);
              if (inner?.internalAddress !== r.ia || inner.internalPort !== r.ip) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});
