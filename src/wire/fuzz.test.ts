import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { randomPacket } from '../../test/vectors/wire/packet-gen.js';
import { datagramSizeMaxBytes, protocolVersion } from './constants.js';
import { codecOf, decodeDatagram, encodeDatagram, packetCodecs } from './datagram.js';
import { decodeErrorCodes } from './schema.js';

const seed = 'wire-fuzz-1';
const randomDatagramCount = 100_000;
const mutationCount = 100_000;
const codeSet = new Set<string>(decodeErrorCodes);

/**
 * Checks the decoder's contract on one input: no exception; a failure carries a documented code;
 * a success is a schema-valid packet (it re-encodes, and the re-encoding decodes to the same packet).
 */
function check(bytes: Uint8Array, what: string, stats: Map<string, number>): void {
  let r: ReturnType<typeof decodeDatagram>;
  try {
    r = decodeDatagram(bytes);
  } catch (e) {
    throw new Error(`decodeDatagram threw on ${what} (seed '${seed}'): ${String(e)}`);
  }
  if (!r.ok) {
    if (!codeSet.has(r.code)) throw new Error(`undocumented code ${r.code} on ${what} (seed '${seed}')`);
    stats.set(r.code, (stats.get(r.code) ?? 0) + 1);
    return;
  }
  stats.set('ok', (stats.get('ok') ?? 0) + 1);
  let again: Uint8Array;
  try {
    again = encodeDatagram(r.packet);
  } catch (e) {
    throw new Error(`decoded packet is not schema-valid on ${what} (seed '${seed}'): ${String(e)}`);
  }
  const r2 = decodeDatagram(again);
  if (!r2.ok) throw new Error(`re-encoded packet failed to decode (${r2.code}) on ${what} (seed '${seed}')`);
  // Byte comparison of the re-encodings stands in for deep equality (much cheaper at this volume).
  if (Buffer.compare(encodeDatagram(r2.packet), again) !== 0) {
    throw new Error(`packet changed across a re-encoding on ${what} (seed '${seed}')`);
  }
}

/** Mutations of a valid datagram, including lies in msgpack length headers. */
function mutate(valid: Uint8Array, rng: SeededRng): { bytes: Uint8Array; kind: string } {
  const kind = rng.int(7);
  switch (kind) {
    case 0: {
      const b = valid.slice();
      const flips = 1 + rng.int(3);
      for (let i = 0; i < flips; i++) {
        const at = rng.int(b.length);
        b[at] = b[at]! ^ (1 << rng.int(8));
      }
      return { bytes: b, kind: 'bitflip' };
    }
    case 1:
      return { bytes: valid.slice(0, rng.int(valid.length)), kind: 'truncate' };
    case 2: {
      const extra = rng.bytes(1 + rng.int(40));
      const b = new Uint8Array(valid.length + extra.length);
      b.set(valid);
      b.set(extra, valid.length);
      return { bytes: b, kind: 'extend' };
    }
    case 3: {
      // Lie in a bin length header (0xc4 len) or a fixarray / array16 header.
      const b = valid.slice();
      const heads: number[] = [];
      for (let i = 2; i < b.length - 1; i++) {
        const x = b[i]!;
        if (x === 0xc4 || x === 0xc5 || x === 0xdc || (x & 0xf0) === 0x90) heads.push(i);
      }
      if (heads.length === 0) return { bytes: b, kind: 'header-lie' };
      const at = heads[rng.int(heads.length)]!;
      const x = b[at]!;
      if ((x & 0xf0) === 0x90) b[at] = 0x90 | rng.int(16);
      else {
        b[at + 1] = rng.int(256);
        if (rng.int(4) === 0) b[at] = [0xc4, 0xc5, 0xc6, 0xdc, 0xdd][rng.int(5)]!;
      }
      return { bytes: b, kind: 'header-lie' };
    }
    case 4: {
      const b = valid.slice();
      b[rng.int(b.length)] = rng.int(256);
      return { bytes: b, kind: 'byte-set' };
    }
    case 5: {
      // Splice: cut a random range out.
      const from = rng.int(valid.length);
      const to = Math.min(valid.length, from + 1 + rng.int(12));
      const b = new Uint8Array(valid.length - (to - from));
      b.set(valid.subarray(0, from));
      b.set(valid.subarray(to), from);
      return { bytes: b, kind: 'splice' };
    }
    default: {
      // Replace a field-sized run with msgpack nil / other type bytes.
      const b = valid.slice();
      const at = 2 + rng.int(Math.max(1, b.length - 2));
      b[at] = [0xc0, 0xc2, 0xc3, 0xca, 0xcb, 0xd0, 0xd3, 0xa1, 0x81, 0xd4][rng.int(10)]!;
      return { bytes: b, kind: 'type-swap' };
    }
  }
}

describe('decoder fuzz', () => {
  it(`${randomDatagramCount} random datagrams: no exception, documented codes only`, () => {
    const rng = new SeededRng(seed).fork('random');
    const stats = new Map<string, number>();
    for (let i = 0; i < randomDatagramCount; i++) {
      const len = rng.int(4) === 0 ? rng.int(datagramSizeMaxBytes + 100) : rng.int(80);
      const b = rng.bytes(len);
      const shape = rng.int(4);
      if (shape >= 1 && len >= 2) {
        b[0] = protocolVersion;
        b[1] = packetCodecs[rng.int(packetCodecs.length)]!.type;
      }
      if (shape >= 2 && len >= 3) b[2] = 0x90 | codecOf(b[1]!)!.fields.length;
      check(b, `random #${i}`, stats);
    }
    // The generator must reach every layer of the decoder.
    for (const code of [
      'tooShort',
      'tooLarge',
      'badVersion',
      'unknownType',
      'badBody',
      'badShape',
      'badField',
    ]) {
      expect(stats.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });

  it(`${mutationCount} mutations of valid datagrams: no exception, ok results are schema-valid`, () => {
    const rng = new SeededRng(seed).fork('mutate');
    const stats = new Map<string, number>();
    const pool = Array.from({ length: 500 }, (_, i) =>
      encodeDatagram(randomPacket(packetCodecs[i % packetCodecs.length]!, rng)),
    );
    for (let i = 0; i < mutationCount; i++) {
      const { bytes, kind } = mutate(pool[rng.int(pool.length)]!, rng);
      check(bytes, `mutation #${i} (${kind})`, stats);
    }
    for (const code of [
      'ok',
      'badBody',
      'badShape',
      'badField',
      'trailingBytes',
      'unknownType',
      'badVersion',
    ]) {
      expect(stats.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });
});
