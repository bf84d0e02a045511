import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  datagramSizeMaxBytes,
  dmpCiphertextMaxBytes,
  encodeDatagram,
  PacketType,
  packetCounterMax,
} from '../wire/index.js';
import {
  messageChunkMaxBytes,
  messagePartCountMax,
  messagePlaintextMaxBytes,
  messageSizeMaxBytes,
  selectiveAckCounters,
} from './config.js';
import {
  chunkOf,
  decodePartPlaintext,
  decodeStartPlaintext,
  encodePartPlaintext,
  encodeStartPlaintext,
  partCountOf,
} from './plaintext.js';
import { ackCovers, ReceiveWindow } from './window.js';

describe('ReceiveWindow', () => {
  it('refuses a repeated counter and one below the window', () => {
    const w = new ReceiveWindow(64);
    expect(w.check(0)).toBe('new');
    w.mark(0);
    expect(w.check(0)).toBe('replay');
    w.mark(100);
    expect(w.check(36)).toBe('tooOld');
    expect(w.check(37)).toBe('new');
    expect(w.check(100)).toBe('replay');
    expect(w.check(99)).toBe('new');
  });

  it('acknowledges cumulatively and selectively beyond a hole', () => {
    const w = new ReceiveWindow(1024);
    expect(w.ackFields()).toEqual({ cumulativeAck: null, selectiveAck: new Uint8Array(0) });
    for (const c of [0, 1, 2, 4, 5, 9]) w.mark(c);
    const a = w.ackFields();
    expect(a.cumulativeAck).toBe(2);
    for (let c = 0; c < 12; c++) {
      expect(ackCovers(a.cumulativeAck, a.selectiveAck, c), `counter ${c}`).toBe(
        [0, 1, 2, 4, 5, 9].includes(c),
      );
    }
    w.mark(3);
    expect(w.ackFields().cumulativeAck).toBe(5);
  });

  it('moves past holes the sender released (lost acks) but never past a hole it still waits for', () => {
    const w = new ReceiveWindow(1024);
    w.mark(0);
    w.mark(2); // 1 was the sender's ack, lost
    expect(w.ackFields().cumulativeAck).toBe(0);
    w.release(2);
    expect(w.ackFields().cumulativeAck).toBe(2);
    w.mark(5); // 3 and 4 missing; the sender says it still waits for 4
    w.release(4);
    const a = w.ackFields();
    expect(a.cumulativeAck).toBe(3);
    expect(ackCovers(a.cumulativeAck, a.selectiveAck, 4)).toBe(false);
    expect(ackCovers(a.cumulativeAck, a.selectiveAck, 5)).toBe(true);
  });

  it('the selective bitmap reaches selectiveAckCounters beyond the cumulative ack', () => {
    const w = new ReceiveWindow(1024);
    w.mark(0);
    w.mark(selectiveAckCounters); // bit 255 relative to base 1
    w.mark(selectiveAckCounters + 1); // out of reach
    const a = w.ackFields();
    expect(a.selectiveAck.length).toBe(selectiveAckCounters / 8);
    expect(ackCovers(a.cumulativeAck, a.selectiveAck, selectiveAckCounters)).toBe(true);
    expect(ackCovers(a.cumulativeAck, a.selectiveAck, selectiveAckCounters + 1)).toBe(false);
  });

  it('property: acknowledges exactly what arrived (up to the bitmap reach), never more', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), (counters) => {
        const w = new ReceiveWindow(1024);
        const got = new Set<number>();
        for (const c of counters) {
          if (w.check(c) === 'new') {
            w.mark(c);
            got.add(c);
          } else expect(got.has(c)).toBe(true);
        }
        const a = w.ackFields();
        for (let c = 0; c <= 300; c++) {
          if (ackCovers(a.cumulativeAck, a.selectiveAck, c)) expect(got.has(c)).toBe(true);
          else if (c < (a.cumulativeAck ?? -1) + 1 + selectiveAckCounters) expect(got.has(c)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('message plaintexts', () => {
  it('a full chunk with the largest counters fits the ciphertext and datagram bounds', () => {
    const chunk = new Uint8Array(messageChunkMaxBytes).fill(0xab);
    const start = encodeStartPlaintext({
      ackFloor: packetCounterMax,
      messageId: packetCounterMax,
      partCount: messagePartCountMax,
      chunk,
    });
    const part = encodePartPlaintext({
      ackFloor: packetCounterMax,
      messageId: packetCounterMax,
      partIndex: messagePartCountMax - 1,
      chunk,
    });
    expect(start.length).toBeLessThanOrEqual(messagePlaintextMaxBytes);
    expect(part.length).toBeLessThanOrEqual(messagePlaintextMaxBytes);
    const datagram = encodeDatagram({
      type: PacketType.MessagePart,
      channelToken: 0xffff_ffff,
      packetCounter: packetCounterMax,
      ciphertext: new Uint8Array(dmpCiphertextMaxBytes),
    });
    expect(datagram.length).toBeLessThanOrEqual(datagramSizeMaxBytes);
    expect(decodeStartPlaintext(start)).toEqual({
      ackFloor: packetCounterMax,
      messageId: packetCounterMax,
      partCount: messagePartCountMax,
      chunk,
    });
    expect(decodePartPlaintext(part)?.partIndex).toBe(messagePartCountMax - 1);
  });

  it('a 64 KiB message splits into messagePartCountMax parts that reassemble', () => {
    const m = new Uint8Array(messageSizeMaxBytes).map((_, i) => i & 0xff);
    expect(partCountOf(m.length)).toBe(messagePartCountMax);
    expect(partCountOf(0)).toBe(1);
    const parts = Array.from({ length: messagePartCountMax }, (_, i) => chunkOf(m, i));
    expect(Buffer.concat(parts).equals(Buffer.from(m))).toBe(true);
  });

  it('refuses malformed plaintexts without throwing', () => {
    expect(decodeStartPlaintext(new Uint8Array([0xc1]))).toBeNull();
    expect(
      decodeStartPlaintext(
        encodePartPlaintext({ ackFloor: 0, messageId: 0, partIndex: 1, chunk: new Uint8Array(1) }),
      )?.partCount,
    ).toBe(1);
    expect(
      decodePartPlaintext(
        encodeStartPlaintext({ ackFloor: 0, messageId: 0, partCount: 1, chunk: new Uint8Array(0) }),
      )?.partIndex,
    ).toBe(1);
    // partCount 0 or beyond the bound; partIndex 0
    expect(decodeStartPlaintext(new Uint8Array([0x94, 0, 0, 0, 0xc4, 0]))).toBeNull();
    expect(decodeStartPlaintext(new Uint8Array([0x94, 0, 0, messagePartCountMax + 1, 0xc4, 0]))).toBeNull();
    expect(decodePartPlaintext(new Uint8Array([0x94, 0, 0, 0, 0xc4, 0]))).toBeNull();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeStartPlaintext(bytes);
        decodePartPlaintext(bytes);
      }),
      { numRuns: 500 },
    );
  });
});
