/**
 * Tester 3 as separate processes on real UDP, so several machines (or network namespaces) form one
 * network: `entry` processes run entry peers on fixed ports, `user` processes run users that register
 * through them and INVITE each other, `churn` processes run temporary peers that keep joining and
 * leaving. Each process reports what it saw; a user process exits 1 if fewer than 99% of its INVITEs
 * were delivered.
 */

import { Interrupt } from '../sim/cli/args.js';
import type { Endpoint } from '../src/seams/transport.js';
import { InviteCampaign } from './invites.js';
import { deliveryFigures, neighbourFigures, summaryTable, type TesterReport } from './report.js';
import { entryPeerConfig } from './tester2.js';
import { type TesterNode, UdpWorld } from './world.js';

export interface RoleOptions {
  readonly role: 'entry' | 'user' | 'churn';
  readonly listen: Endpoint;
  readonly entries: readonly Endpoint[];
  readonly peers: number;
  readonly minutes: number;
  readonly json: boolean;
  readonly out: (line: string) => void;
}

const statusEveryMs = 10_000;
const warmupMaxMs = 60_000;
const churnPeriodMs = 5_000;
const invitesPerSec = 2;
const deliveredRatioMin = 0.99;

export async function runRole(o: RoleOptions): Promise<void> {
  const world = new UdpWorld({ seed: 'udp', address: o.listen.address });
  const interrupt = new Interrupt();
  const started = Date.now();
  const endAt = started + o.minutes * 60_000;
  const nodes: TesterNode[] = [];
  const answer = (): Uint8Array => new TextEncoder().encode('ok');
  const portFor = (i: number): number | undefined => (o.listen.port === 0 ? undefined : o.listen.port + i);
  const status = (): string => {
    const counts = nodes.filter((n) => !n.stopped).map((n) => n.peer?.usableLinks().length ?? 0);
    const range = counts.length === 0 ? 'none' : `${Math.min(...counts)}..${Math.max(...counts)}`;
    return `${o.role}: ${counts.length} peers up, neighbours ${range}`;
  };
  try {
    if (o.role === 'entry') {
      for (let i = 0; i < o.peers; i++) {
        const port = portFor(i);
        nodes.push(
          await world.addNode({
            name: `EP${i}@${o.listen.address}`,
            ...(port !== undefined ? { port } : {}),
            entryPeers: [...o.entries, ...nodes.map((n) => n.endpoint)],
            register: o.entries.length > 0 || i > 0,
            config: entryPeerConfig,
          }),
        );
      }
      o.out(
        `entry peers listening: ${nodes.map((n) => `${n.endpoint.address}:${n.endpoint.port}`).join(' ')}`,
      );
      while (Date.now() < endAt && !interrupt.requested) {
        await world.runFor(Math.min(statusEveryMs, endAt - Date.now()));
        if (!o.json) o.out(status());
      }
      return;
    }
    if (o.role === 'churn') {
      let serial = 0;
      const live: TesterNode[] = [];
      while (Date.now() < endAt && !interrupt.requested) {
        if (live.length < o.peers) {
          const n = await world.addNode({
            name: `T${serial}`,
            entryPeers: o.entries,
            register: true,
            onInvite: answer,
          });
          live.push(n);
          nodes.push(n);
        } else if (live.length > 0) {
          await live.shift()!.stop();
        }
        serial++;
        await world.runFor(churnPeriodMs);
        if (!o.json) o.out(status());
      }
      return;
    }
    // Users: join, warm up, then INVITE each other until the end.
    const campaign = new InviteCampaign(world);
    for (let i = 0; i < o.peers; i++) {
      const port = portFor(i);
      nodes.push(
        await world.addNode({
          name: `U${i}@${o.listen.address}`,
          ...(port !== undefined ? { port } : {}),
          entryPeers: o.entries,
          register: true,
          onInvite: answer,
        }),
      );
      await world.runFor(100);
    }
    await world.runUntil(
      () => nodes.every((n) => (n.peer?.usableLinks().length ?? 0) >= 1),
      warmupMaxMs,
      200,
    );
    if (!o.json) o.out(status());
    let lastStatus = Date.now();
    while (Date.now() < endAt && !interrupt.requested) {
      const ready = nodes.filter((n) => (n.peer?.usableLinks().length ?? 0) > 0);
      if (ready.length >= 2) {
        const a = ready[Math.floor(Math.random() * ready.length)]!;
        let b = ready[Math.floor(Math.random() * ready.length)]!;
        if (b === a) b = ready[(ready.indexOf(a) + 1) % ready.length]!;
        campaign.send(a, b);
      }
      await world.runFor(1000 / invitesPerSec);
      if (!o.json && Date.now() - lastStatus >= statusEveryMs) {
        lastStatus = Date.now();
        const s = campaign.stats();
        o.out(`${status()}; INVITEs delivered ${s.delivered}/${s.sent}`);
      }
    }
    await world.runUntil(() => campaign.pending === 0, 30_000, 200);
    const s = campaign.stats();
    const counts = nodes.map((n) => n.peer?.usableLinks().length ?? 0).sort((a, b) => a - b);
    const report: TesterReport = {
      tester: 3,
      transport: 'udp',
      seed: 'udp',
      replay: `drp-tester 3 --role user --listen ${o.listen.address}:${o.listen.port} ${o.entries
        .map((e) => `--entry ${e.address}:${e.port}`)
        .join(' ')} --peers ${o.peers} --minutes ${o.minutes}`,
      peers: o.peers,
      ...deliveryFigures(s),
      ...neighbourFigures(counts),
      painsByLevel: {},
      wallSeconds: (Date.now() - started) / 1000,
      failures:
        s.sent > 0 && s.delivered / s.sent < deliveredRatioMin ? [`delivered ${s.delivered}/${s.sent}`] : [],
      role: 'user',
    };
    if (o.json) o.out(JSON.stringify(report));
    else o.out(summaryTable(report));
    if (report.failures.length > 0) process.exitCode = 1;
  } finally {
    if (interrupt.requested) o.out(`${o.role}: interrupted, stopping`);
    interrupt.dispose();
    await world.close();
  }
}
