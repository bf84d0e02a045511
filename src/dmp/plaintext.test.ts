/** The message plaintexts written by hand (./plaintext.ts) are the bytes the msgpack encoder writes. */
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageChunkMaxBytes, messagePartCountMax } from './config.js';
import {
  decodePartPlaintext,
  decodeStartPlaintext,
  encodePartPlaintext,
  encodeStartPlaintext,
} from './plaintext.js';

const encoder = new Encoder();
const counter = fc.oneof(
  fc.constantFrom(
    0,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0xffff_ffff,
    0x1_0000_0000,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.maxSafeNat(),
);
const chunk = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ minLength: messageChunkMaxBytes - 2, maxLength: messageChunkMaxBytes }),
);

describe('message plaintexts', () => {
  it('encode exactly as msgpack([ackFloor, messageId, partCount | partIndex, chunk]) and decode back', () => {
    fc.assert(
      fc.property(
        counter,
        counter,
        fc.integer({ min: 1, max: messagePartCountMax - 1 }),
        chunk,
        (f, id, n, c) => {
          const start = encodeStartPlaintext({ ackFloor: f, messageId: id, partCount: n, chunk: c });
          expect(start).toEqual(encoder.encode([f, id, n, c]));
          expect(decodeStartPlaintext(start)).toEqual({ ackFloor: f, messageId: id, partCount: n, chunk: c });
          const part = encodePartPlaintext({ ackFloor: f, messageId: id, partIndex: n, chunk: c });
          expect(part).toEqual(encoder.encode([f, id, n, c]));
          expect(decodePartPlaintext(part)).toEqual({ ackFloor: f, messageId: id, partIndex: n, chunk: c });
        },
      ),
      { numRuns: 500 },
    );
  });
});
