import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { FastRng } from '../../sim/scale/fast-rng.js';
import { joinParamsFor, ScaleNetwork } from '../../sim/scale/model.js';
import { dimensions } from '../id/geometry.js';
import { sectorTowards } from '../id/sectors.js';
import type { NeighborLink } from './neighbor.js';
import {
  evictionVictim,
  inviteNextHop,
  longLinkFlag,
  type PeerView,
  peerDistanceSquared,
  prospectiveValue,
  registerAcceptHere,
  registerNoRoute,
  registerStep,
  registerStepVisited,
  routingPolicyDefault,
  sectorPair,
  sectorTowardsFast,
  slotPeerMask,
  slotStrideMax,
  spareAboveDegreeFor,
} from './policy.js';
import { LocalView } from './view.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const point = fc.array(u32, { minLength: dimensions, maxLength: dimensions }).map((a) => Uint32Array.from(a));

/** A tiny view from explicit points and adjacency (slot order as given). */
function viewOf(points: number[][], adjacency: number[][], busy?: number[]): PeerView {
  const stride = 16;
  const n = points.length;
  const coords = new Uint32Array(n * dimensions);
  points.forEach((p, i) => {
    coords.set(
      p.map((x) => x >>> 0),
      i * dimensions,
    );
  });
  const slots = new Uint32Array(n * stride);
  const degree = new Uint8Array(n);
  adjacency.forEach((row, i) => {
    row.forEach((q, j) => {
      slots[i * stride + j] = q;
    });
    degree[i] = row.length;
  });
  return {
    coords,
    slots,
    slotStride: stride,
    degree,
    busy: Uint16Array.from(busy ?? new Array(n).fill(0x1ff)),
  };
}

/** A network of `peers` grown by the default join process (the model's), from `rng`. */
function grownNetwork(peers: number, rng: SeededRng): ScaleNetwork {
  const net = new ScaleNetwork(peers, joinParamsFor(13, routingPolicyDefault), new FastRng(rng));
  net.prepare(peers);
  for (let i = 0; i < peers; i++) net.joinNext();
  return net;
}

/** A point at offset (dx per axis, in units of 2^24) from the origin point. */
function at(...dx: number[]): number[] {
  return Array.from({ length: dimensions }, (_, i) => ((dx[i] ?? 0) * 2 ** 24) >>> 0);
}

describe('sectorTowardsFast', () => {
  it('equals sectorTowards of src/id/sectors.ts on random points', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        expect(sectorTowardsFast(a, 0, b, 0)).toBe(sectorTowards(a, 0, b, 0));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sectorPair', () => {
  it('equals two sectorTowardsFast calls, including half-ring differences', () => {
    const half = fc.constantFrom(0, 0x8000_0000, 0x7fff_ffff, 0xffff_ffff);
    fc.assert(
      fc.property(point, point, fc.array(half, { minLength: 8, maxLength: 8 }), (a, b, shifts) => {
        const c = Uint32Array.from(b.map((x, i) => (i % 3 === 0 ? (a[i]! + shifts[i]!) >>> 0 : x)));
        const pair = sectorPair(a, 0, c, 0);
        expect(pair & 15).toBe(sectorTowardsFast(a, 0, c, 0));
        expect(pair >>> 4).toBe(sectorTowardsFast(c, 0, a, 0));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('inviteNextHop', () => {
  // 0 at the origin, target 4 far along axis 0; neighbours 1 (closer) and 2 (farther).
  const v = viewOf([at(0), at(4), at(-2), at(6), at(10)], [[1, 2], [0, 3], [0], [1, 4], [3]]);
  const mark = new Uint32Array(5);

  it('forwards to the neighbour nearest the target', () => {
    expect(inviteNextHop(v, 0, v.coords, 4 * dimensions, false, mark, 1, false)).toBe(1);
  });

  it('stops at a local minimum without the fallback, and continues with it', () => {
    // Peer 2's only neighbour (0) is farther than 2 from a target behind 2.
    const w = viewOf([at(0), at(4), at(-2), at(-3)], [[1, 2], [0], [0], []]);
    expect(inviteNextHop(w, 2, w.coords, 3 * dimensions, false, mark, 1, false)).toBe(-1);
    expect(inviteNextHop(w, 2, w.coords, 3 * dimensions, false, mark, 1, true)).toBe(0);
  });

  it('look-ahead prefers the neighbour whose neighbour is nearest the target', () => {
    // Neighbour 1 is nearer the target (5) than neighbour 2, but 2 advertises the target's own peer.
    const w = viewOf(
      [at(0), at(3, 3), at(0, 3), at(6, 0), at(3, 5), at(3, 5)],
      [[1, 2], [0, 3], [0, 5], [1], [], [2]],
    );
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, false, mark, 1, false)).toBe(1);
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, true, mark, 1, false)).toBe(2);
  });

  it('a charged look-ahead makes a reach through a neighbour pay for the extra hop', () => {
    // As above: 2 reaches the target's point through 5, 1 is itself nearer. Self's mean hop length is
    // (√18 + 3) / 2 ≈ 3.6 units: charged a quarter of it, the reach still wins; charged a whole one, 1 wins.
    const w = viewOf(
      [at(0), at(3, 3), at(0, 3), at(6, 0), at(3, 5), at(3, 5)],
      [[1, 2], [0, 3], [0, 5], [1], [], [2]],
    );
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, true, mark, 1, false, 0.25)).toBe(2);
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, true, mark, 1, false, 1)).toBe(1);
    // Without look-ahead the charge is moot.
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, false, mark, 1, false, 1)).toBe(1);
  });

  it('look-ahead does not count a visited peer: a route does not circle a local minimum it has left', () => {
    // As above, but peer 5 (what makes 2 attractive) was visited already: 1 is the better choice again.
    const w = viewOf(
      [at(0), at(3, 3), at(0, 3), at(6, 0), at(3, 5), at(3, 5)],
      [[1, 2], [0, 3], [0, 5], [1], [], [2]],
    );
    const visited = new Uint32Array(6);
    visited[5] = 7;
    expect(inviteNextHop(w, 0, w.coords, 4 * dimensions, true, visited, 7, false)).toBe(1);
  });

  it('skips visited peers', () => {
    const m = new Uint32Array(5);
    m[1] = 7;
    expect(inviteNextHop(v, 0, v.coords, 4 * dimensions, false, m, 7, true)).toBe(2);
  });
});

