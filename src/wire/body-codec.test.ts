import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { randomPacket } from '../../test/vectors/wire/packet-gen.js';
import { readBodyItems } from './body-codec.js';
import { datagramHeaderBytes, datagramSizeMaxBytes, protocolVersion } from './constants.js';
import { codecOf, type DecodeResult, decodeDatagram, encodeDatagram, packetCodecs } from './datagram.js';
import { bodyArray, bodyDecoder, decodeArrayBody, msgpackEncode } from './schema.js';

/** The general codec's encoding: the library's msgpack of `bodyArray`. */
function referenceEncode(p: { readonly type: number }): Uint8Array {
  const codec = codecOf(p.type)!;
  const body = msgpackEncode(bodyArray(codec.name, codec.fields, p as unknown as Record<string, unknown>));
  const out = new Uint8Array(datagramHeaderBytes + body.length);
  out[0] = protocolVersion;
  out[1] = codec.type;
  out.set(body, datagramHeaderBytes);
  return out;
}

/** The general codec's decoding: the library for every body. */
function referenceDecode(bytes: Uint8Array): DecodeResult {
  if (bytes.length < 3) return { ok: false, code: 'tooShort' };
  if (bytes.length > datagramSizeMaxBytes) return { ok: false, code: 'tooLarge' };
  if (bytes[0] !== protocolVersion) return { ok: false, code: 'badVersion' };
  const codec = codecOf(bytes[1]!);
  if (codec === undefined) return { ok: false, code: 'unknownType' };
  const r = decodeArrayBody(new Uint8Array(bytes.subarray(datagramHeaderBytes)), codec.fields);
  if (!r.ok) return r;
  const packet = r.fields as Record<string, unknown> & { type: number };
  packet.type = codec.type;
  const bad = codec.refine?.(packet) ?? null;
  if (bad !== null) return { ok: false, code: 'badField', field: bad };
  return { ok: true, packet: packet as never };
}

function mutate(valid: Uint8Array, rng: SeededRng): Uint8Array {
  const b = valid.slice();
  switch (rng.int(6)) {
    case 0:
      b[2 + rng.int(b.length - 2)]! ^= 1 << rng.int(8);
      return b;
    case 1:
      return b.slice(0, rng.int(b.length));
    case 2: {
      const out = new Uint8Array(b.length + 1 + rng.int(8));
      out.set(b);
      return out;
    }
    case 3:
      b[2 + rng.int(b.length - 2)] = rng.int(256);
      return b;
    case 4:
      b[2 + rng.int(b.length - 2)] = [0xc0, 0xc2, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xdc, 0xa1, 0x81][
        rng.int(12)
      ]!;
      return b;
    default: {
      // A non-canonical but valid re-encoding: the first small integer widened to uint16.
      for (let i = 3; i < b.length; i++) {
        if (b[i]! < 0x80) {
          const out = new Uint8Array(b.length + 2);
          out.set(b.subarray(0, i));
          out[i] = 0xcd;
          out[i + 1] = 0;
          out[i + 2] = b[i]!;
          out.set(b.subarray(i + 1), i + 3);
          return out;
        }
      }
      return b;
    }
  }
}

describe('body codec fast path', () => {
  it('encodes exactly the bytes of the general codec, for every packet type', () => {
    const rng = new SeededRng('body-codec').fork('encode');
    for (let i = 0; i < 20_000; i++) {
      const p = randomPacket(packetCodecs[i % packetCodecs.length]!, rng);
      const want = referenceEncode(p);
      const got = encodeDatagram(p);
      if (Buffer.compare(got, want) !== 0) {
        throw new Error(
          `type ${p.type}: ${Buffer.from(got).toString('hex')} != ${Buffer.from(want).toString('hex')}`,
        );
      }
    }
  });

  it('reads exactly what the library reads, and declines what it cannot read the same way', () => {
    const rng = new SeededRng('body-codec').fork('decode');
    const pool = Array.from({ length: 400 }, (_, i) =>
      encodeDatagram(randomPacket(packetCodecs[i % packetCodecs.length]!, rng)),
    );
    let fast = 0;
    for (let i = 0; i < 8_000; i++) {
      const valid = pool[rng.int(pool.length)]!;
      const bytes = i % 4 === 0 ? valid : mutate(valid, rng);
      expect(decodeDatagram(bytes)).toEqual(referenceDecode(bytes));
      const codec = codecOf(bytes[1]!);
      if (codec !== undefined && bytes.length > 2) {
        const body = bytes.subarray(2);
        const items = readBodyItems(body, codec.fields.length);
        if (items !== undefined) {
          fast++;
          expect(items).toEqual(bodyDecoder.decode(body));
        }
      }
    }
    expect(fast).toBeGreaterThan(2_000);
  });

  it('throws the general codec’s RangeError for an invalid field', () => {
    const rng = new SeededRng('body-codec').fork('invalid');
    const p = randomPacket(codecOf(27)!, rng) as unknown as Record<string, unknown>;
    expect(() => encodeDatagram({ ...p, pingId: -1 } as never)).toThrow('Ping.pingId: outside 0..4294967295');
    expect(() => encodeDatagram({ ...p, linkMac: null } as never)).toThrow(
      'Ping.linkMac: required field is null',
    );
  });
});
