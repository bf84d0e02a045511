/**
 * The NAT pair matrix: for every ordered pair of NAT presets (caller, callee), two messenger users who met
 * in person open a channel over the simulated DRP network and exchange a message each way. RFC 4787
 * decides the path: hole punching works unless one side maps per destination (symmetric) and the other
 * filters by address and port (port-restricted or symmetric), and there the channel must come up over
 * the relay instead. Asserted per pair: both messages arrive exactly once, and the path each side's
 * application learned is the one RFC 4787 allows.
 */
import { describe, expect, it } from 'vitest';
import type { HostEvent, HostPath } from '../../src/dmp/host.js';
import { type NatPreset, natPresetNames } from '../network/nat.js';
import { MessengerWorld, makeUserKeys, punchable, type SimUser } from './messenger-world.js';

describe('NAT pair matrix (sim)', () => {
  it('every pair of NAT presets gets a channel: direct where RFC 4787 allows punching, relayed where not', () => {
    const seed = 'nat-matrix';
    const world = new MessengerWorld({ seed, latencyMs: 30 });
    for (let i = 0; i < 6; i++) {
      world.addEntryPeer();
      world.runFor(200);
    }
    world.runFor(3_000);
    const bystanderNats: NatPreset[] = ['open', 'fullCone', 'restricted', 'portRestricted', 'symmetric'];
    for (let i = 0; i < 30; i++) {
      world.addUser({ name: `U${i}`, nat: bystanderNats[i % bystanderNats.length]! });
      world.runFor(150);
    }
    const keyRng = world.kernel.rng.fork('test/keys');
    const pairs: { caller: SimUser; callee: SimUser; a: NatPreset; b: NatPreset }[] = [];
    for (const a of natPresetNames) {
      for (const b of natPresetNames) {
        const ka = makeUserKeys(world.crypto, keyRng, world.now());
        const kb = makeUserKeys(world.crypto, keyRng, world.now());
        const caller = world.addUser({ name: `${a}>${b}:A`, nat: a, keys: ka });
        const callee = world.addUser({ name: `${a}>${b}:B`, nat: b, keys: kb });
        caller.host!.addContact(kb.identity, kb.regId);
        callee.host!.addContact(ka.identity, ka.regId);
        pairs.push({ caller, callee, a, b });
        world.runFor(150);
      }
    }
    world.runUntil(() => world.users.every((u) => u.neighbours >= 4), 120_000);

    const got = new Map<SimUser, { text: string; path: HostPath }[]>();
    const paths = new Map<SimUser, HostPath[]>();
    world.onHostEvent((user, e: HostEvent) => {
      if (e.type === 'message') {
        const list = got.get(user) ?? [];
        list.push({ text: new TextDecoder().decode(e.bytes), path: e.path });
        got.set(user, list);
      } else if (e.type === 'path') {
        const list = paths.get(user) ?? [];
        list.push(e.path);
        paths.set(user, list);
      }
    });
    for (const p of pairs) {
      p.caller.act((h, now) => h.send(now, p.callee.keys!.regId, `hello from ${p.a}`));
    }
    world.runFor(30_000);
    for (const p of pairs) {
      p.callee.act((h, now) => h.send(now, p.caller.keys!.regId, `hello from ${p.b}`));
    }
    world.runFor(30_000);

    const rows: string[] = [];
    for (const p of pairs) {
      const want: HostPath = punchable(p.a, p.b) ? 'direct' : 'relayed';
      const atCallee = got.get(p.callee) ?? [];
      const atCaller = got.get(p.caller) ?? [];
      const ok =
        atCallee.length === 1 &&
        atCaller.length === 1 &&
        atCallee[0]!.path === want &&
        atCaller[0]!.path === want &&
        p.caller.host!.pathTo(p.callee.keys!.regId) === want &&
        p.callee.host!.pathTo(p.caller.keys!.regId) === want;
      rows.push(
        `${ok ? 'ok  ' : 'FAIL'} ${p.a.padEnd(14)} → ${p.b.padEnd(14)} want ${want.padEnd(7)} ` +
          `callee got ${atCallee.map((m) => m.path).join(',') || '-'}, caller got ${atCaller.map((m) => m.path).join(',') || '-'}; ` +
          `paths caller ${(paths.get(p.caller) ?? []).join('>')} callee ${(paths.get(p.callee) ?? []).join('>')}` +
          (ok
            ? ''
            : `\n    caller (${p.caller.neighbours} neighbours): ${p.caller.host!.historyOf(p.callee.keys!.regId).join('\n      ')}` +
              `\n    callee (${p.callee.neighbours} neighbours): ${p.callee.host!.historyOf(p.caller.keys!.regId).join('\n      ')}`),
      );
    }
    const why = `seed ${seed}\n${rows.join('\n')}`;
    expect(
      rows.filter((r) => r.startsWith('FAIL')),
      why,
    ).toEqual([]);
    // Relayed datagrams travelled as Relay packets between DRP neighbours.
    const relayed = pairs.filter((p) => !punchable(p.a, p.b));
    expect(relayed.length).toBe(3);
    for (const p of relayed) expect(p.caller.attachment!.stats.relayedOut, why).toBeGreaterThan(0);
  }, 120_000);
});
