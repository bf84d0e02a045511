/**
 * The host layer: messenger hosts (./host.ts) beside a DRP engine on one socket.
 *
 * Theory of operation. A `MessengerAttachment` is the `DriverAttachment` (src/drp/types.ts) a driver —
 * sim/drp/node.ts or src/net/node.ts — runs next to its `DrpEngine`. It joins the two sans-I/O machines
 * without either knowing the other:
 * - it is offered every received datagram first and takes the direct channel's (PacketType 50..54),
 *   handing each to the host whose channel token it names (unknown tokens are counted and dropped);
 *   everything else goes to the engine as before;
 * - it answers the engine's `onInvite` for the registrations of its users (the host's pre-check), and
 *   passes `inviteReceived` / `inviteCompleted` / `inviteFailed` events to the host of that registration;
 * - it runs the hosts' commands against the engine (an INVITE: `engine.sendInvite`) and tells each host
 *   the invite id, and hands the hosts' events to the application listener;
 * - its deadline is the earliest of its hosts' (the driver wakes at the earlier of this and the
 *   engine's), and its datagrams leave from the engine's socket;
 * - it is the relay's end point (src/drp/relay.ts): a host's datagram addressed to `'relay'` becomes a
 *   Relay packet to the contact's regID (`engine.sendRelayed`), sent from the socket in order with the
 *   others, and a relayed datagram that reaches one of its users' registrations (`engine.onRelayed`) is
 *   handed to that user's host as coming from `'relay'`. Hosts added here are told a relay exists
 *   (`relayAvailable`): their channels fall back to it when the direct path fails.
 *
 * The application talks to a host through `act(now, user, fn)`, which runs the host's commands at once.
 * Everything here is synchronous and deterministic, like the engine and the hosts.
 */
import type { DrpEngine, LocalPeer } from '../drp/engine.js';
import type { DriverAttachment, EngineEvent, Outgoing } from '../drp/types.js';
import type { Endpoint } from '../seams/transport.js';
import { type HostEvent, isDmpDatagram, type MessengerHost } from './host.js';

/** One user of the attachment: a registration of the engine and the host that speaks through it. */
export interface MessengerUser {
  readonly peer: LocalPeer;
  readonly host: MessengerHost;
}

/** `now`: the time the event happened; a listener may call the host at once with it. */
export type HostEventListener = (user: MessengerUser, e: HostEvent, now: number) => void;

export class MessengerAttachment implements DriverAttachment {
  private readonly users: MessengerUser[] = [];
  private readonly listeners: HostEventListener[] = [];
  private now: number;
  readonly stats = {
    /** DMP datagrams taken from the socket. */
    datagramsIn: 0,
    /** DMP datagrams naming no channel of any host (dropped). */
    unknownToken: 0,
    /** Datagrams the hosts sent through the relay, and those that could not leave (no neighbour). */
    relayedOut: 0,
    relayDropped: 0,
    /** Relayed datagrams that reached one of our users' registrations. */
    relayedIn: 0,
  };

  /**
   * `localEndpoint`: the endpoint to advertise while the engine has not learned its public one (a host
   * on a public address, loopback).
   */
  constructor(
    private readonly engine: DrpEngine,
    private readonly localEndpoint: () => Endpoint | undefined = () => undefined,
  ) {
    this.now = engine.now;
    engine.onRelayed = ({ peer, payload }) => {
      const u = this.userOfRegId(peer.regId);
      if (u === undefined) return;
      // Called from the engine's receive path: the host may only queue output, which the driver's flush
      // sends (an INVITE command it starts here is queued in the engine like any other).
      this.advance(engine.now);
      this.stats.relayedIn++;
      if (!u.host.receive(this.now, 'relay', payload)) this.stats.unknownToken++;
      this.pump();
    };
    const previous = engine.onInvite;
    engine.onInvite = (info) => {
      const u = this.userOfRegId(info.localRegId);
      if (u === undefined) return previous(info);
      this.advance(engine.now);
      this.sync(u);
      return u.host.onInvite(this.now, info);
    };
  }

  /** Adds a user: `host` speaks through the engine's registration `peer`. */
  addUser(peer: LocalPeer, host: MessengerHost): MessengerUser {
    if (this.users.some((u) => u.peer === peer)) {
      throw new RangeError(`MessengerAttachment.addUser: registration ${peer.name} already has a host`);
    }
    const u: MessengerUser = { peer, host };
    host.relayAvailable = true;
    this.users.push(u);
    this.sync(u);
    return u;
  }

