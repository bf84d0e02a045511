import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { dimensions } from '../id/geometry.js';
import type { NeighborLink } from './neighbor.js';
import { LocalView, viewPeersInitial } from './view.js';

/** Random points; about one in four shares its first coordinate with others (the view's hash key). */
function randomPoint(rng: SeededRng): Uint32Array {
  const p = new Uint32Array(dimensions);
  for (let k = 0; k < dimensions; k++) p[k] = rng.uint32();
  if (rng.int(4) === 0) p[0] = rng.int(8);
  return p;
}

/**
 * Links whose advertised points (self first, then `advertisedEach − 1` others drawn from a pool of
 * `poolFactor` × as many) overlap as shared neighbours do.
 */
function neighbourhood(
  seed: string,
  neighbours: number,
  advertisedEach: number,
  self: Uint32Array,
  poolFactor = 1,
) {
  const rng = new SeededRng(seed);
  const pool = Array.from({ length: neighbours * advertisedEach * poolFactor }, () => randomPoint(rng));
  const links = Array.from({ length: neighbours }, () => {
    const advertised: Uint32Array[] = [self];
    while (advertised.length < advertisedEach) advertised.push(pool[rng.int(pool.length)]!);
    return {
      usable: true,
      remotePoint: randomPoint(rng),
      remoteBusySectors: rng.int(512),
      remoteNeighbourPoints: advertised,
    };
  });
  return links as unknown as NeighborLink[];
}

const key = (p: ArrayLike<number>): string => Array.from(p).join(',');

/** Checks that `view` holds self, the neighbours and each distinct advertised point once, rows intact. */
function expectHolds(view: LocalView, self: Uint32Array, links: NeighborLink[], stride: number): void {
  const expected = new Set([key(self), ...links.map((l) => key(l.remotePoint))]);
  for (const l of links) for (const p of l.remoteNeighbourPoints) expected.add(key(p));
  expect(view.size).toBe(expected.size);
  const seen = new Set<string>();
  for (let i = 0; i < view.size; i++)
    seen.add(key(view.coords.subarray(i * dimensions, (i + 1) * dimensions)));
  expect(seen).toEqual(expected);
  // Each neighbour's row: the link back to self, then its advertised points (self skipped).
  for (let i = 1; i <= links.length; i++) {
    const row = Array.from(view.slots.subarray(i * stride, i * stride + view.degree[i]!));
    expect(row[0]).toBe(0);
    const advertised = links[i - 1]!.remoteNeighbourPoints.filter((p) => key(p) !== key(self));
    expect(row.slice(1).map((v) => key(view.coords.subarray(v * dimensions, (v + 1) * dimensions)))).toEqual(
      advertised.map(key),
    );
  }
}

describe('LocalView', () => {
  // [case, neighbours, points each advertises (self included), stride, size it must exceed]
  it.each([
    ['growing past its first size', 18, 19, 19, viewPeersInitial],
    // 64 neighbours advertising 20 points each: ~1,300 peers, past every doubling and up to the bound.
    ['growing in steps up to its bound for the widest stride', 64, 21, 64, 4 * viewPeersInitial],
  ] as const)(
    'holds self, the neighbours and each distinct advertised point once, %s',
    (name, neighbours, each, stride, above) => {
      const self = randomPoint(new SeededRng(`view-self ${name}`));
      const links = neighbourhood(`view ${name}`, neighbours, each, self, 8);
      const view = new LocalView(stride);
      view.rebuild(self, 5, links, 1);
      expect(view.size).toBeGreaterThan(above);
      expect(view.size).toBeLessThanOrEqual(view.peersMax);
      expectHolds(view, self, links, stride);
    },
  );

  it('rebuilds to the same contents whether it had to grow or had grown before', () => {
    const self = randomPoint(new SeededRng('view-self-2'));
    const big = neighbourhood('view-big-2', 18, 19, self, 4);
    const fresh = new LocalView(19);
    fresh.rebuild(self, 3, big, 1);
    const reused = new LocalView(19);
    reused.rebuild(self, 3, neighbourhood('view-small', 4, 3, self), 1);
    reused.rebuild(self, 3, big, 2);
    reused.rebuild(self, 3, big, 3);
    expect(reused.size).toBe(fresh.size);
    const n = fresh.size;
    expect(Array.from(reused.coords.subarray(0, n * dimensions))).toEqual(
      Array.from(fresh.coords.subarray(0, n * dimensions)),
    );
    expect(Array.from(reused.degree.subarray(0, n))).toEqual(Array.from(fresh.degree.subarray(0, n)));
    expect(Array.from(reused.busy.subarray(0, n))).toEqual(Array.from(fresh.busy.subarray(0, n)));
    expect(Array.from(reused.slots)).toEqual(Array.from(fresh.slots));
  });
});
