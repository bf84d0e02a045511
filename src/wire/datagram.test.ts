import { createHmac } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import { packetArbitrary, randomPacket } from '../../test/vectors/wire/packet-gen.js';
import { datagramSizeMaxBytes, PacketType, protocolVersion } from './constants.js';
import { codecOf, decodeDatagram, encodeDatagram, type Packet, packetCodecs } from './datagram.js';
import { macCoveredBytes, macOf, macPlaceholder, sealDatagram } from './mac.js';
import { decodeLinkParams, encodeLinkParams, type RegisterReq } from './register.js';

function frame(type: number, body: unknown): Uint8Array {
  const b = encode(body);
  const out = new Uint8Array(2 + b.length);
  out[0] = protocolVersion;
  out[1] = type;
  out.set(b, 2);
  return out;
}

const rng = new SeededRng('wire-unit');
const validReq = (): RegisterReq => {
  const p = randomPacket(codecOf(PacketType.RegisterReq)!, rng.fork('req')) as RegisterReq;
  return p;
};

describe('round trip', () => {
  for (const codec of packetCodecs) {
    it(`${codec.name} (${codec.type}) decodes to what was encoded, byte-stable`, () => {
      fc.assert(
        fc.property(packetArbitrary(codec), (p) => {
          const bytes = encodeDatagram(p);
          expect(bytes.length).toBeLessThanOrEqual(datagramSizeMaxBytes);
          const r = decodeDatagram(bytes);
          if (!r.ok) throw new Error(`decode failed: ${r.code} ${r.field ?? ''}`);
          expect(r.packet).toEqual(p);
          expect(encodeDatagram(r.packet)).toEqual(bytes);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('covers every PacketType', () => {
    const types = new Set(packetCodecs.map((c) => c.type));
    for (const t of Object.values(PacketType)) expect(types.has(t)).toBe(true);
    expect(types.size).toBe(Object.values(PacketType).length);
  });

  it('the largest instance of every type fits a datagram', () => {
    const linkFields = new Set(['linkToken', 'linkMac']);
    for (const codec of packetCodecs) {
      const max: Record<string, unknown> = { type: codec.type };
      for (const f of codec.fields) {
        const k = f.kind;
        if (k.t === 'uint') max[f.name] = k.max;
        else if (k.t === 'mask') max[f.name] = k.mask;
        else if (k.t === 'bytes') max[f.name] = new Uint8Array(k.max).fill(0xff);
        else if (k.t === 'int8s') max[f.name] = new Int8Array(k.len);
        else if (k.t === 'endpoint') max[f.name] = { ipv4: new Uint8Array(4), port: 65535 };
        else max[f.name] = Array.from({ length: k.maxCount }, () => new Uint8Array(k.len));
      }
      // Variants: everything present; link mode with other optionals nil; entry mode with them present.
      const variants = [
        max,
        Object.fromEntries(
          Object.entries(max).map(([k, v]) => [
            k,
            codec.fields.some((f) => f.name === k && f.optional && !linkFields.has(k)) ? null : v,
          ]),
        ),
        {
          ...max,
          ...(codec.fields.find((f) => f.name === 'linkToken')?.optional
            ? { linkToken: null, linkMac: null }
            : {}),
        },
      ];
      let fitted = 0;
      for (const v of variants) {
        const packet = v as unknown as Packet;
        if ((codec.refine?.(packet) ?? null) !== null) continue;
        const bytes = encodeDatagram(packet);
        expect(bytes.length, codec.name).toBeLessThanOrEqual(datagramSizeMaxBytes);
        expect(decodeDatagram(bytes).ok, codec.name).toBe(true);
        fitted++;
      }
      expect(fitted, codec.name).toBeGreaterThan(0);
    }
  });
});

describe('decode error codes', () => {
  it('tooShort, tooLarge, badVersion, unknownType', () => {
    expect(decodeDatagram(new Uint8Array([1, 21]))).toMatchObject({ ok: false, code: 'tooShort' });
    expect(decodeDatagram(new Uint8Array(1201).fill(1))).toMatchObject({ ok: false, code: 'tooLarge' });
    const good = encodeDatagram(validReq());
    const v = good.slice();
    v[0] = 2;
    expect(decodeDatagram(v)).toMatchObject({ ok: false, code: 'badVersion' });
    const t = good.slice();
    t[1] = 99;
    expect(decodeDatagram(t)).toMatchObject({ ok: false, code: 'unknownType' });
  });

  it('badBody: truncated, a string, a map, an extension, not an array', () => {
    const good = encodeDatagram(validReq());
    expect(decodeDatagram(good.subarray(0, good.length - 5))).toMatchObject({ ok: false, code: 'badBody' });
    expect(decodeDatagram(frame(21, [7, 'nonce-as-string-x', 9]))).toMatchObject({
      ok: false,
      code: 'badBody',
    });
    expect(decodeDatagram(frame(21, [7, { a: 1 }, 9]))).toMatchObject({ ok: false, code: 'badBody' });
    expect(decodeDatagram(frame(21, [7, new Date(0), 9]))).toMatchObject({ ok: false, code: 'badBody' });
    expect(decodeDatagram(frame(21, 5))).toMatchObject({ ok: false, code: 'badBody' });
  });

  it('badShape: wrong item count, array16 header', () => {
    expect(decodeDatagram(frame(21, [7, new Uint8Array(16)]))).toMatchObject({ ok: false, code: 'badShape' });
    expect(decodeDatagram(frame(21, [7, new Uint8Array(16), 9, 10]))).toMatchObject({
      ok: false,
      code: 'badShape',
    });
    const a16 = new Uint8Array([1, 21, 0xdc, 0, 3, 7, 0xc4, 16, ...new Uint8Array(16), 9]);
    expect(decodeDatagram(a16)).toMatchObject({ ok: false, code: 'badShape' });
  });

  it('badField names the field', () => {
    expect(decodeDatagram(frame(21, [7, new Uint8Array(15), 9]))).toEqual({
      ok: false,
      code: 'badField',
      field: 'nonce',
    });
    expect(decodeDatagram(frame(21, [-1, new Uint8Array(16), 9]))).toEqual({
      ok: false,
      code: 'badField',
      field: 'timestampS',
    });
    expect(decodeDatagram(frame(21, [2 ** 32, new Uint8Array(16), 9]))).toMatchObject({
      field: 'timestampS',
    });
    expect(decodeDatagram(frame(21, [1.5, new Uint8Array(16), 9]))).toMatchObject({ field: 'timestampS' });
    expect(decodeDatagram(frame(21, [1, new Uint8Array(16), null]))).toMatchObject({ field: 'requestId' });
    expect(decodeDatagram(frame(71, [1, new Uint8Array([1, 2, 3, 4, 0, 0])]))).toMatchObject({
      field: 'requesterEndpoint',
    });
    // Cross-field rule: status ok without a challenge.
    expect(decodeDatagram(frame(22, [1, 0, null]))).toEqual({
      ok: false,
      code: 'badField',
      field: 'pow2Challenge',
    });
    expect(decodeDatagram(frame(22, [1, 1, new Uint8Array(16)]))).toMatchObject({ field: 'pow2Challenge' });
    expect(decodeDatagram(frame(22, [1, 1, null])).ok).toBe(true);
  });

  it('trailingBytes', () => {
    const good = encodeDatagram(validReq());
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(decodeDatagram(longer)).toMatchObject({ ok: false, code: 'trailingBytes' });
  });

  it('decoded fields do not alias the input buffer', () => {
    const good = encodeDatagram(validReq());
    const r = decodeDatagram(good);
    if (!r.ok || r.packet.type !== PacketType.RegisterReq) throw new Error('decode failed');
    const before = r.packet.requesterRegId.slice();
    good.fill(0);
    expect(r.packet.requesterRegId).toEqual(before);
  });

  it('accepts a Node Buffer and yields plain Uint8Arrays', () => {
    const good = Buffer.from(encodeDatagram(validReq()));
    const r = decodeDatagram(good);
    if (!r.ok || r.packet.type !== PacketType.RegisterReq) throw new Error('decode failed');
    expect(Buffer.isBuffer(r.packet.requesterRegId)).toBe(false);
  });
});

describe('encode rejects invalid packets with a RangeError naming the field', () => {
  it('field-level violations', () => {
    const p = validReq();
    expect(() => encodeDatagram({ ...p, requesterRegId: new Uint8Array(31) })).toThrow(
      /RegisterReq\.requesterRegId/,
    );
    expect(() => encodeDatagram({ ...p, hopsRemaining: 31 })).toThrow(/RegisterReq\.hopsRemaining/);
    expect(() => encodeDatagram({ ...p, randomHopsRemaining: 10 })).toThrow(RangeError);
    expect(() => encodeDatagram({ ...p, busySectors: 0x200 })).toThrow(/busySectors/);
    expect(() => encodeDatagram({ ...p, timestampMs: 1.5 })).toThrow(/timestampMs/);
    expect(() => encodeDatagram({ ...p, epEndpoint: { ipv4: new Uint8Array(4), port: 0 } })).toThrow(
      /epEndpoint/,
    );
    expect(() => encodeDatagram({ ...p, seq: -1 })).toThrow(/seq/);
  });

  it('cross-field violations', () => {
    const entry: RegisterReq = {
      ...validReq(),
      linkToken: null,
      linkMac: null,
      pow2Nonce: new Uint8Array(16),
    };
    expect(encodeDatagram(entry).length).toBeGreaterThan(0);
    expect(() => encodeDatagram({ ...entry, pow2Nonce: null })).toThrow(/pow2Nonce/);
    expect(() => encodeDatagram({ ...entry, linkToken: 5 })).toThrow(/linkMac/);
    expect(() =>
      encodeDatagram({ ...entry, linkToken: 5, linkMac: new Uint8Array(32), pow2Nonce: new Uint8Array(16) }),
    ).toThrow(/pow2Nonce/);
  });

  it('unknown type', () => {
    expect(() => encodeDatagram({ type: 99 } as unknown as Packet)).toThrow(RangeError);
  });
});

describe('MAC trailer', () => {
  const key = new Uint8Array(32).fill(7);
  const hmac = (data: Uint8Array) => new Uint8Array(createHmac('sha256', key).update(data).digest());
  const macTypes = packetCodecs.filter(
    (c) => c.fields.at(-1)?.name === 'linkMac' || c.fields.at(-1)?.name === 'mac',
  );

  it('covers the whole datagram except the last 32 bytes, which are the MAC', () => {
    const r = rng.fork('mac');
    for (const codec of macTypes) {
      for (let i = 0; i < 20; i++) {
        let p = randomPacket(codec, r);
        if (macOf(p) === null) continue;
        p = { ...p, ...(codec.type >= 50 ? { mac: macPlaceholder } : { linkMac: macPlaceholder }) } as Packet;
        const sealed = sealDatagram(p, hmac);
        const d = decodeDatagram(sealed);
        if (!d.ok) throw new Error(`${codec.name}: ${d.code}`);
        const mac = macOf(d.packet)!;
        expect(mac).toEqual(sealed.subarray(sealed.length - 32));
        expect(hmac(macCoveredBytes(sealed))).toEqual(mac);
        expect(macCoveredBytes(sealed).length).toBe(sealed.length - 32);
        // Any single flipped byte breaks decoding or the MAC.
        const at = r.int(sealed.length);
        const bad = sealed.slice();
        bad[at] = bad[at]! ^ (1 + r.int(255));
        const d2 = decodeDatagram(bad);
        if (d2.ok) {
          const m2 = macOf(d2.packet);
          expect(m2 === null || !hmac(macCoveredBytes(bad)).every((b, j) => b === m2[j])).toBe(true);
        }
      }
    }
  });

  it('sealDatagram refuses packets without a MAC', () => {
    const entry: RegisterReq = {
      ...validReq(),
      linkToken: null,
      linkMac: null,
      pow2Nonce: new Uint8Array(16),
    };
    expect(() => sealDatagram(entry, hmac)).toThrow(RangeError);
  });
});

describe('link parameters', () => {
  it('round-trips and rejects garbage without throwing', () => {
    const lp = {
      endpoint: { ipv4: Uint8Array.of(203, 0, 113, 9), port: 42777 },
      linkToken: 0xdeadbeef,
      natFlags: 5,
    };
    const b = encodeLinkParams(lp);
    expect(decodeLinkParams(b)).toEqual({ ok: true, value: lp });
    expect(decodeLinkParams(b.subarray(0, 3)).ok).toBe(false);
    expect(decodeLinkParams(new Uint8Array(100))).toMatchObject({ ok: false, code: 'tooLarge' });
    expect(() => encodeLinkParams({ ...lp, natFlags: 8 })).toThrow(/natFlags/);
    const r = rng.fork('lp');
    for (let i = 0; i < 2000; i++) {
      const res = decodeLinkParams(r.bytes(r.int(40)));
      expect(typeof res.ok).toBe('boolean');
    }
  });
});
