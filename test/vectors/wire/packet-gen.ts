/**
 * Packet generators for the wire tests, derived from the schemas themselves (so a new field is
 * covered without touching the tests): fast-check arbitraries for the property tests, and a
 * SeededRng-driven generator for the fuzzer and the golden vectors.
 */
import fc from 'fast-check';
import type { Rng } from '../../../src/seams/rng.js';
import type { PacketCodec } from '../../../src/wire/codec.js';
import type { Packet } from '../../../src/wire/datagram.js';
import type { FieldKind } from '../../../src/wire/schema.js';

// biome-ignore lint/suspicious/noExplicitAny: heterogeneous codec table
type AnyCodec = PacketCodec<any>;

function kindArbitrary(kind: FieldKind): fc.Arbitrary<unknown> {
  switch (kind.t) {
    case 'uint':
      return fc.oneof(
        fc.constantFrom(kind.min, kind.max),
        fc.integer({ min: kind.min, max: Math.min(kind.max, kind.min + 300) }),
        fc.maxSafeNat().map((x) => kind.min + (x % (kind.max - kind.min + 1))),
      );
    case 'mask':
      return fc.integer({ min: 0, max: kind.mask }).map((x) => x & kind.mask);
    case 'bytes':
      return fc.uint8Array({ minLength: kind.min, maxLength: kind.max });
    case 'int8s':
      return fc.int8Array({ minLength: kind.len, maxLength: kind.len });
    case 'endpoint':
      return fc.record({
        ipv4: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        port: fc.integer({ min: 1, max: 0xffff }),
      });
    case 'bytesList':
      return fc.array(fc.uint8Array({ minLength: kind.len, maxLength: kind.len }), {
        maxLength: kind.maxCount,
      });
  }
}

/** Arbitrary valid packets of one type (cross-field rule respected). */
export function packetArbitrary(codec: AnyCodec): fc.Arbitrary<Packet> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of codec.fields) {
    const a = kindArbitrary(f.kind);
    rec[f.name] = f.optional ? fc.option(a, { nil: null, freq: 2 }) : a;
  }
  return fc
    .record(rec)
    .map((r) => ({ type: codec.type, ...r }) as unknown as Packet)
    .filter((p) => (codec.refine?.(p) ?? null) === null);
}

function randomKind(kind: FieldKind, rng: Rng): unknown {
  switch (kind.t) {
    case 'uint': {
      const span = kind.max - kind.min;
      const pick = rng.int(4);
      if (pick === 0) return kind.min;
      if (pick === 1) return kind.max;
      if (span < 0x1_0000_0000) return kind.min + rng.int(span + 1);
      return kind.min + Math.floor(rng.float() * span);
    }
    case 'mask':
      return rng.uint32() & kind.mask;
    case 'bytes': {
      const pick = rng.int(3);
      const len = pick === 0 ? kind.min : pick === 1 ? kind.max : kind.min + rng.int(kind.max - kind.min + 1);
      return rng.bytes(len);
    }
    case 'int8s': {
      const b = rng.bytes(kind.len);
      return new Int8Array(b.buffer, b.byteOffset, b.length);
    }
    case 'endpoint':
      return { ipv4: rng.bytes(4), port: 1 + rng.int(0xffff) };
    case 'bytesList': {
      const n = rng.int(kind.maxCount + 1);
      return Array.from({ length: n }, () => rng.bytes(kind.len));
    }
  }
}

/** Attempts to satisfy a packet's cross-field rule by redrawing optional fields. */
const refineAttemptsMax = 256;

/** A random valid packet of one type, drawn from `rng`. */
export function randomPacket(codec: AnyCodec, rng: Rng): Packet {
  for (let attempt = 0; attempt < refineAttemptsMax; attempt++) {
    const p: Record<string, unknown> = { type: codec.type };
    for (const f of codec.fields) {
      p[f.name] = f.optional && rng.int(2) === 0 ? null : randomKind(f.kind, rng);
    }
    const packet = p as unknown as Packet;
    if ((codec.refine?.(packet) ?? null) === null) return packet;
  }
  throw new Error(`randomPacket: could not satisfy ${codec.name}'s cross-field rule`);
}
