import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../sim/kernel/rng.js';
import {
  type InviteFlow,
  inviteChecks,
  inviteFlow,
  type RegisterFlow,
  registerChecks,
  registerFlow,
} from '../../test/vectors/wire/flows.js';
import { nodeCrypto } from '../crypto/index.js';
import { decodeDatagram, encodeDatagram, type Packet } from './datagram.js';
import { bytesEqual } from './schema.js';

const verify = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => nodeCrypto.ed25519Verify(pub, msg, sig);

function allVerify(checks: [string, Uint8Array, Uint8Array, Uint8Array][]): boolean {
  return checks.every(([, pub, msg, sig]) => verify(pub, msg, sig));
}

function fieldEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  if (a instanceof Int8Array && b instanceof Int8Array)
    return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const x = a as { ipv4: Uint8Array; port: number };
    const y = b as { ipv4: Uint8Array; port: number };
    return x.port === y.port && bytesEqual(x.ipv4, y.ipv4);
  }
  return a === b;
}

/**
 * Flips every byte of the packet's datagram in turn. Whenever the result still decodes, the flow's
 * signatures must verify exactly when only per-hop (unsigned) fields changed.
 */
function flipEveryByte<F>(
  flow: F,
  key: keyof F & string,
  perHop: readonly string[],
  checks: (f: F) => [string, Uint8Array, Uint8Array, Uint8Array][],
): { signedChanges: number; perHopChanges: number } {
  const original = flow[key] as unknown as Packet;
  const bytes = encodeDatagram(original);
  let signedChanges = 0;
  let perHopChanges = 0;
  for (let at = 2; at < bytes.length; at++) {
    for (const flip of [0x01, 0x80]) {
      const b = bytes.slice();
      b[at] = b[at]! ^ flip;
      const r = decodeDatagram(b);
      if (!r.ok) continue;
      const changed = Object.keys(original).filter(
        (k) =>
          !fieldEqual(
            (original as unknown as Record<string, unknown>)[k],
            (r.packet as unknown as Record<string, unknown>)[k],
          ),
      );
      const ok = allVerify(checks({ ...flow, [key]: r.packet }));
      const signedChanged = changed.some((k) => !perHop.includes(k));
      if (signedChanged) signedChanges++;
      else perHopChanges++;
      expect(ok, `${key} byte ${at} ^${flip} changed [${changed.join(', ')}]`).toBe(!signedChanged);
    }
  }
  return { signedChanges, perHopChanges };
}

describe('signatures cover exactly the documented fields', () => {
  const rng = new SeededRng('wire-signatures');

  for (const entry of [false, true]) {
    it(`REGISTER (${entry ? 'entry mode' : 'link mode'}): every signature verifies; any signed byte changed fails`, () => {
      const flow = registerFlow(rng.fork(`register-${entry}`), entry);
      expect(allVerify(registerChecks(flow))).toBe(true);
      const perHop = [
        'linkToken',
        'linkMac',
        'seq',
        'hopsRemaining',
        'randomHopsRemaining',
        'pow2Nonce',
        'requesterEndpoint',
      ];
      // The CFM's regID/timestamp only locate the transaction; N verifies against its own transcript.
      const cfmPerHop = [...perHop, 'requesterRegId', 'timestampMs'];
      for (const [key, unsigned] of [
        ['req', perHop],
        ['ack1', perHop],
        ['ack2', perHop],
        ['cfm', cfmPerHop],
      ] as const) {
        const r = flipEveryByte<RegisterFlow>(flow, key, unsigned, registerChecks);
        expect(r.signedChanges, key).toBeGreaterThan(100);
      }
    });
  }

  for (const withToken of [false, true]) {
    it(`INVITE (${withToken ? 'with' : 'without'} contact token): any signed byte changed fails`, () => {
      const flow = inviteFlow(rng.fork(`invite-${withToken}`), withToken);
      expect(allVerify(inviteChecks(flow))).toBe(true);
      const perHop = ['linkToken', 'linkMac', 'seq', 'hopsRemaining', 'exploreHopsRemaining'];
      for (const key of ['req', 'ack1', 'ack2', 'cfm'] as const) {
        const r = flipEveryByte<InviteFlow>(flow, key, perHop, inviteChecks);
        expect(r.signedChanges, key).toBeGreaterThan(50);
        expect(r.perHopChanges, key).toBeGreaterThan(0);
      }
    });
  }

  it('signature labels separate purposes: a REQ signature does not verify as an INVITE one', () => {
    const reg = registerFlow(rng.fork('cross'), false);
    const inv = inviteFlow(rng.fork('cross2'), false);
    const [, pub, , sig] = registerChecks(reg)[0]!;
    const [, , inviteMsg] = inviteChecks(inv)[0]!;
    expect(verify(pub, inviteMsg, sig)).toBe(false);
  });
});
