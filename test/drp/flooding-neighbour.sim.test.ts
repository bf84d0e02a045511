/**
 * A flooding neighbour: a peer whose link is genuine (keys from a real REGISTER exchange) sends 100
 * REGISTERs (then, in a second run, INVITEs to the other users) per second through it — each one well-formed, signed by its own registration key, with a
 * fresh timestamp and ephemeral key, sealed with the link's MAC — for 40 s, while the other users run
 * an INVITE campaign.
 *
 * It pins: the first hop drops the excess (NPACK rateLimited, `drops.rateLimited`), letting through no
 * more than the link's REGISTER budget (burst + rate × duration); the excess never reaches the hops
 * beyond; the other peers' INVITE delivery stays ≥ 99.5%.
 */
import { describe, expect, it } from 'vitest';
import { drpConfigDefault } from '../../src/drp/config.js';
import { ResultCode } from '../../src/wire/index.js';
import {
  buildNet,
  forgeInviteReq,
  forgeRegisterReq,
  linkBetween,
  NpackTap,
  replayHint,
  runCampaign,
  scenarioSeed,
  sendOnLink,
  usable,
} from './harness.js';

const file = 'test/drp/flooding-neighbour.sim.test.ts';
const floodPerSec = 100;
const floodMs = 40_000;

describe('flooding neighbour', () => {
  for (const kind of ['REGISTER', 'INVITE'] as const) {
    it(`100 ${kind}s/s through a genuine link: the first hop drops the excess, delivery stays ≥ 99.5%`, async () => {
      const seed = scenarioSeed(`flood-${kind}-1`);
      const hint = replayHint(seed, file);
      const wallStart = Date.now();
      const net = await buildNet({ seed, entryPeers: 4, users: 20, warmNeighborsMin: 12 });
      expect(net.warmedUp, hint).toBe(true);
      const { world } = net;
      const flooder = net.users[0]!;
      const victim = net.users.find((u) => u !== flooder && linkBetween(flooder, u) !== undefined);
      expect(victim, `flooder has no user neighbour; ${hint}`).toBeDefined();
      const link = linkBetween(flooder, victim!)!;
      const others = net.all.filter((n) => n !== victim && n !== flooder);
      const honestUsers = net.users.filter((u) => u !== flooder);

      const npacks = new NpackTap(world, flooder, link);
      const rateLimitedBefore = victim!.engine.drops.rateLimited;
      const othersRateLimitedBefore = others.reduce((s, n) => s + n.engine.drops.rateLimited, 0);
      const relayedBefore = victim!.engine.stats.relayed;
      const floodSeqs = new Set<number>();
      const total = (floodPerSec * floodMs) / 1000;
      let sent = 0;
      const tick = (): void => {
        if (sent >= total || link.state !== 'up') return;
        const now = world.now();
        const target = honestUsers[sent % honestUsers.length]!.peer!.regId;
        const seq = sendOnLink(flooder, link, (s) =>
          kind === 'REGISTER'
            ? forgeRegisterReq(flooder, link, s, { timestampMs: now + sent })
            : forgeInviteReq(flooder, link, s, target, { timestampMs: now + sent }),
        );
        floodSeqs.add(seq);
        sent++;
        world.schedule(1000 / floodPerSec, tick);
      };
      world.schedule(0, tick);
      const campaign = await runCampaign(net, honestUsers, 400, floodMs / 400, 'flood/campaign');
      await world.runFor(2_000);

      const rateLimited = victim!.engine.drops.rateLimited - rateLimitedBefore;
      let floodAnsweredRateLimited = 0;
      let floodAnsweredOther = 0;
      for (const s of floodSeqs) {
        const code = npacks.bySeq.get(s);
        if (code === ResultCode.rateLimited) floodAnsweredRateLimited++;
        else if (code !== undefined) floodAnsweredOther++;
      }
      const c = drpConfigDefault;
      const budget =
        kind === 'REGISTER'
          ? c.registerBurst + (c.registerRatePerSec * floodMs) / 1000
          : c.inviteBurst + (c.inviteRatePerSec * floodMs) / 1000;
      const othersRateLimited =
        others.reduce((s, n) => s + n.engine.drops.rateLimited, 0) - othersRateLimitedBefore;
      const summary = [
        `${kind} flooder ${flooder.name} → victim ${victim!.name}: sent ${sent}, victim rateLimited +${rateLimited}`,
        `NPACKs for the flood: rateLimited ${floodAnsweredRateLimited}, other codes ${floodAnsweredOther} (budget ${budget})`,
        `NPACK codes ${JSON.stringify(Object.fromEntries(npacks.counts))}`,
        `victim relayed +${victim!.engine.stats.relayed - relayedBefore}; others' rateLimited +${othersRateLimited}`,
        `INVITEs ${campaign.delivered}/${campaign.sent} ${campaign.failed.slice(0, 5).join('; ')}`,
        `link ${link.state}; victim neighbours ${usable(victim!)}`,
        `wall ${((Date.now() - wallStart) / 1000).toFixed(1)} s`,
        hint,
      ].join('\n');
      console.log(summary);

      expect(sent, summary).toBe(total);
      // The excess is dropped at the first hop, counted and answered with NPACK rateLimited.
      expect(rateLimited, summary).toBeGreaterThanOrEqual(total - budget - 1);
      expect(floodAnsweredRateLimited, summary).toBeGreaterThanOrEqual(total - budget - 1);
      // What got through is within the link's budget, whatever the victim did with it.
      expect(floodAnsweredOther, summary).toBeLessThanOrEqual(budget + 1);
      // Beyond the first hop, at most what the victim let through can be refused for rate.
      expect(othersRateLimited, summary).toBeLessThanOrEqual(budget + 1);
      expect(campaign.delivered / campaign.sent, summary).toBeGreaterThanOrEqual(0.995);
    }, 120_000);
  }
});