  get userList(): readonly MessengerUser[] {
    return this.users;
  }

  /** Application listener for every host event (called synchronously, in order). */
  onHostEvent(listener: HostEventListener): void {
    this.listeners.push(listener);
  }

  /** Runs `fn` against a user's host at `now`, then executes its commands and hands out its events. */
  act<T>(now: number, user: MessengerUser, fn: (host: MessengerHost) => T): T {
    this.advance(now);
    this.sync(user);
    const r = fn(user.host);
    this.pump();
    return r;
  }

  // ---------------------------------------------------------------- DriverAttachment

  takeDatagram(now: number, from: Endpoint, bytes: Uint8Array): boolean {
    if (!isDmpDatagram(bytes)) return false;
    this.advance(now);
    this.stats.datagramsIn++;
    let taken = false;
    for (const u of this.users) {
      if (u.host.receive(this.now, from, bytes)) {
        taken = true;
        break;
      }
    }
    if (!taken) this.stats.unknownToken++;
    this.pump();
    return true;
  }

  onEngineEvent(now: number, e: EngineEvent): void {
    if (e.type !== 'inviteReceived' && e.type !== 'inviteCompleted' && e.type !== 'inviteFailed') return;
    const u = this.users.find((x) => x.peer.name === e.peer);
    if (u === undefined) return;
    this.advance(now);
    this.sync(u);
    if (e.type === 'inviteReceived') u.host.onInviteReceived(this.now, e);
    else if (e.type === 'inviteCompleted') u.host.onInviteCompleted(this.now, e);
    else u.host.onInviteFailed(this.now, e);
    this.pump();
  }

  onTimer(now: number): void {
    this.advance(now);
    for (const u of this.users) {
      if (u.host.nextDeadline() <= this.now) {
        this.sync(u);
        u.host.tick(this.now);
      }
    }
    this.pump();
  }

  nextDeadline(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const u of this.users) {
      if (u.host.hasPendingOutput) return this.now;
      const d = u.host.nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  drain(send: (o: Outgoing) => void): void {
    this.advance(this.engine.now);
    for (const u of this.users) {
      for (const o of u.host.drainOutgoing()) {
        if (o.to !== 'relay') {
          send({ to: o.to, bytes: o.bytes });
          continue;
        }
        const relayed = this.engine.sendRelayed(this.now, u.peer, o.contact, o.bytes);
        if (relayed === null) this.stats.relayDropped++;
        else {
          this.stats.relayedOut++;
          for (let i = 0; i < relayed.copies; i++) send({ to: relayed.to, bytes: relayed.bytes });
        }
      }
    }
  }

  // ---------------------------------------------------------------- internals

  /** Executes the hosts' commands and hands their events to the listeners, until none are left. */
  private pump(): void {
    for (let round = 0; ; round++) {
      let any = false;
      for (const u of this.users) {
        if (!u.host.hasPendingOutput) continue;
        any = true;
        for (const c of u.host.drainCommands()) {
          const id = this.engine.sendInvite(
            this.now,
            u.peer,
            c.responderRegId,
            c.sessionDescription,
            c.contactInvitationToken,
          );
          u.host.inviteStarted(c.responderRegId, id);
        }
        for (const e of u.host.drainEvents()) for (const l of this.listeners) l(u, e, this.now);
      }
      if (!any) return;
      if (round >= 1000) throw new Error('MessengerAttachment: hosts keep producing output (1000 rounds)');
    }
  }

  private sync(u: MessengerUser): void {
    u.host.publicEndpoint = this.engine.publicEndpoint ?? this.localEndpoint();
  }

  private advance(now: number): void {
    if (now > this.now) this.now = now;
  }

  private userOfRegId(regId: Uint8Array): MessengerUser | undefined {
    for (const u of this.users) {
      const r = u.peer.regId;
      if (r.length !== regId.length) continue;
      let same = true;
      for (let i = 0; i < r.length; i++) {
        if (r[i] !== regId[i]) {
          same = false;
          break;
        }
      }
      if (same) return u;
    }
    return undefined;
  }
}
