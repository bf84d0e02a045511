/**
 * One compliance suite for each seam, run against both implementations (simulated and real), so the
 * protocol code sees the same behaviour from both: the same delivery semantics, the same refusals.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/seams/clock.js';
import type { Rng } from '../../src/seams/rng.js';
import {
  type DatagramTransport,
  datagramSizeMaxBytes,
  type Endpoint,
  TransportError,
} from '../../src/seams/transport.js';

export interface TransportEnv {
  /** Binds a transport on a fresh host/port; `port` undefined means any free port. */
  bind(port?: number): Promise<DatagramTransport>;
  /** Lets in-flight datagrams arrive (runs the simulator, or waits on real sockets). */
  settle(): Promise<void>;
  /** Binds a second transport on the same host as `t`, at `port`. */
  bindSameHost(t: DatagramTransport, port: number): Promise<DatagramTransport>;
  close(): Promise<void>;
}

interface Received {
  bytes: Uint8Array;
  from: Endpoint;
}

function collect(t: DatagramTransport): Received[] {
  const got: Received[] = [];
  t.onDatagram((bytes, from) => got.push({ bytes: Uint8Array.from(bytes), from }));
  return got;
}

function expectTransportError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).code).toBe(code);
    return;
  }
  throw new Error(`expected TransportError(${code})`);
}

export function transportComplianceSuite(name: string, makeEnv: () => Promise<TransportEnv>): void {
  describe(`DatagramTransport compliance: ${name}`, () => {
    it('delivers a datagram with the sender endpoint', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        const b = await env.bind();
        const got = collect(b);
        a.send(b.local, new Uint8Array([1, 2, 3]));
        await env.settle();
        expect(got).toHaveLength(1);
        expect([...got[0]!.bytes]).toEqual([1, 2, 3]);
        expect(got[0]!.from).toEqual(a.local);
      } finally {
        await env.close();
      }
    });

    it('delivers datagrams of every size from 0 to the cap, intact', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        const b = await env.bind();
        const got = collect(b);
        const sizes = [0, 1, 100, 576, datagramSizeMaxBytes - 1, datagramSizeMaxBytes];
        for (const n of sizes) {
          const d = new Uint8Array(n);
          for (let i = 0; i < n; i++) d[i] = (i * 7 + n) & 255;
          a.send(b.local, d);
          await env.settle();
        }
        expect(got.map((r) => r.bytes.length)).toEqual(sizes);
        for (const r of got) {
          const n = r.bytes.length;
          for (let i = 0; i < n; i++) expect(r.bytes[i]).toBe((i * 7 + n) & 255);
        }
      } finally {
        await env.close();
      }
    });

    it('refuses a datagram over the size cap the same way', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        const b = await env.bind();
        const got = collect(b);
        expectTransportError(
          () => a.send(b.local, new Uint8Array(datagramSizeMaxBytes + 1)),
          'datagramTooLarge',
        );
        await env.settle();
        expect(got).toHaveLength(0);
      } finally {
        await env.close();
      }
    });

    it('refuses a malformed destination', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        expectTransportError(
          () => a.send({ address: '300.1.1.1', port: 5 }, new Uint8Array(1)),
          'badEndpoint',
        );
        expectTransportError(
          () => a.send({ address: '10.0.0.1', port: 0 }, new Uint8Array(1)),
          'badEndpoint',
        );
        expectTransportError(
          () => a.send({ address: '10.0.0.1', port: 70000 }, new Uint8Array(1)),
          'badEndpoint',
        );
      } finally {
        await env.close();
      }
    });

    it('after close: sends throw, nothing is received', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        const b = await env.bind();
        const got = collect(b);
        b.close();
        a.send(b.local, new Uint8Array([9]));
        await env.settle();
        expect(got).toHaveLength(0);
        a.close();
        expectTransportError(() => a.send(b.local, new Uint8Array([1])), 'closed');
      } finally {
        await env.close();
      }
    });

    it('refuses to bind a port in use, and frees it on close', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        await expect(env.bindSameHost(a, a.local.port)).rejects.toMatchObject({ code: 'portInUse' });
        a.close();
        const again = await env.bindSameHost(a, a.local.port);
        expect(again.local.port).toBe(a.local.port);
      } finally {
        await env.close();
      }
    });

    it('replacing the handler routes later datagrams to the new one', async () => {
      const env = await makeEnv();
      try {
        const a = await env.bind();
        const b = await env.bind();
        const first = collect(b);
        a.send(b.local, new Uint8Array([1]));
        await env.settle();
        const second = collect(b);
        a.send(b.local, new Uint8Array([2]));
        await env.settle();
        expect(first.map((r) => r.bytes[0])).toEqual([1]);
        expect(second.map((r) => r.bytes[0])).toEqual([2]);
      } finally {
        await env.close();
      }
    });
  });
}

export function rngComplianceSuite(name: string, make: () => Rng): void {
  describe(`Rng compliance: ${name}`, () => {
    it('bytes(n) returns n bytes', () => {
      const r = make();
      for (const n of [0, 1, 3, 4, 5, 32, 1000]) expect(r.bytes(n)).toHaveLength(n);
    });

    it('uint32, float and int stay in range and look uniform', () => {
      const r = make();
      const buckets = new Array(10).fill(0);
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        const u = r.uint32();
        expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
        const f = r.float();
        expect(f >= 0 && f < 1).toBe(true);
        const k = r.int(10);
        expect(Number.isInteger(k) && k >= 0 && k < 10).toBe(true);
        buckets[k]++;
      }
      // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
      const e = n / 10;
      const chi2 = buckets.reduce((s: number, b: number) => s + (b - e) ** 2 / e, 0);
      expect(chi2).toBeLessThan(27.9);
      expect(() => r.int(0)).toThrow(RangeError);
      expect(r.int(1)).toBe(0);
    });

    it('bytes are uniform over 0..255', () => {
      const r = make();
      const counts = new Array(256).fill(0);
      const b = r.bytes(256 * 200);
      for (const x of b) counts[x]++;
      const e = 200;
      const chi2 = counts.reduce((s: number, c: number) => s + (c - e) ** 2 / e, 0);
      // 255 degrees of freedom: mean 255, sd ~22.6; 360 is ~4.6 sd.
      expect(chi2).toBeLessThan(360);
    });

    it('fork gives a stream distinct from the parent and from other names', () => {
      const r = make();
      const a = r.fork('a');
      const b = r.fork('b');
      const xs = [r.uint32(), a.uint32(), b.uint32()];
      expect(new Set(xs).size).toBe(3);
    });
  });
}

export function clockComplianceSuite(
  name: string,
  make: () => { clock: Clock; advance: () => Promise<void> },
): void {
  describe(`Clock compliance: ${name}`, () => {
    it('returns integer milliseconds that never decrease', async () => {
      const { clock, advance } = make();
      let last = clock.now();
      for (let i = 0; i < 20; i++) {
        await advance();
        const t = clock.now();
        expect(Number.isSafeInteger(t)).toBe(true);
        expect(t).toBeGreaterThanOrEqual(last);
        last = t;
      }
      // Plausible Unix time (after 2019) so protocol timestamps are meaningful.
      expect(last).toBeGreaterThan(Date.UTC(2019, 0, 1));
    });
  });
}
