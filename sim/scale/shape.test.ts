import { describe, expect, it } from 'vitest';
import { routingPolicyDefault } from '../../src/drp/policy.js';
import { dimensions } from '../../src/id/geometry.js';
import { SeededRng } from '../kernel/rng.js';
import { FastRng } from './fast-rng.js';
import { joinParamsFor, ScaleNetwork } from './model.js';
import { graphShape } from './shape.js';

/** Peers 0..3 on one axis at 0, 1, 2, 4 (units of 2^-8); links 0–1, 0–2, 0–3, 1–2. */
function smallView() {
  const coords = new Uint32Array(4 * dimensions);
  [0, 1, 2, 4].forEach((x, p) => {
    coords[p * dimensions] = x * 2 ** 24;
  });
  const stride = 4;
  const rows = [[1, 2, 3], [0, 2], [0, 1], [0]];
  const slots = new Uint32Array(4 * stride);
  const degree = new Uint8Array(4);
  rows.forEach((row, p) => {
    row.forEach((n, j) => {
      slots[p * stride + j] = n;
    });
    degree[p] = row.length;
  });
  return { coords, slots, slotStride: stride, degree, busy: new Uint16Array(4) };
}

describe('graphShape', () => {
  it('counts link lengths, distinct peers within two hops and linked neighbour pairs', () => {
    const picks = [0, 3];
    let i = 0;
    const shape = graphShape(smallView(), 4, { int: () => picks[i++ % picks.length]! }, 2);
    // Peer 0: links of length 1, 2, 4; peers 1, 2, 3 within two hops; of its pairs only 1–2 is linked.
    // Peer 3: one link of length 4; peers 0, 1, 2 within two hops; no pairs.
    expect(shape.linkLengthMean).toBeCloseTo((1 + 2 + 4 + 4) / 4 / 256, 12);
    expect(shape.twoHopReachMean).toBe(3);
    expect(shape.clustering).toBeCloseTo(1 / 3, 12);
  });

  it('on a built network: reach above the degree, clustering strictly between 0 and 1', () => {
    const net = new ScaleNetwork(
      3000,
      joinParamsFor(13, routingPolicyDefault),
      new FastRng(new SeededRng('s')),
    );
    net.prepare(3000);
    for (let p = 0; p < 3000; p++) net.joinNext();
    const shape = graphShape(net, net.count, new FastRng(new SeededRng('pick')), 500);
    expect(shape.twoHopReachMean).toBeGreaterThan(net.meanDegree());
    expect(shape.twoHopReachMean).toBeLessThanOrEqual(net.meanDegree() * 16);
    expect(shape.clustering).toBeGreaterThan(0);
    expect(shape.clustering).toBeLessThan(1);
  });
});
