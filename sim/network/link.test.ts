/**
 * The link model's statistics over 1e5 datagrams, checked against the configured distributions with
 * tolerances derived from the sample size (5 standard errors: a correct model fails with probability
 * < 1e-6 per check, and each check is shown to reject a nearby wrong configuration).
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../kernel/kernel.js';
import { gilbertElliottStationaryLoss, jitterMoments, type LinkProfile, resolveLinkProfile } from './link.js';
import { SimNetwork } from './network.js';

const n = 100_000;
const baseMs = 20;

interface Blast {
  readonly received: Uint8Array; // copies received per sequence number
  readonly delays: Float64Array; // delay of the first copy, NaN if lost
  readonly net: SimNetwork;
}

function blast(link: LinkProfile, seed: string, count = n): Blast {
  const kernel = new Kernel({ seed });
  const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: baseMs } } });
  const a = net.addHost({ link });
  const b = net.addHost();
  const ta = net.bind(a, 1000);
  const tb = net.bind(b, 2000);
  const received = new Uint8Array(count);
  const delays = new Float64Array(count).fill(Number.NaN);
  const t0 = kernel.now();
  tb.onDatagram((bytes) => {
    const seq = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
    if (received[seq] === 0) delays[seq] = kernel.now() - t0;
    received[seq]!++;
  });
  const to = { address: b.publicAddress, port: 2000 };
  const buf = new Uint8Array(4);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint32(0, i);
    ta.send(to, buf);
  }
  kernel.run();
  return { received, delays, net };
}

function lossRate(r: Uint8Array): number {
  let lost = 0;
  for (const c of r) if (c === 0) lost++;
  return lost / r.length;
}

/** Mean length of runs of consecutive lost sequence numbers. */
function meanBurst(r: Uint8Array): { mean: number; bursts: number } {
  let bursts = 0;
  let lost = 0;
  for (let i = 0; i < r.length; i++) {
    if (r[i] !== 0) continue;
    lost++;
    if (i === 0 || r[i - 1] !== 0) bursts++;
  }
  return { mean: lost / bursts, bursts };
}

describe('random loss', () => {
  it('the loss rate over 1e5 datagrams is within 5 standard errors of lossRate', () => {
    const p = 0.1;
    const { received, net } = blast({ lossRate: p }, 'loss');
    const measured = lossRate(received);
    const se = Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(measured - p)).toBeLessThan(5 * se);
    expect(net.stats.dropped.loss).toBe(Math.round(measured * n));
    // The same check rejects a configuration 2 points off.
    expect(Math.abs(measured - 0.12)).toBeGreaterThan(5 * se);
  });
});

describe('Gilbert–Elliott burst loss', () => {
  const ge = { pGoodToBad: 0.02, pBadToGood: 0.25 };
  const stationary = gilbertElliottStationaryLoss(resolveLinkProfile({ burstLoss: ge }).burstLoss!);
  // With lossInBad = 1 and lossInGood = 0 the loss indicator is the chain's state, whose lag-k
  // autocorrelation is rho^k with rho = 1 - p - r; the variance of its mean is inflated by (1+rho)/(1-rho).
  const rho = 1 - ge.pGoodToBad - ge.pBadToGood;
  const rateSe = Math.sqrt((stationary * (1 - stationary) * (1 + rho)) / ((1 - rho) * n));
  // Bursts (sojourns in the bad state) are geometric with mean 1/r and variance (1-r)/r^2.
  const burstMean = 1 / ge.pBadToGood;
  const burstSd = Math.sqrt(1 - ge.pBadToGood) / ge.pBadToGood;

  it('stationary loss rate and mean burst length match the chain', () => {
    const { received } = blast({ burstLoss: ge }, 'ge');
    expect(stationary).toBeCloseTo(0.02 / 0.27, 12);
    expect(Math.abs(lossRate(received) - stationary)).toBeLessThan(5 * rateSe);
    const { mean, bursts } = meanBurst(received);
    expect(Math.abs(mean - burstMean)).toBeLessThan((5 * burstSd) / Math.sqrt(bursts));
  });

  it('independent loss at the same rate fails the burst check (so the check has teeth)', () => {
    const { received } = blast({ lossRate: stationary }, 'ge-wrong');
    expect(Math.abs(lossRate(received) - stationary)).toBeLessThan(5 * rateSe);
    const { mean, bursts } = meanBurst(received);
    expect(Math.abs(mean - burstMean)).toBeGreaterThan((5 * burstSd) / Math.sqrt(bursts));
    expect(mean).toBeLessThan(1.2); // 1/(1 - p) for independent loss
  });
});

