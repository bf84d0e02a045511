import { describe, expect, it } from 'vitest';
import { type Endpoint, TransportError } from '../../src/seams/transport.js';
import { Kernel } from '../kernel/kernel.js';
import type { AdversaryHook } from './adversary.js';
import type { OfflineReason } from './device.js';
import { SimNetwork, type SimTransport } from './network.js';

const hourMs = 3_600_000;

function setup(seed: string) {
  const kernel = new Kernel({ seed });
  const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 10 } } });
  return { kernel, net };
}

function collect(t: SimTransport): { bytes: Uint8Array; from: Endpoint; at: number }[] {
  const got: { bytes: Uint8Array; from: Endpoint; at: number }[] = [];
  const kernel = t.network.kernel;
  t.onDatagram((bytes, from) => got.push({ bytes, from, at: kernel.now() }));
  return got;
}

describe('SimTransport', () => {
  it('delivers at the virtual arrival time with the translated source endpoint', () => {
    const { kernel, net } = setup('transport');
    const a = net.addHost({ nat: 'portRestricted' });
    const s = net.addHost({ kind: 'server' });
    const ta = net.bind(a, 5000);
    const ts = net.bind(s, 3478);
    expect(ta.local.address).toMatch(/^10\./);
    expect(ts.local).toEqual({ address: s.publicAddress, port: 3478 });
    const got = collect(ts);
    const t0 = kernel.now();
    ta.send({ address: s.publicAddress, port: 3478 }, Uint8Array.of(1, 2, 3));
    kernel.run();
    expect(got).toHaveLength(1);
    expect(got[0]!.at - t0).toBe(10);
    expect(got[0]!.from).toEqual({ address: a.publicAddress, port: 5000 });
    expect([...got[0]!.bytes]).toEqual([1, 2, 3]);
  });

  it('copies the bytes at send time (the sender may reuse its buffer)', () => {
    const { kernel, net } = setup('copy');
    const a = net.addHost();
    const b = net.addHost();
    const got = collect(net.bind(b, 2));
    const buf = Uint8Array.of(1);
    net.bind(a, 1).send({ address: b.publicAddress, port: 2 }, buf);
    buf[0] = 99;
    kernel.run();
    expect(got[0]!.bytes[0]).toBe(1);
  });

  it('refuses oversized datagrams, bad endpoints, used ports and use after close', () => {
    const { kernel, net } = setup('misuse');
    const a = net.addHost();
    const b = net.addHost();
    const t = net.bind(a, 5000);
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e instanceof TransportError ? e.code : 'other';
      }
      return 'none';
    };
    const to = { address: b.publicAddress, port: 1 };
    expect(code(() => t.send(to, new Uint8Array(1201)))).toBe('datagramTooLarge');
    expect(code(() => t.send(to, new Uint8Array(1200)))).toBe('none');
    expect(code(() => t.send({ address: '1.2.3', port: 1 }, new Uint8Array(1)))).toBe('badEndpoint');
    expect(code(() => net.bind(a, 5000))).toBe('portInUse');
    const tb = net.bind(b, 1);
    tb.close();
    expect(code(() => tb.send(to, new Uint8Array(1)))).toBe('closed');
    t.send(to, new Uint8Array(1));
    kernel.run();
    expect(net.stats.dropped.noListener).toBe(2);
    // The port is free again.
    const again = collect(net.bind(b, 1));
    t.send(to, new Uint8Array(1));
    kernel.run();
    expect(again).toHaveLength(1);
  });

  it('allocates ephemeral ports when none is given', () => {
    const { net } = setup('ephemeral');
    const a = net.addHost();
    expect(net.bind(a).port).toBe(49152);
    expect(net.bind(a).port).toBe(49153);
  });
});