describe('registerStep', () => {
  it('accepts at the first peer better than all its neighbours, else forwards', () => {
    // Requester point R at +3 on axis 0 (not in the view: requester −1).
    const v = viewOf([at(0), at(2), at(-2)], [[1, 2], [0], [0]]);
    const target = Uint32Array.from(at(3));
    const mark = new Uint32Array(3);
    expect(registerStep(v, 0, -1, target, 0, 0x1ff, 0, mark, 1, 15)).toBe(1);
    expect(registerStep(v, 1, -1, target, 0, 0x1ff, 0, mark, 1, 15)).toBe(registerAcceptHere);
  });

  it('does not accept when already linked to the requester or without a free slot', () => {
    const v = viewOf([at(0), at(2), at(3)], [[1], [0, 2], [1]]);
    const target = Uint32Array.from(at(3));
    const mark = new Uint32Array(3);
    // Peer 1 is linked to the requester (peer 2): it forwards to 0, the only other candidate.
    expect(registerStep(v, 1, 2, target, 0, 0x1ff, 0, mark, 1, 15)).toBe(0);
    // Full: peer 1 (degree 2) with two slots at most forwards instead of accepting.
    const w = viewOf([at(0), at(2), at(-1)], [[1], [0, 2], [1]]);
    expect(registerStep(w, 1, -1, target, 0, 0x1ff, 0, mark, 1, 2)).toBe(0);
  });

  it('the sector bonus lets a slightly farther peer that fills an empty sector win', () => {
    // Two candidates at nearly the same distance; only candidate 2's side has the requester's sector empty.
    const v = viewOf([at(0), at(1, 1), at(1, 0.95)], [[1, 2], [0], [0]], [0x1ff, 0x1ff, 0]);
    const target = Uint32Array.from(at(2, 2));
    const mark = new Uint32Array(3);
    expect(registerStep(v, 0, -1, target, 0, 0x1ff, 0, mark, 1, 15)).toBe(1);
    expect(registerStep(v, 0, -1, target, 0, 0x1ff, 0.03, mark, 1, 15)).toBe(2);
  });
});

