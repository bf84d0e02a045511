/**
 * Wire benchmark: what an entry peer and a receive path spend per datagram.
 *
 * - pow1VerifyPerSec vs sha256PerSec: PoW1 verification (src/pow) against a raw node:crypto SHA-256
 *   of the same 24-byte input in the same run; the ratio shows the verifier's overhead over the hash.
 * - garbageRejectPerSec: 1,200-byte datagrams with a valid version and type byte followed by random
 *   bytes (a flood an attacker can send for free). garbageDeepRejectPerSec additionally carries the
 *   right array header, so msgpack itself runs before the schema rejects.
 * - decodeValidPerSec (REGISTER request over a link) vs msgpackDecodeRawPerSec (plain
 *   @msgpack/msgpack decode of the same body, no validation): the schema's cost.
 */
import { createHash, hash } from 'node:crypto';
import { decode } from '@msgpack/msgpack';
import { SeededRng } from '../sim/kernel/rng.js';
import { verifyPow1 } from '../src/pow/pow.js';
import {
  codecOf,
  datagramSizeMaxBytes,
  decodeDatagram,
  encodeDatagram,
  PacketType,
  packetCodecs,
  protocolVersion,
  type RegisterReq,
} from '../src/wire/index.js';
import { type BenchFigures, type BenchOptions, opsPerSec, round3 } from './lib.js';

const poolSize = 1000;

export async function run(_opts: BenchOptions): Promise<BenchFigures> {
  const rng = new SeededRng('bench-wire');

  // PoW1: the same 24-byte input shape (timestampS ‖ IPv4 ‖ nonce) for both.
  const ipv4 = Uint8Array.of(203, 0, 113, 7);
  const nonces = Array.from({ length: poolSize }, () => rng.bytes(16));
  const inputs = nonces.map((n) => {
    const b = new Uint8Array(24);
    b.set([0x68, 0x9a, 0x1b, 0x2c], 0);
    b.set(ipv4, 4);
    b.set(n, 8);
    return b;
  });
  const timestampS = 0x689a1b2c;
  let i = 0;
  let sink = 0;
  const pow1VerifyPerSec = opsPerSec(() => {
    if (verifyPow1(timestampS, ipv4, nonces[i++ % poolSize]!, 15)) sink++;
  });
  const sha256PerSec = opsPerSec(() => {
    sink += createHash('sha256')
      .update(inputs[i++ % poolSize]!)
      .digest()[0]!;
  });
  const sha256OneShotPerSec = opsPerSec(() => {
    sink += hash('sha256', inputs[i++ % poolSize]!, 'buffer')[0]!;
  });

  // Garbage: valid header, random rest.
  const garbage = Array.from({ length: poolSize }, () => {
    const b = rng.bytes(datagramSizeMaxBytes);
    b[0] = protocolVersion;
    b[1] = packetCodecs[rng.int(packetCodecs.length)]!.type;
    return b;
  });
  const deepGarbage = garbage.map((g) => {
    const b = g.slice();
    b[2] = 0x90 | codecOf(b[1]!)!.fields.length;
    return b;
  });
  let rejected = 0;
  const garbageRejectPerSec = opsPerSec(() => {
    if (!decodeDatagram(garbage[i++ % poolSize]!).ok) rejected++;
  });
  const garbageDeepRejectPerSec = opsPerSec(() => {
    if (!decodeDatagram(deepGarbage[i++ % poolSize]!).ok) rejected++;
  });

  // A REGISTER request as a proxy receives it over a link.
  const req: RegisterReq = {
    type: PacketType.RegisterReq,
    linkToken: rng.uint32(),
    requesterRegId: rng.bytes(32),
    requesterEphemeralKey: rng.bytes(32),
    timestampMs: 1_760_000_000_000,
    busySectors: 0x1a5,
    requesterFlags: 0,
    directionVector: null,
    epEndpoint: { ipv4, port: 42777 },
    requesterSignature: rng.bytes(64),
    pow2Nonce: null,
    hopsRemaining: 27,
    randomHopsRemaining: 3,
    seq: rng.uint32(),
    linkMac: rng.bytes(32),
  };
  const reqBytes = encodeDatagram(req);
  const reqBody = reqBytes.subarray(2);
  const decodeValidPerSec = opsPerSec(() => {
    if (decodeDatagram(reqBytes).ok) sink++;
  });
  const msgpackDecodeRawPerSec = opsPerSec(() => {
    if (decode(reqBody) !== null) sink++;
  });
  const encodeValidPerSec = opsPerSec(() => {
    sink += encodeDatagram(req).length;
  });

  if (sink < 0 || rejected < 0) throw new Error('unreachable');
  return {
    pow1VerifyPerSec: round3(pow1VerifyPerSec),
    sha256PerSec: round3(sha256PerSec),
    pow1VsSha256: round3(pow1VerifyPerSec / sha256PerSec),
    sha256OneShotPerSec: round3(sha256OneShotPerSec),
    garbageRejectPerSec: round3(garbageRejectPerSec),
    garbageDeepRejectPerSec: round3(garbageDeepRejectPerSec),
    decodeValidPerSec: round3(decodeValidPerSec),
    msgpackDecodeRawPerSec: round3(msgpackDecodeRawPerSec),
    decodeVsMsgpackRaw: round3(decodeValidPerSec / msgpackDecodeRawPerSec),
    encodeValidPerSec: round3(encodeValidPerSec),
    registerReqBytes: reqBytes.length,
  };
}