describe('ISP p2pUdpDrop', () => {
  function flows(
    isp: 'p2pUdpDrop' | { name: string; p2pUdpDrop: { mode: 'afterPackets'; packets: number } },
  ) {
    const { kernel, net } = setup('isp');
    const c1 = net.addHost({ isp, nat: 'portRestricted' });
    const c2 = net.addHost();
    const c3 = net.addHost();
    const s = net.addHost({ kind: 'server' });
    const t1 = net.bind(c1, 5000);
    const t2 = net.bind(c2, 5000);
    const t3 = net.bind(c3, 5000);
    const got2 = collect(t2);
    const got3 = collect(t3);
    const gotS = collect(net.bind(s, 5000));
    const got1 = collect(t1);
    for (let i = 0; i < 10; i++) {
      t1.send({ address: c2.publicAddress, port: 5000 }, Uint8Array.of(i));
      t1.send({ address: s.publicAddress, port: 5000 }, Uint8Array.of(i));
      t2.send({ address: c3.publicAddress, port: 5000 }, Uint8Array.of(i));
    }
    kernel.run();
    // Replies from the peer the consumer contacted (its NAT preserved port 5000 and permits them).
    for (let i = 0; i < 10; i++) t2.send({ address: c1.publicAddress, port: 5000 }, Uint8Array.of(i));
    kernel.run();
    return { got1, got2, got3, gotS, net };
  }

  it('drops consumer <-> consumer UDP always, in both directions; consumer <-> server passes', () => {
    const r = flows('p2pUdpDrop');
    expect(r.got2).toHaveLength(0);
    expect(r.got1).toHaveLength(0);
    expect(r.gotS).toHaveLength(10);
    // Two consumers on ordinary ISPs are untouched.
    expect(r.got3).toHaveLength(10);
    expect(r.net.stats.dropped.isp).toBe(20);
  });

  it('afterPackets lets the first N datagrams of a flow through (both directions counted)', () => {
    const r = flows({ name: 'lateDrop', p2pUdpDrop: { mode: 'afterPackets', packets: 6 } });
    expect(r.got2.map((d) => d.bytes[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.got1).toHaveLength(0); // the flow's count was already spent
    expect(r.gotS).toHaveLength(10);
    expect(r.got3).toHaveLength(10);
    expect(r.net.stats.dropped.isp).toBe(14);
  });
});

describe('partitions', () => {
  it('start and heal at their times, in both directions, only between the groups', () => {
    const { kernel, net } = setup('partition');
    const a = net.addHost();
    const b = net.addHost();
    const c = net.addHost();
    const ta = net.bind(a, 1);
    const tb = net.bind(b, 1);
    const tc = net.bind(c, 1);
    const gotA = collect(ta);
    const gotB = collect(tb);
    const gotC = collect(tc);
    const t0 = kernel.now();
    net.partition([a], [b], { startMs: t0 + 1000, endMs: t0 + 3000 });
    for (let i = 0; i < 50; i++) {
      kernel.at(t0 + i * 100, 0, 0, 0, () => {
        ta.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(i));
        tb.send({ address: a.publicAddress, port: 1 }, Uint8Array.of(i));
        ta.send({ address: c.publicAddress, port: 1 }, Uint8Array.of(i));
      });
    }
    kernel.run();
    const expected = Array.from({ length: 50 }, (_, i) => i).filter((i) => i < 10 || i >= 30);
    expect(gotB.map((d) => d.bytes[0])).toEqual(expected);
    expect(gotA.map((d) => d.bytes[0])).toEqual(expected);
    expect(gotC).toHaveLength(50);
    expect(net.stats.dropped.partition).toBe(40);
  });

  it('heal() ends a partition early', () => {
    const { kernel, net } = setup('heal');
    const a = net.addHost();
    const b = net.addHost();
    const ta = net.bind(a, 1);
    const got = collect(net.bind(b, 1));
    const p = net.partition([a], [b], { startMs: kernel.now() });
    ta.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(1));
    p.heal();
    ta.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(2));
    kernel.run();
    expect(got.map((d) => d.bytes[0])).toEqual([2]);
  });
});