/** `registerStep` by its definition: every candidate's full link value, slot-order argmax. */
function registerStepReference(
  view: PeerView,
  self: number,
  requester: number,
  target: Uint32Array,
  requesterBusy: number,
  bonus: number,
  mark: Uint32Array,
  epoch: number,
  slotsMax: number,
): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  let linked = false;
  for (let j = 0; j < view.degree[self]!; j++) {
    const n = view.slots[self * view.slotStride + j]! & slotPeerMask;
    if (n === requester) linked = true;
    if (n === requester || mark[n] === epoch) continue;
    const v = prospectiveValue(view, n, target, 0, requesterBusy, bonus);
    if (v > bestValue) {
      bestValue = v;
      best = n;
    }
  }
  const selfEligible = !linked && self !== requester && view.degree[self]! < slotsMax;
  if (selfEligible && prospectiveValue(view, self, target, 0, requesterBusy, bonus) > bestValue)
    return registerAcceptHere;
  return best >= 0 ? best : registerNoRoute;
}

describe('registerStepVisited', () => {
  it('decides as registerStep and as the definition, with the same peers marked', () => {
    const rng = new SeededRng('visited-bits');
    const net = grownNetwork(800, rng.fork('build'));
    const pick = new FastRng(rng.fork('pick'));
    const mark = new Uint32Array(net.count);
    const visited = new Uint32Array(Math.ceil(net.count / 32));
    for (let trial = 0; trial < 500; trial++) {
      const self = pick.int(net.count);
      const requester = pick.int(net.count);
      mark.fill(0);
      visited.fill(0);
      for (let k = pick.int(6); k > 0; k--) {
        const p = net.slots[self * net.slotStride + pick.int(net.degree[self]!)]! & slotPeerMask;
        mark[p] = 1;
        visited[p >>> 5] = visited[p >>> 5]! | (1 << (p & 31));
      }
      const target = net.coords.subarray(requester * dimensions);
      const busy = net.busy[requester]!;
      for (const bonus of [0, 0.03, 0.2]) {
        const reference = registerStepReference(net, self, requester, target, busy, bonus, mark, 1, 15);
        expect(registerStep(net, self, requester, target, 0, busy, bonus, mark, 1, 15)).toBe(reference);
        expect(registerStepVisited(net, self, requester, target, 0, busy, bonus, visited, 15)).toBe(
          reference,
        );
      }
    }
  });
});

describe('evictionVictim', () => {
  it('drops the farthest local link, never a long link', () => {
    const v = viewOf([at(0), at(1), at(2), at(9)], [[1, 2, 3 | longLinkFlag], [0], [0], [0]]);
    expect(evictionVictim(v, 0, 0, 0, new Uint8Array(9), new Uint8Array(16))).toBe(1);
  });

  it('keeps the only link of a sector when the bonus covers the distance gap', () => {
    // Links 1 and 2 share a sector; 3 is alone in the opposite one and slightly farther.
    const v = viewOf([at(0), at(1), at(1.1), at(-1.2)], [[1, 2, 3], [0], [0], [0]]);
    expect(evictionVictim(v, 0, 0, 0, new Uint8Array(9), new Uint8Array(16))).toBe(2);
    expect(evictionVictim(v, 0, 0.03, 0, new Uint8Array(9), new Uint8Array(16))).toBe(1);
  });
});

/**
 * `evictionVictim` as its definition reads: every local link's value −d + bonus (alone in its sector)
 * + w · (distance from its far end to the nearest other neighbour), spare neighbours first, the lowest
 * value, ties to the lower slot.
 */
function evictionVictimReference(
  view: PeerView,
  self: number,
  bonus: number,
  weight: number,
  spareAboveDegree: number,
  spareMargin = Number.POSITIVE_INFINITY,
): number {
  const base = self * view.slotStride;
  const deg = view.degree[self]!;
  const peerAt = (j: number): number => view.slots[base + j]! & slotPeerMask;
  const sectors = Array.from({ length: deg }, (_, j) =>
    sectorTowardsFast(view.coords, self * dimensions, view.coords, peerAt(j) * dimensions),
  );
  let worst = -1;
  let worstKey: [number, number] = [2, 0];
  for (let j = 0; j < deg; j++) {
    if (view.slots[base + j]! >= longLinkFlag) continue;
    const n = peerAt(j);
    let v = -Math.sqrt(peerDistanceSquared(view.coords, self, n));
    if (sectors.filter((s) => s === sectors[j]).length === 1) v += bonus;
    if (weight !== 0 && deg > 1) {
      let nearest = Number.POSITIVE_INFINITY;
      for (let k = 0; k < deg; k++)
        if (k !== j) nearest = Math.min(nearest, peerDistanceSquared(view.coords, n, peerAt(k)));
      v += weight * Math.sqrt(nearest);
    }
    let spare = spareAboveDegree > 0 && view.degree[n]! > spareAboveDegree ? 0 : 1;
    if (Number.isFinite(spareMargin)) {
      // A finite margin: spare neighbours are preferred by that much value only.
      if (spare === 0) v -= spareMargin;
      spare = 0;
    }
    if (spare < worstKey[0] || (spare === worstKey[0] && v < worstKey[1])) {
      worst = j;
      worstKey = [spare, v];
    }
  }
  return worst;
}

