/**
 * The simulation kernel: virtual time, the event queue and the run's event hash.
 *
 * Theory of operation. Everything that happens in a simulated run is an event scheduled at an integer
 * virtual millisecond. The kernel pops events in (time, insertion sequence) order, advances `now` to the
 * event's time and calls its handler; handlers schedule further events. Nothing else moves time, so a run
 * is a pure function of its seed and configuration.
 *
 * Every event carries three integers besides its handler: `kind` (a small id registered by name, e.g.
 * `net.deliver`), `peer` (the host or peer it concerns) and `detail` (e.g. a hash of the datagram it
 * delivers). On dispatch they are folded, with the time, into a running 64-bit hash. Two runs of the same
 * seed must produce the same hash; `checkDeterminism` (./determinism.ts) runs two instances in lockstep and
 * names the first event at which they differ.
 */
import type { Clock } from '../../src/seams/clock.js';
import { RunningHash } from './hash.js';
import { EventQueue, eventsPendingMaxDefault } from './queue.js';
import { SeededRng } from './rng.js';

export type EventHandler = () => void;

/** 2020-01-01T00:00:00Z: virtual clocks start here so protocol timestamps look like real ones. */
export const simEpochMsDefault = 1_577_836_800_000;

export interface KernelOptions {
  readonly seed: string | number;
  /** Virtual time at the start of the run (integer ms). */
  readonly epochMs?: number;
  /** Bound on pending events. */
  readonly eventsPendingMax?: number;
}

/** What the kernel knows of one dispatched event (for reports and divergence checks). */
export interface EventInfo {
  readonly index: number;
  readonly timeMs: number;
  readonly kind: string;
  readonly peer: number;
  readonly detail: number;
  readonly hash: string;
}

export class Kernel {
  readonly seed: string;
  readonly rng: SeededRng;
  readonly clock: Clock;
  readonly epochMs: number;
  private nowMs: number;
  private readonly queue: EventQueue;
  private readonly hash = new RunningHash();
  private dispatched = 0;

  // Per-slot event data; slots are recycled through a free list.
  private handlers: (EventHandler | undefined)[] = [];
  private kinds: number[] = [];
  private peers: number[] = [];
  private details: number[] = [];
  private freeSlots: number[] = [];

  private readonly kindIds = new Map<string, number>();
  private readonly kindNames: string[] = [];

  // The last dispatched event, for `lastEvent()`.
  private lastKind = -1;
  private lastPeer = 0;
  private lastDetail = 0;

  constructor(opts: KernelOptions) {
    if (typeof opts.seed !== 'string' && !Number.isFinite(opts.seed)) {
      throw new RangeError(`seed must be a string or a finite number, got ${String(opts.seed)}`);
    }
    const epochMs = opts.epochMs ?? simEpochMsDefault;
    if (!Number.isSafeInteger(epochMs) || epochMs < 0) {
      throw new RangeError(`epochMs must be a non-negative safe integer, got ${epochMs}`);
    }
    this.seed = String(opts.seed);
    this.rng = new SeededRng(this.seed);
    this.epochMs = epochMs;
    this.nowMs = epochMs;
    this.queue = new EventQueue(opts.eventsPendingMax ?? eventsPendingMaxDefault);
    this.clock = { now: () => this.nowMs };
  }

  /** Current virtual time, integer ms. */
  now(): number {
    return this.nowMs;
  }

  /** Virtual ms since the start of the run. */
  elapsed(): number {
    return this.nowMs - this.epochMs;
  }

  get pending(): number {
    return this.queue.size;
  }

  get eventsDispatched(): number {
    return this.dispatched;
  }

  /** The running hash of every event dispatched so far (16 hex digits). */
  get eventHash(): string {
    return this.hash.hex();
  }

  /** Registers (or looks up) an event kind by name; returns its small integer id. */
  kind(name: string): number {
    let id = this.kindIds.get(name);
    if (id === undefined) {
      id = this.kindNames.length;
      this.kindIds.set(name, id);
      this.kindNames.push(name);
    }
    return id;
  }

  kindName(id: number): string {
    return this.kindNames[id] ?? `kind#${id}`;
  }

  /** Schedules `handler` at absolute virtual time `timeMs` (an integer, not in the past). */
  at(timeMs: number, kind: number, peer: number, detail: number, handler: EventHandler): void {
    if (!Number.isSafeInteger(timeMs) || timeMs < this.nowMs) {
      throw new RangeError(`event time must be an integer >= now (${this.nowMs}), got ${timeMs}`);
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.handlers.length;
      this.handlers.push(handler);
      this.kinds.push(kind);
      this.peers.push(peer);
      this.details.push(detail >>> 0);
    } else {
      this.handlers[slot] = handler;
      this.kinds[slot] = kind;
      this.peers[slot] = peer;
      this.details[slot] = detail >>> 0;
    }
    this.queue.push(timeMs, slot);
  }

  /** Schedules `handler` `delayMs` (a non-negative integer) from now. */
  after(delayMs: number, kind: number, peer: number, detail: number, handler: EventHandler): void {
    this.at(this.nowMs + delayMs, kind, peer, detail, handler);
  }

  /** Time of the next pending event, or Infinity. */
  nextEventTime(): number {
    return this.queue.peekTime();
  }

  /** Dispatches one event. Returns false when the queue is empty. */
  step(): boolean {
    const slot = this.queue.pop();
    if (slot < 0) return false;
    const time = this.queue.lastTime;
    const handler = this.handlers[slot]!;
    const kind = this.kinds[slot]!;
    const peer = this.peers[slot]!;
    const detail = this.details[slot]!;
    this.handlers[slot] = undefined;
    this.freeSlots.push(slot);
    this.nowMs = time;
    this.dispatched++;
    const h = this.hash;
    h.add(time - this.epochMs);
    h.add(kind);
    h.add(peer >>> 0);
    h.add(detail);
    this.lastKind = kind;
    this.lastPeer = peer;
    this.lastDetail = detail;
    handler();
    return true;
  }

  /**
   * Dispatches events until the queue is empty, the next event lies after `untilMs` (then time advances
   * to `untilMs`), or `eventsMax` events have run. Returns the number dispatched.
   */
  run(untilMs: number = Number.POSITIVE_INFINITY, eventsMax: number = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (n < eventsMax) {
      const t = this.queue.peekTime();
      if (t > untilMs || t === Number.POSITIVE_INFINITY) break;
      this.step();
      n++;
    }
    if (Number.isFinite(untilMs) && untilMs > this.nowMs && n < eventsMax) this.nowMs = Math.floor(untilMs);
    return n;
  }

  /** Runs for `durationMs` of virtual time from now. */
  runFor(durationMs: number): number {
    return this.run(this.nowMs + durationMs);
  }

  /** The most recently dispatched event, or undefined before the first. */
  lastEvent(): EventInfo | undefined {
    if (this.lastKind < 0) return undefined;
    return {
      index: this.dispatched - 1,
      timeMs: this.nowMs,
      kind: this.kindName(this.lastKind),
      peer: this.lastPeer,
      detail: this.lastDetail,
      hash: this.hash.hex(),
    };
  }
}
