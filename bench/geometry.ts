/**
 * Geometry primitives on struct-of-typed-arrays (the scale model's layout) against a baseline that
 * does the same math the allocating way: build each difference vector as a fresh array, then sum.
 */

import { SeededRng } from '../sim/kernel/rng.js';
import { dimensions, distanceSquared } from '../src/id/geometry.js';
import { prospectiveLinkValue, sectorTowards } from '../src/id/sectors.js';
import { type BenchFigures, type BenchOptions, opsPerSec, round3 } from './lib.js';

const pointCount = 100_000;
const pairsPerCall = 1024;

function baselineDistanceSquared(a: Uint32Array, offA: number, b: Uint32Array, offB: number): number {
  const v = new Array<number>(dimensions);
  for (let k = 0; k < dimensions; k++) {
    let d = b[offB + k]! - a[offA + k]!;
    if (d >= 2 ** 31) d -= 2 ** 32;
    else if (d < -(2 ** 31)) d += 2 ** 32;
    v[k] = d / 2 ** 32;
  }
  return v.reduce((s, x) => s + x * x, 0);
}

export async function run(_opts: BenchOptions): Promise<BenchFigures> {
  const rng = new SeededRng('bench/geometry');
  const coords = new Uint32Array(pointCount * dimensions);
  for (let i = 0; i < coords.length; i++) coords[i] = rng.uint32();
  const pairs = new Int32Array(2 * pairsPerCall);
  for (let i = 0; i < pairs.length; i++) pairs[i] = rng.int(pointCount) * dimensions;
  let sink = 0;

  const distanceOps = opsPerSec(
    () => {
      for (let i = 0; i < pairsPerCall; i++)
        sink += distanceSquared(coords, pairs[2 * i]!, coords, pairs[2 * i + 1]!);
    },
    { opsPerCall: pairsPerCall },
  );
  const baselineOps = opsPerSec(
    () => {
      for (let i = 0; i < pairsPerCall; i++) {
        sink += baselineDistanceSquared(coords, pairs[2 * i]!, coords, pairs[2 * i + 1]!);
      }
    },
    { opsPerCall: pairsPerCall },
  );
  const sectorOps = opsPerSec(
    () => {
      for (let i = 0; i < pairsPerCall; i++)
        sink += sectorTowards(coords, pairs[2 * i]!, coords, pairs[2 * i + 1]!);
    },
    { opsPerCall: pairsPerCall },
  );
  const linkValueOps = opsPerSec(
    () => {
      for (let i = 0; i < pairsPerCall; i++) {
        sink += prospectiveLinkValue(
          coords,
          pairs[2 * i]!,
          i & 0x1ff,
          coords,
          pairs[2 * i + 1]!,
          (i * 7) & 0x1ff,
        );
      }
    },
    { opsPerCall: pairsPerCall },
  );
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return {
    distanceSquaredOpsPerSec: round3(distanceOps),
    baselineAllocatingDistanceOpsPerSec: round3(baselineOps),
    distanceSpeedup: round3(distanceOps / baselineOps),
    sectorTowardsOpsPerSec: round3(sectorOps),
    prospectiveLinkValueOpsPerSec: round3(linkValueOps),
  };
}