describe('spareAboveDegreeFor', () => {
  it('prefers spare neighbours above the maximum only, and only with spare-aware eviction', () => {
    const on = routingPolicyDefault;
    const off = { ...on, spareAwareEviction: false };
    expect(spareAboveDegreeFor('aboveMaximum', on, 13)).toBe(13);
    expect(spareAboveDegreeFor('recycling', on, 13)).toBe(0);
    expect(spareAboveDegreeFor('aboveMaximum', off, 13)).toBe(0);
    expect(spareAboveDegreeFor('recycling', off, 13)).toBe(0);
  });

  it('lets recycling drop the worst link where eviction above the maximum spares a neighbour at its minimum', () => {
    // Link 1 is the farthest; its far end has only its minimum of links (degree 1 here), so above the
    // maximum the next worst goes, while recycling drops link 1 itself.
    const v = viewOf([at(0), at(2), at(1), at(0.5)], [[1, 2, 3], [0], [0, 3], [0, 2]]);
    const victim = (cause: 'aboveMaximum' | 'recycling'): number =>
      evictionVictim(
        v,
        0,
        0,
        0,
        new Uint8Array(9),
        new Uint8Array(16),
        spareAboveDegreeFor(cause, routingPolicyDefault, 1),
      );
    expect(victim('recycling')).toBe(0);
    expect(victim('aboveMaximum')).toBe(1);
  });
});

describe('evictionVictim with occlusion', () => {
  it('drops the link whose far end another neighbour is nearest to, not the farthest', () => {
    // 1 and 2 lie close together on one side; 3 is alone on the other and the farthest.
    const v = viewOf([at(0), at(1), at(1.1), at(-1.3)], [[1, 2, 3], [0], [0], [0]]);
    const scratch = (): [Uint8Array, Uint8Array] => [new Uint8Array(9), new Uint8Array(16)];
    expect(evictionVictim(v, 0, 0, 0, ...scratch())).toBe(2);
    // Values at weight 1: 1 → −1 + 0.1, 2 → −1.1 + 0.1, 3 → −1.3 + 2.3 (in units of 2^24).
    expect(evictionVictim(v, 0, 0, 1, ...scratch())).toBe(1);
    // At weight 0.05 the occlusion does not yet outweigh 3's extra length: 3 → −1.3 + 0.115 = −1.185,
    // 2 → −1.1 + 0.005 = −1.095: 3 still goes.
    expect(evictionVictim(v, 0, 0, 0.05, ...scratch())).toBe(2);
  });

  it('breaks a tie of values towards the lower slot', () => {
    // Two neighbours at the same distance on opposite sides: equal values at any weight.
    const v = viewOf([at(0), at(1), at(-1)], [[1, 2], [0], [0]]);
    for (const weight of [0, 1.25])
      expect(evictionVictim(v, 0, 0, weight, new Uint8Array(9), new Uint8Array(16))).toBe(0);
  });

  it('keeps a long link even when it is the most occluded one', () => {
    const v = viewOf([at(0), at(1), at(1.1 /* long */), at(-1.3)], [[1, 2 | longLinkFlag, 3], [0], [0], [0]]);
    expect(evictionVictim(v, 0, 0, 1, new Uint8Array(9), new Uint8Array(16))).toBe(0);
  });

  it('decides as its definition on built networks (weights, bonuses, spare-aware or not)', () => {
    const rng = new SeededRng('occlusion-eviction');
    const net = grownNetwork(1200, rng.fork('build'));
    const pick = new FastRng(rng.fork('pick'));
    let differsFromFarthest = 0;
    for (let trial = 0; trial < 400; trial++) {
      const self = pick.int(net.count);
      // Some peers get a long link so that the exemption is exercised.
      if (trial % 5 === 0) {
        const j = pick.int(net.degree[self]!);
        net.slots[self * net.slotStride + j] = net.slots[self * net.slotStride + j]! | longLinkFlag;
      }
      for (const bonus of [0, 0.03])
        for (const weight of [0, 0.5, 1, 2])
          for (const [spare, margin] of [
            [0, Number.POSITIVE_INFINITY],
            [13, Number.POSITIVE_INFINITY],
            [13, 0.002],
          ] as const) {
            const got = evictionVictim(
              net,
              self,
              bonus,
              weight,
              new Uint8Array(9),
              new Uint8Array(16),
              spare,
              margin,
            );
            expect(got).toBe(evictionVictimReference(net, self, bonus, weight, spare, margin));
            if (weight === 1 && bonus === 0 && spare === 0)
              differsFromFarthest += got === evictionVictimReference(net, self, 0, 0, 0) ? 0 : 1;
          }
    }
    // The weight changes the choice at most peers (else this test would not tell the two apart).
    expect(differsFromFarthest).toBeGreaterThan(100);
  });
});

