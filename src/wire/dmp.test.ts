/**
 * The direct channel's hand-written framing (dmp.ts: `encodeDmpData`, `decodeDmpData`, `dmpAad`) against
 * the generic codec, and the Relay packet's bounds: every direct-channel datagram fits one Relay payload.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  datagramSizeMaxBytes,
  dmpCiphertextMaxBytes,
  dmpCiphertextMinBytes,
  hopsRemainingMax,
  PacketType,
  packetCounterMax,
  relayOverheadMaxBytes,
  relayPayloadMaxBytes,
  selectiveAckMaxBytes,
  u32Max,
} from './constants.js';
import { decodeDatagram, encodeDatagram } from './datagram.js';
import { decodeDmpData, dmpAad, encodeDmpData, type MessageAck, type MessageStart } from './dmp.js';
import { transcriptLabel } from './labels.js';
import type { Relay } from './relay.js';
import { msgpackEncode } from './schema.js';

const uint = (max: number) =>
  fc.oneof(
    fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, max),
    fc.integer({ min: 0, max: Math.min(max, 0xffff_ffff) }),
    fc.maxSafeNat().map((x) => x % (max + 1)),
  );
const dataType = fc.constantFrom(PacketType.MessageStart, PacketType.MessagePart);
const ciphertext = fc.uint8Array({ minLength: dmpCiphertextMinBytes, maxLength: dmpCiphertextMaxBytes });

describe('direct-channel framing by hand', () => {
  it('encodeDmpData writes exactly what encodeDatagram writes', () => {
    fc.assert(
      fc.property(dataType, uint(u32Max), uint(packetCounterMax), ciphertext, (type, token, counter, ct) => {
        const generic = encodeDatagram({ type, channelToken: token, packetCounter: counter, ciphertext: ct });
        expect(Buffer.from(encodeDmpData(type, token, counter, ct)).equals(Buffer.from(generic))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('decodeDmpData reads what decodeDatagram reads, and nothing decodeDatagram refuses', () => {
    fc.assert(
      fc.property(
        dataType,
        uint(u32Max),
        uint(packetCounterMax),
        ciphertext,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.integer({ min: -3, max: 3 }),
        (type, token, counter, ct, flips, trim) => {
          const bytes = encodeDmpData(type, token, counter, ct);
          // Mutations: a few bytes changed, the datagram cut short or extended.
          let m = bytes.slice();
          for (const [at, v] of flips) m[at % m.length] = v;
          if (trim < 0) m = m.subarray(0, Math.max(0, m.length + trim));
          else if (trim > 0) m = Uint8Array.from([...m, ...new Array(trim).fill(0)]);
          const fast = decodeDmpData(m);
          const slow = decodeDatagram(m);
          if (fast !== null) {
            expect(slow.ok).toBe(true);
            if (slow.ok) expect({ ...fast, ciphertext: fast.ciphertext.slice() }).toEqual(slow.packet);
          }
          if (flips.length === 0 && trim === 0) expect(fast).not.toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('dmpAad is msgpack of [label, type, token, counter (, cumulativeAck, selectiveAck)]', () => {
    fc.assert(
      fc.property(
        uint(u32Max),
        uint(packetCounterMax),
        fc.option(uint(packetCounterMax), { nil: null }),
        fc.uint8Array({ maxLength: selectiveAckMaxBytes }),
        (token, counter, cumulativeAck, selectiveAck) => {
          const data: MessageStart = {
            type: PacketType.MessageStart,
            channelToken: token,
            packetCounter: counter,
            ciphertext: new Uint8Array(17),
          };
          expect(dmpAad(data)).toEqual(msgpackEncode([transcriptLabel.dmpAad, data.type, token, counter]));
          const ack: MessageAck = {
            type: PacketType.MessageAck,
            channelToken: token,
            packetCounter: counter,
            cumulativeAck,
            selectiveAck,
            tag: new Uint8Array(16),
          };
          expect(dmpAad(ack)).toEqual(
            msgpackEncode([transcriptLabel.dmpAad, ack.type, token, counter, cumulativeAck, selectiveAck]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Relay (36)', () => {
  it('the largest direct-channel datagram fits the largest Relay payload, which fits a datagram', () => {
    const largestData = encodeDmpData(
      PacketType.MessageStart,
      u32Max,
      packetCounterMax,
      new Uint8Array(dmpCiphertextMaxBytes),
    );
    expect(largestData.length).toBe(relayPayloadMaxBytes);
    const relay: Relay = {
      type: PacketType.Relay,
      linkToken: u32Max,
      targetRegId: new Uint8Array(32),
      hopsRemaining: hopsRemainingMax,
      payload: largestData,
      linkMac: new Uint8Array(32),
    };
    const bytes = encodeDatagram(relay);
    expect(bytes.length).toBe(datagramSizeMaxBytes);
    expect(bytes.length - largestData.length).toBe(relayOverheadMaxBytes);
    const r = decodeDatagram(bytes);
    expect(r.ok && r.packet.type === PacketType.Relay && r.packet.payload.length).toBe(relayPayloadMaxBytes);
  });

  it('refuses a payload beyond its bound and an empty one', () => {
    const relay = (payload: Uint8Array): Relay => ({
      type: PacketType.Relay,
      linkToken: 1,
      targetRegId: new Uint8Array(32),
      hopsRemaining: 5,
      payload,
      linkMac: new Uint8Array(32),
    });
    expect(() => encodeDatagram(relay(new Uint8Array(relayPayloadMaxBytes + 1)))).toThrow(RangeError);
    expect(() => encodeDatagram(relay(new Uint8Array(0)))).toThrow(RangeError);
  });
});