describe('devices', () => {
  it('the nightly window makes the host unreachable and closes its sockets; the morning restores it', () => {
    const { kernel, net } = setup('nightly');
    const phone = net.addHost({ device: { nightly: { startMsOfDay: 2 * hourMs, durationMs: 5 * hourMs } } });
    const server = net.addHost({ kind: 'server' });
    const ts = net.bind(server, 1);
    const events: string[] = [];
    const received: number[] = [];
    let tp = net.bind(phone, 1);
    const listen = (t: SimTransport) =>
      t.onDatagram(() => {
        received.push(Math.floor(kernel.elapsed() / hourMs));
      });
    listen(tp);
    phone.onOffline((reason: OfflineReason) => {
      events.push(`off:${reason}@${kernel.elapsed() / hourMs}h`);
      expect(tp.isClosed).toBe(true);
      expect(() => tp.send({ address: server.publicAddress, port: 1 }, Uint8Array.of(0))).toThrow(
        TransportError,
      );
      expect(() => net.bind(phone, 1)).toThrow(TransportError);
    });
    phone.onOnline(() => {
      events.push(`on@${kernel.elapsed() / hourMs}h`);
      tp = net.bind(phone, 1); // the driver rebinds
      listen(tp);
    });
    // The server pings the phone at every half hour for 32 hours.
    for (let h = 0; h < 32; h++) {
      kernel.at(kernel.epochMs + h * hourMs + hourMs / 2, 0, 0, 0, () =>
        ts.send({ address: phone.publicAddress, port: 1 }, Uint8Array.of(h)),
      );
    }
    kernel.run(kernel.epochMs + 32 * hourMs);
    expect(events).toEqual(['off:nightly@2h', 'on@7h', 'off:nightly@26h', 'on@31h']);
    const expected = Array.from({ length: 32 }, (_, h) => h).filter(
      (h) => !(h >= 2 && h < 7) && !(h >= 26 && h < 31),
    );
    expect(received).toEqual(expected);
    expect(net.stats.dropped.offline).toBe(10);
  });

  it('laptop sleep takes the host offline and wakes it; with onWake it comes back on a new address', () => {
    const { kernel, net } = setup('sleep');
    const laptop = net.addHost({
      nat: 'portRestricted',
      device: { sleep: { meanAwakeMs: hourMs, meanAsleepMs: hourMs }, addressChange: { onWake: true } },
    });
    const log: string[] = [];
    const addresses = new Set([laptop.publicAddress]);
    laptop.onOffline((r) => log.push(`off:${r}`));
    laptop.onOnline(() => log.push('on'));
    laptop.onAddressChange((c) => {
      log.push('addr');
      expect(c.oldPublic).not.toBe(c.newPublic);
      expect(c.newPublic).toBe(laptop.publicAddress);
      addresses.add(c.newPublic);
    });
    kernel.run(kernel.epochMs + 48 * hourMs);
    const cycles = log.filter((x) => x === 'on').length;
    expect(cycles).toBeGreaterThan(5); // ~24 expected in 48 h
    // Every cycle: offline (sleep), then a new address, then online.
    expect(log.slice(0, 3 * cycles)).toEqual(
      Array.from({ length: cycles }, () => ['off:sleep', 'addr', 'on']).flat(),
    );
    expect(addresses.size).toBe(cycles + 1);
  });

  it('an IP change gives the host a new address; the old one no longer routes', () => {
    const { kernel, net } = setup('ipchange');
    const mobile = net.addHost();
    const server = net.addHost({ kind: 'server' });
    const ts = net.bind(server, 1);
    const tm = net.bind(mobile, 1);
    const got = collect(tm);
    const old = mobile.publicAddress;
    const changes: string[] = [];
    mobile.onAddressChange((c) => changes.push(`${c.oldPublic}->${c.newPublic}`));
    net.changeAddress(mobile);
    expect(mobile.publicAddress).not.toBe(old);
    expect(tm.local.address).toBe(mobile.publicAddress);
    expect(changes).toEqual([`${old}->${mobile.publicAddress}`]);
    ts.send({ address: old, port: 1 }, Uint8Array.of(1));
    ts.send({ address: mobile.publicAddress, port: 1 }, Uint8Array.of(2));
    kernel.run();
    expect(got.map((d) => d.bytes[0])).toEqual([2]);
    expect(net.stats.dropped.noRoute).toBe(1);
  });

  it('an IP change behind a NAT renumbers the box and forgets its bindings', () => {
    const { kernel, net } = setup('ipchange-nat');
    const phone = net.addHost({ nat: 'fullCone' });
    const server = net.addHost({ kind: 'server' });
    const ts = net.bind(server, 1);
    const tp = net.bind(phone, 5000);
    const got = collect(tp);
    let seen: Endpoint | undefined;
    ts.onDatagram((_b, from) => {
      seen = from;
    });
    tp.send({ address: server.publicAddress, port: 1 }, Uint8Array.of(1));
    kernel.run();
    const before = seen!;
    net.changeAddress(phone);
    expect(phone.publicAddress).not.toBe(before.address);
    expect(tp.local.address).toMatch(/^10\./);
    ts.send({ address: phone.publicAddress, port: before.port }, Uint8Array.of(2)); // no binding yet
    kernel.run();
    expect(got).toHaveLength(0);
    expect(net.stats.dropped.natNoBinding).toBe(1);
    tp.send({ address: server.publicAddress, port: 1 }, Uint8Array.of(3));
    kernel.run();
    expect(seen!.address).toBe(phone.publicAddress);
  });
});