describe('engine and model decide alike', () => {
  it('choose the same next hop and eviction on random inputs (model view vs the engine LocalView of one peer)', () => {
    const rng = new SeededRng('policy-equivalence');
    const net = grownNetwork(1500, rng.fork('build'));
    const pick = new FastRng(rng.fork('pick'));
    const stride = net.slotStride;
    const pointOf = (p: number): Uint32Array => net.coords.slice(p * dimensions, (p + 1) * dimensions);
    let compared = 0;
    for (let trial = 0; trial < 300; trial++) {
      const self = pick.int(net.count);
      const target = pick.int(net.count);
      if (target === self) continue;
      // The engine's view: its neighbours' points, busy masks and advertised neighbour points.
      const links: unknown[] = [];
      for (let j = 0; j < net.degree[self]!; j++) {
        const n = net.slots[self * stride + j]! & slotPeerMask;
        const advertised: Uint32Array[] = [];
        for (let k = 0; k < net.degree[n]!; k++)
          advertised.push(pointOf(net.slots[n * stride + k]! & slotPeerMask));
        links.push({
          usable: true,
          remotePoint: pointOf(n),
          remoteBusySectors: net.busy[n]!,
          remoteRegIdHex: String(n),
          remoteNeighbourPoints: advertised,
        });
      }
      const local = new LocalView(slotStrideMax);
      local.rebuild(pointOf(self), net.busy[self]!, links as NeighborLink[], 1);
      // Eviction: the same slot, with the neighbours' degrees known from their adverts.
      const weight = routingPolicyDefault.occlusionWeight;
      for (const spare of [0, 13])
        expect(evictionVictim(local, 0, 0.03, weight, new Uint8Array(9), new Uint8Array(16), spare)).toBe(
          evictionVictim(net, self, 0.03, weight, new Uint8Array(9), new Uint8Array(16), spare),
        );
      const tp = pointOf(target);
      for (const lookAhead of [false, true]) {
        const g = inviteNextHop(
          net,
          self,
          net.coords,
          target * dimensions,
          lookAhead,
          new Uint32Array(net.count),
          1,
          true,
        );
        const l = inviteNextHop(local, 0, tp, 0, lookAhead, new Uint32Array(local.size), 1, true);
        expect(l >= 0).toBe(g >= 0);
        if (g >= 0)
          expect(Array.from(local.coords.subarray(l * dimensions, (l + 1) * dimensions))).toEqual(
            Array.from(pointOf(g)),
          );
      }
      if (
        !net.degree[self] ||
        links.some((_, j) => (net.slots[self * stride + j]! & slotPeerMask) === target)
      )
        continue;
      const g = registerStep(
        net,
        self,
        target,
        net.coords.subarray(target * dimensions),
        0,
        net.busy[target]!,
        0.03,
        new Uint32Array(net.count),
        1,
        15,
      );
      const l = registerStep(
        local,
        0,
        -1,
        tp,
        0,
        net.busy[target]!,
        0.03,
        new Uint32Array(local.size),
        1,
        15,
      );
      if (g < 0) expect(l).toBe(g);
      else
        expect(Array.from(local.coords.subarray(l * dimensions, (l + 1) * dimensions))).toEqual(
          Array.from(pointOf(g)),
        );
      compared++;
    }
    expect(compared).toBeGreaterThan(200);
  });
});
