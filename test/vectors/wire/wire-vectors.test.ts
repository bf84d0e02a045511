/**
 * Golden byte vectors of the wire format (wire-vectors.json): every packet type, plus complete signed
 * REGISTER and INVITE transcripts with their covered bytes. The test rebuilds each packet from the
 * stored fields and compares the encoding with the stored bytes, decodes the stored bytes back to
 * the fields, and verifies the stored signatures.
 *
 * Regenerate only on a deliberate format change, then review the diff:
 *   WIRE_VECTORS_WRITE=1 npx vitest run test/vectors/wire/wire-vectors.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../sim/kernel/rng.js';
import { nodeCrypto } from '../../../src/crypto/index.js';
import { decodeDatagram, encodeDatagram, type Packet, packetCodecs } from '../../../src/wire/index.js';
import { hex, toHex } from '../hex.js';
import { inviteChecks, inviteFlow, registerChecks, registerFlow } from './flows.js';
import { randomPacket } from './packet-gen.js';

const file = join(dirname(fileURLToPath(import.meta.url)), 'wire-vectors.json');

type Json = null | number | string | Json[] | { [k: string]: Json };

function toJson(v: unknown): Json {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (v instanceof Int8Array) return { int8: Array.from(v) };
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  }
  return v as number | null;
}

function fromJson(j: Json): unknown {
  if (Array.isArray(j)) return j.map(fromJson);
  if (j !== null && typeof j === 'object') {
    if (typeof j.hex === 'string' && Object.keys(j).length === 1) return hex(j.hex);
    if (Array.isArray(j.int8) && Object.keys(j).length === 1) return Int8Array.from(j.int8 as number[]);
    return Object.fromEntries(Object.entries(j).map(([k, x]) => [k, fromJson(x)]));
  }
  return j;
}

interface PacketVector {
  name: string;
  packet: Json;
  hex: string;
}
interface SignatureVector {
  name: string;
  publicKey: string;
  coveredHex: string;
  signature: string;
}
interface VectorFile {
  protocolVersion: number;
  packets: PacketVector[];
  signatures: SignatureVector[];
}

function generate(): VectorFile {
  const rng = new SeededRng('wire-golden-v1');
  const packets: PacketVector[] = [];
  const add = (name: string, p: Packet) =>
    packets.push({ name, packet: toJson(p), hex: toHex(encodeDatagram(p)) });
  for (const codec of packetCodecs) {
    for (let i = 0; i < 2; i++)
      add(`${codec.name}#${i}`, randomPacket(codec, rng.fork(`${codec.name}/${i}`)));
  }
  const signatures: SignatureVector[] = [];
  const registerLink = registerFlow(rng.fork('register-link'), false);
  const registerEntry = registerFlow(rng.fork('register-entry'), true);
  const invite = inviteFlow(rng.fork('invite'), true);
  const flows: [string, readonly Packet[], [string, Uint8Array, Uint8Array, Uint8Array][]][] = [
    [
      'register-link',
      [registerLink.req, registerLink.ack1, registerLink.ack2, registerLink.cfm],
      registerChecks(registerLink),
    ],
    [
      'register-entry',
      [registerEntry.req, registerEntry.ack1, registerEntry.ack2, registerEntry.cfm],
      registerChecks(registerEntry),
    ],
    ['invite', [invite.req, invite.ack1, invite.ack2, invite.cfm], inviteChecks(invite)],
  ];
  for (const [flowName, flowPackets, checks] of flows) {
    const names = ['req', 'ack1', 'ack2', 'cfm'];
    flowPackets.forEach((p, j) => {
      add(`${flowName}/${names[j]}`, p);
    });
    for (const [name, pub, msg, sig] of checks) {
      signatures.push({
        name: `${flowName}/${name}`,
        publicKey: toHex(pub),
        coveredHex: toHex(msg),
        signature: toHex(sig),
      });
    }
  }
  return { protocolVersion: 1, packets, signatures };
}

describe('golden wire vectors', () => {
  if (process.env.WIRE_VECTORS_WRITE === '1') {
    it('writes wire-vectors.json', () => {
      writeFileSync(file, `${JSON.stringify(generate(), null, 1)}\n`);
    });
    return;
  }
  const stored = JSON.parse(readFileSync(file, 'utf8')) as VectorFile;

  it('covers every packet type', () => {
    const types = new Set(stored.packets.map((v) => hex(v.hex)[1]));
    for (const c of packetCodecs) expect(types.has(c.type), c.name).toBe(true);
  });

  it('encodes the stored fields to the stored bytes, and decodes them back', () => {
    for (const v of stored.packets) {
      const packet = fromJson(v.packet) as Packet;
      expect(toHex(encodeDatagram(packet)), v.name).toBe(v.hex);
      const r = decodeDatagram(hex(v.hex));
      if (!r.ok) throw new Error(`${v.name}: ${r.code} ${r.field ?? ''}`);
      expect(r.packet, v.name).toEqual(packet);
    }
  });

  it('stored signatures verify over the stored covered bytes, which the code reproduces', () => {
    const regenerated = generate().signatures;
    expect(regenerated.map((s) => s.coveredHex)).toEqual(stored.signatures.map((s) => s.coveredHex));
    for (const s of stored.signatures) {
      expect(nodeCrypto.ed25519Verify(hex(s.publicKey), hex(s.coveredHex), hex(s.signature)), s.name).toBe(
        true,
      );
    }
  });
});