describe('adversary hooks', () => {
  function run(hook: Omit<AdversaryHook, 'match'>) {
    const { kernel, net } = setup(`adversary-${hook.action}`);
    const a = net.addHost();
    const b = net.addHost();
    const ta = net.bind(a, 1);
    const got = collect(net.bind(b, 1));
    const handle = net.addAdversary({ ...hook, match: (d) => d.bytes[0] === 0xaa });
    const t0 = kernel.now();
    for (let i = 0; i < 4; i++) {
      ta.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(0xaa, i, 0, 0));
      ta.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(0xbb, i, 0, 0));
    }
    kernel.run();
    const of = (tag: number) =>
      got.filter((d) => d.bytes[0] === tag || (tag === 0xaa && d.bytes[0] !== 0xbb));
    const untouched = got.filter((d) => d.bytes[0] === 0xbb);
    expect(untouched.map((d) => [d.at - t0, ...d.bytes])).toEqual(
      [0, 1, 2, 3].map((i) => [10, 0xbb, i, 0, 0]),
    );
    return { matched: of(0xaa).map((d) => ({ at: d.at - t0, bytes: [...d.bytes] })), handle, net };
  }

  it('drop removes matching datagrams only', () => {
    const r = run({ action: 'drop' });
    expect(r.matched).toEqual([]);
    expect(r.handle.acted).toBe(4);
    expect(r.net.stats.dropped.adversary).toBe(4);
  });

  it('delay holds matching datagrams back', () => {
    const r = run({ action: 'delay', delayMs: 250 });
    expect(r.matched.map((d) => d.at)).toEqual([260, 260, 260, 260]);
  });

  it('duplicate sends extra copies of matching datagrams', () => {
    const r = run({ action: 'duplicate', copies: 2 });
    expect(r.matched).toHaveLength(12);
  });

  it('replay re-sends matching datagrams later, once', () => {
    const r = run({ action: 'replay', replayAfterMs: 5000 });
    expect(r.matched.map((d) => d.at)).toEqual([10, 10, 10, 10, 5010, 5010, 5010, 5010]);
    expect(r.matched.slice(4).map((d) => d.bytes)).toEqual(r.matched.slice(0, 4).map((d) => d.bytes));
  });

  it('corrupt flips the configured number of bits in matching datagrams', () => {
    const r = run({ action: 'corrupt', bitFlips: 1 });
    expect(r.matched).toHaveLength(4);
    r.matched.forEach((d, i) => {
      const original = [0xaa, i, 0, 0];
      let flipped = 0;
      for (let k = 0; k < 4; k++) {
        let x = d.bytes[k]! ^ original[k]!;
        while (x) {
          flipped += x & 1;
          x >>= 1;
        }
      }
      expect(flipped).toBe(1);
    });
  });

  it('inject puts a forged datagram on the wire with a spoofed source', () => {
    const { kernel, net } = setup('inject');
    const b = net.addHost();
    const got = collect(net.bind(b, 1));
    net.inject(
      { address: '203.0.113.9', port: 4444 },
      { address: b.publicAddress, port: 1 },
      Uint8Array.of(5),
    );
    kernel.run();
    expect(got.map((d) => d.from)).toEqual([{ address: '203.0.113.9', port: 4444 }]);
    expect(net.stats.injected).toBe(1);
  });
});

