/**
 * An INVITE campaign: testers send INVITEs between users and this tracks each one to its end — delivered
 * (the callee received it and the caller got the answer), or failed (with the reason and the attempt
 * transaction ids whose hop records make its route). The session description carries the campaign's
 * invite number, so the callee's `inviteReceived` (which knows the hops taken) is matched to it.
 */
import { hopsRemainingMax } from '../src/wire/constants.js';
import { sortedCopy } from './report.js';
import type { TesterNode, World } from './world.js';

export interface InviteOutcome {
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly sentAtMs: number;
  completedAtMs?: number;
  receivedAtMs?: number;
  hops?: number;
  failure?: string;
  attemptTxIds?: readonly string[];
}

const sdPrefix = 'invite#';

export class InviteCampaign {
  readonly outcomes: InviteOutcome[] = [];
  private readonly bySender = new Map<string, InviteOutcome>();
  private readonly decoder = new TextDecoder();

  constructor(private readonly world: World) {
    world.onEvent((node, e) => {
      if (e.type === 'inviteCompleted' || e.type === 'inviteFailed') {
        const o = this.bySender.get(`${node.name}/${e.inviteId}`);
        if (o === undefined) return;
        this.bySender.delete(`${node.name}/${e.inviteId}`);
        if (e.type === 'inviteCompleted') o.completedAtMs = world.now();
        else {
          o.failure = e.reason;
          o.attemptTxIds = e.attemptTxIds;
        }
      } else if (e.type === 'inviteReceived') {
        const text = this.decoder.decode(e.sessionDescription);
        if (!text.startsWith(sdPrefix)) return;
        const o = this.outcomes[Number(text.slice(sdPrefix.length))];
        if (o === undefined || o.to !== node.name) return;
        o.receivedAtMs = world.now();
        o.hops = hopsRemainingMax - e.hopsRemaining + 1;
      }
    });
  }

  /** Sends one INVITE from `from` to `to`'s registration. */
  send(from: TesterNode, to: TesterNode): InviteOutcome {
    const o: InviteOutcome = {
      id: this.outcomes.length,
      from: from.name,
      to: to.name,
      sentAtMs: this.world.now(),
    };
    this.outcomes.push(o);
    const sd = new TextEncoder().encode(`${sdPrefix}${o.id}`);
    const inviteId = from.act((e, now) => e.sendInvite(now, from.peer!, to.peer!.regId, sd));
    this.bySender.set(`${from.name}/${inviteId}`, o);
    return o;
  }

  /** INVITEs neither delivered nor failed yet. */
  get pending(): number {
    return this.outcomes.filter((o) => o.completedAtMs === undefined && o.failure === undefined).length;
  }

  static delivered(o: InviteOutcome): boolean {
    return o.completedAtMs !== undefined && o.receivedAtMs !== undefined;
  }

  /** Delivery figures over the outcomes that `include` admits (default: all). */
  stats(include: (o: InviteOutcome) => boolean = () => true): {
    sent: number;
    delivered: number;
    delays: number[];
    hops: number[];
    failed: InviteOutcome[];
  } {
    const chosen = this.outcomes.filter(include);
    const delivered = chosen.filter(InviteCampaign.delivered);
    return {
      sent: chosen.length,
      delivered: delivered.length,
      delays: sortedCopy(delivered.map((o) => o.completedAtMs! - o.sentAtMs)),
      hops: sortedCopy(delivered.map((o) => o.hops ?? 0)),
      failed: chosen.filter((o) => !InviteCampaign.delivered(o)),
    };
  }
}