describe('latency', () => {
  it('mean and variance of the delay match base + floored exponential jitter (CLT bounds)', () => {
    const jitterMeanMs = 10;
    const { delays } = blast({ jitterMeanMs }, 'latency');
    // Exact moments of the geometric jitter, up to the 4th central moment for the variance's error.
    const q = Math.exp(-1 / jitterMeanMs);
    const { mean: jm, variance: jv } = jitterMoments(jitterMeanMs);
    let m4 = 0;
    for (let k = 0; k < 5000; k++) m4 += (1 - q) * q ** k * (k - jm) ** 4;
    let sum = 0;
    for (const d of delays) sum += d;
    const mean = sum / n;
    let ss = 0;
    for (const d of delays) ss += (d - mean) ** 2;
    const variance = ss / (n - 1);
    const meanSe = Math.sqrt(jv / n);
    const varSe = Math.sqrt((m4 - jv * jv) / n);
    expect(Math.abs(mean - (baseMs + jm))).toBeLessThan(5 * meanSe);
    expect(Math.abs(variance - jv)).toBeLessThan(5 * varSe);
    expect(Math.min(...delays)).toBe(baseMs);
    // An unfloored exponential (mean base + 10) would be rejected: 0.49 ms is ~16 standard errors.
    expect(Math.abs(mean - (baseMs + jitterMeanMs))).toBeGreaterThan(5 * meanSe);
  });

  it('region pairs set the base latency, filled symmetrically', () => {
    const kernel = new Kernel({ seed: 'regions' });
    const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 5, us: 40 }, us: { us: 7 } } });
    const eu = net.addHost({ region: 'eu' });
    const us = net.addHost({ region: 'us' });
    const us2 = net.addHost({ region: 'us' });
    const arrivals: number[] = [];
    const t0 = kernel.now();
    for (const h of [us, eu, us2]) net.bind(h, 9).onDatagram(() => arrivals.push(kernel.now() - t0));
    const te = net.bind(eu, 10);
    const tu = net.bind(us, 10);
    te.send({ address: us.publicAddress, port: 9 }, Uint8Array.of(1));
    kernel.run();
    tu.send({ address: eu.publicAddress, port: 9 }, Uint8Array.of(1));
    tu.send({ address: us2.publicAddress, port: 9 }, Uint8Array.of(1));
    kernel.run();
    expect(arrivals).toEqual([40, 40 + 7, 40 + 40]);
  });
});

describe('duplication and reordering', () => {
  it('duplicateRate copies datagrams at the configured rate', () => {
    const d = 0.05;
    const { received, net } = blast({ duplicateRate: d }, 'dup');
    let twice = 0;
    for (const c of received) if (c === 2) twice++;
    expect(Math.abs(twice / n - d)).toBeLessThan(5 * Math.sqrt((d * (1 - d)) / n));
    expect(net.stats.duplicated).toBe(twice);
  });

  it('reorderRate holds back that fraction by reorderDelayMs, so later datagrams overtake them', () => {
    const r = 0.1;
    const { delays } = blast({ reorderRate: r, reorderDelayMs: 50 }, 'reorder');
    let held = 0;
    let other = 0;
    for (const x of delays) {
      if (x === baseMs + 50) held++;
      else if (x !== baseMs) other++;
    }
    expect(other).toBe(0);
    expect(Math.abs(held / n - r)).toBeLessThan(5 * Math.sqrt((r * (1 - r)) / n));
  });
});

describe('seeded streams', () => {
  it('a host’s loss pattern does not change when another host is added and sends', () => {
    const pattern = (withThird: boolean) => {
      const kernel = new Kernel({ seed: 'streams' });
      const net = new SimNetwork(kernel, { link: { lossRate: 0.3, jitterMeanMs: 5 } });
      const a = net.addHost();
      const b = net.addHost();
      const got: number[] = [];
      net.bind(b, 2).onDatagram((bytes) => got.push(bytes[0]!, kernel.now()));
      const ta = net.bind(a, 1);
      const tc = withThird ? net.bind(net.addHost(), 3) : undefined;
      for (let i = 0; i < 200; i++) {
        ta.send({ address: b.publicAddress, port: 2 }, Uint8Array.of(i));
        tc?.send({ address: b.publicAddress, port: 9 }, Uint8Array.of(i));
      }
      kernel.run();
      return got;
    };
    expect(pattern(true)).toEqual(pattern(false));
  });

  it('two runs of one seed give the same event hash; another seed does not', () => {
    const hash = (seed: string) => {
      const kernel = new Kernel({ seed });
      blastInto(kernel);
      return kernel.eventHash;
    };
    expect(hash('h1')).toBe(hash('h1'));
    expect(hash('h1')).not.toBe(hash('h2'));
  });
});

function blastInto(kernel: Kernel): void {
  const net = new SimNetwork(kernel, { link: { lossRate: 0.2, jitterMeanMs: 4, duplicateRate: 0.1 } });
  const a = net.addHost({ nat: 'portRestricted' });
  const s = net.addHost({ kind: 'server' });
  net.bind(s, 7).onDatagram(() => {});
  const t = net.bind(a, 7);
  for (let i = 0; i < 500; i++) t.send({ address: s.publicAddress, port: 7 }, Uint8Array.of(i & 255, i >> 8));
  kernel.run();
}