describe('bad parameters name the parameter', () => {
  const kernel = new Kernel({ seed: 'params' });
  const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 5 } } });
  const host = net.addHost();
  const cases: [string, () => unknown, RegExp][] = [
    [
      'negative latency',
      () => new SimNetwork(kernel, { latencyMs: { eu: { eu: -1 } } }),
      /latencyMs\.eu\.eu/,
    ],
    [
      'missing region pair',
      () => new SimNetwork(kernel, { latencyMs: { eu: { eu: 1 }, us: { us: 1 } } }),
      /latencyMs\.eu\.us/,
    ],
    ['loss > 1', () => new SimNetwork(kernel, { link: { lossRate: 1.5 } }), /link\.lossRate/],
    ['loss < 0', () => net.addHost({ link: { lossRate: -0.1 } }), /link\.lossRate/],
    [
      'bad burst',
      () => net.addHost({ link: { burstLoss: { pGoodToBad: 2, pBadToGood: 0.1 } } }),
      /link\.burstLoss\.pGoodToBad/,
    ],
    ['NaN jitter', () => net.addHost({ link: { jitterMeanMs: Number.NaN } }), /link\.jitterMeanMs/],
    ['unknown preset', () => net.addHost({ nat: 'fullcone' as 'fullCone' }), /^nat must be one of/],
    [
      'bad lifetime',
      () =>
        net.addHost({
          nat: {
            mapping: 'endpointIndependent',
            filtering: 'addressDependent',
            portAllocation: 'preserve',
            bindingLifetimeMs: 0,
            hairpinning: true,
          },
        }),
      /nat\.bindingLifetimeMs/,
    ],
    [
      'bad mapping',
      () =>
        net.addHost({
          nat: {
            mapping: 'cone' as 'addressDependent',
            filtering: 'addressDependent',
            portAllocation: 'preserve',
            bindingLifetimeMs: 1,
            hairpinning: true,
          },
        }),
      /nat\.mapping/,
    ],
    ['unknown region', () => net.addHost({ region: 'mars' }), /region/],
    ['bad IPv4', () => net.addHost({ address: '300.1.1.1' }), /address/],
    ['address in use', () => net.addHost({ address: host.publicAddress }), /address .* in use/],
    ['port 0', () => net.bind(host, 0), /port/],
    ['port 65536', () => net.bind(host, 65536), /port/],
    ['bad kind', () => net.addHost({ kind: 'router' as 'server' }), /kind/],
    ['unknown isp', () => net.addHost({ isp: 'evil' as 'default' }), /isp/],
    [
      'bad afterPackets',
      () => net.addHost({ isp: { name: 'x', p2pUdpDrop: { mode: 'afterPackets', packets: -1 } } }),
      /isp\.p2pUdpDrop\.packets/,
    ],
    [
      'bad nightly',
      () => net.addHost({ device: { nightly: { startMsOfDay: -5, durationMs: 1 } } }),
      /device\.nightly\.startMsOfDay/,
    ],
    [
      'bad sleep',
      () => net.addHost({ device: { sleep: { meanAwakeMs: 0, meanAsleepMs: 1 } } }),
      /device\.sleep\.meanAwakeMs/,
    ],
    [
      'bad action',
      () => net.addAdversary({ match: () => true, action: 'explode' as 'drop' }),
      /adversary\.action/,
    ],
    [
      'bad probability',
      () => net.addAdversary({ match: () => true, action: 'drop', probability: 2 }),
      /adversary\.probability/,
    ],
    ['bad partition', () => net.partition([host], [], { startMs: 10, endMs: 5 }), /endMs/],
    ['bad in-flight bound', () => new SimNetwork(kernel, { inFlightMax: 0 }), /inFlightMax/],
  ];
  for (const [label, f, message] of cases) {
    it(label, () => {
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(error instanceof RangeError || error instanceof TypeError).toBe(true);
      expect((error as Error).message).toMatch(message);
    });
  }
});

describe('bounds', () => {
  it('datagrams beyond inFlightMax are dropped and counted', () => {
    const kernel = new Kernel({ seed: 'bounds' });
    const net = new SimNetwork(kernel, { inFlightMax: 10 });
    const a = net.addHost();
    const b = net.addHost();
    const got = collect(net.bind(b, 1));
    const t = net.bind(a, 1);
    for (let i = 0; i < 15; i++) t.send({ address: b.publicAddress, port: 1 }, Uint8Array.of(i));
    expect(net.inFlightCount).toBe(10);
    kernel.run();
    expect(got).toHaveLength(10);
    expect(net.stats.dropped.inFlightFull).toBe(5);
  });
});
