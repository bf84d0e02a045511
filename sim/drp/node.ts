/**
 * A DRP peer on the simulator: one engine on one simulated host and port, driven by kernel events.
 *
 * The driver owns what the engine must not: the transport (a `SimTransport`), the clock (the kernel's),
 * and the proof-of-work solver. Inputs (datagrams, timer wake-ups, solved PoW) are fed to the engine at
 * their virtual time; after each input the engine's datagrams go out through the transport and its next
 * deadline becomes a kernel event. PoW is solved for real (so what the entry peer verifies is genuine),
 * but the time it takes is modelled: hashes tried / `powHashesPerSec`, in virtual time.
 */
import type { Crypto } from '../../src/crypto/crypto.js';
import { DrpEngine, type EngineOptions, type LocalPeer } from '../../src/drp/engine.js';
import type { DriverAttachment, EngineEvent, PowJob } from '../../src/drp/types.js';
import { solvePow1, solvePow2 } from '../../src/pow/pow.js';
import type { Endpoint } from '../../src/seams/transport.js';
import type { VisionEmitter } from '../../src/vision/channel.js';
import type { Kernel } from '../kernel/kernel.js';
import type { SimHost, SimNetwork, SimTransport } from '../network/network.js';

/** Hashes per second of the modelled PoW solver (a phone is ~5× slower than this). */
export const powHashesPerSecDefault = 1_000_000;

export interface SimNodeOptions {
  readonly name: string;
  readonly kernel: Kernel;
  readonly network: SimNetwork;
  readonly host: SimHost;
  readonly port: number;
  readonly crypto: Crypto;
  readonly vision: VisionEmitter;
  readonly config?: EngineOptions['config'];
  readonly onInvite?: EngineOptions['onInvite'];
  /** Known public endpoint (open hosts: their own). */
  readonly publicEndpoint?: Endpoint;
  readonly powHashesPerSec?: number;
  readonly onEvent?: (node: SimDrpNode, e: EngineEvent) => void;
}

export class SimDrpNode {
  readonly engine: DrpEngine;
  readonly name: string;
  readonly host: SimHost;
  transport: SimTransport | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private wakeGeneration = 0;
  private readonly kWake: number;
  private readonly kPow: number;
  private readonly kernel: Kernel;
  private readonly powHashesPerSec: number;
  private readonly onEvent: ((node: SimDrpNode, e: EngineEvent) => void) | undefined;
  stopped = false;
  /** Runs beside the engine on its socket (the direct-channel hosts, src/dmp/attach.ts). */
  attachment: DriverAttachment | undefined;

  constructor(opts: SimNodeOptions) {
    this.kernel = opts.kernel;
    this.name = opts.name;
    this.host = opts.host;
    this.kWake = opts.kernel.kind('drp.timer');
    this.kPow = opts.kernel.kind('drp.pow');
    this.powHashesPerSec = opts.powHashesPerSec ?? powHashesPerSecDefault;
    this.onEvent = opts.onEvent;
    this.engine = new DrpEngine({
      crypto: opts.crypto,
      rng: opts.kernel.rng.fork(`peer/${opts.name}`),
      vision: opts.vision,
      name: opts.name,
      nowMs: opts.kernel.now(),
      ...(opts.config !== undefined ? { config: opts.config } : {}),
      ...(opts.onInvite !== undefined ? { onInvite: opts.onInvite } : {}),
      ...(opts.publicEndpoint !== undefined ? { publicEndpoint: opts.publicEndpoint } : {}),
    });
    const t = opts.network.bind(opts.host, opts.port);
    this.attach(t);
  }

  private attach(t: SimTransport): void {
    this.transport = t;
    t.onDatagram((bytes, from) => {
      if (this.stopped) return;
      if (this.attachment?.takeDatagram(this.kernel.now(), from, bytes) !== true) {
        this.engine.onDatagram(this.kernel.now(), from, bytes);
      }
      this.flush();
    });
  }

  get endpoint(): Endpoint {
    return this.transport!.local;
  }

  addLocalPeer(name: string, entryPeers: readonly Endpoint[], regKeySeed?: Uint8Array): LocalPeer {
    const key = regKeySeed === undefined ? undefined : this.engine.crypto.ed25519FromSeed(regKeySeed);
    const p = this.engine.addLocalPeer(name, entryPeers, key);
    this.flush();
    return p;
  }

  /** Runs `fn` against the engine at the current virtual time, then flushes its output. */
  act<T>(fn: (engine: DrpEngine, now: number) => T): T {
    const r = fn(this.engine, this.kernel.now());
    this.flush();
    return r;
  }

  /** Stops the node: closes links politely, then its socket. */
  stop(): void {
    if (this.stopped) return;
    this.engine.shutdown(this.kernel.now());
    this.flush();
    this.stopped = true;
    this.transport?.close();
  }

  flush(): void {
    if (this.stopped) return;
    // The transport at the start of this flush carries all of its output (a nested flush has its own).
    const outer = this.flushTransport;
    this.flushTransport = this.transport;
    this.engine.drain(this.sendOut, this.takeEvent);
    this.attachment?.drain(this.sendOut);
    this.flushTransport = outer;
    this.scheduleWake();
  }

  // Bound once: `flush` runs after every input, and needs no new closures for it.
  private flushTransport: SimTransport | undefined;
  private readonly sendOut = (o: { readonly to: Endpoint; readonly bytes: Uint8Array }): void => {
    const t = this.flushTransport;
    if (t !== undefined && !t.isClosed) t.send(o.to, o.bytes);
  };
  private readonly takeEvent = (e: EngineEvent): void => this.onEngineEvent(e);

  private onEngineEvent(e: EngineEvent): void {
    if (e.type === 'powJob') this.solve(e.jobId, e.job);
    this.attachment?.onEngineEvent(this.kernel.now(), e);
    this.onEvent?.(this, e);
  }

  private solve(jobId: number, job: PowJob): void {
    const rng = this.engine.rng;
    const s =
      job.kind === 'pow1'
        ? solvePow1(job.timestampS, job.ipv4, job.bits, rng)
        : solvePow2(job.challenge, job.regId, job.bits, rng);
    const delayMs =
      s === null ? 1000 : Math.max(1, Math.round((s.hashesTried / this.powHashesPerSec) * 1000));
    this.kernel.after(delayMs, this.kPow, this.host.id, jobId, () => {
      if (this.stopped) return;
      this.engine.onPowSolved(this.kernel.now(), jobId, s === null ? null : s.nonce);
      this.flush();
    });
  }

  private scheduleWake(): void {
    const d = Math.min(
      this.engine.nextDeadline(),
      this.attachment?.nextDeadline() ?? Number.POSITIVE_INFINITY,
    );
    if (!Number.isFinite(d) || d >= this.wakeAt) return;
    const at = Math.max(this.kernel.now(), Math.ceil(d));
    this.wakeAt = at;
    const gen = ++this.wakeGeneration;
    this.kernel.at(at, this.kWake, this.host.id, 0, () => {
      if (gen !== this.wakeGeneration || this.stopped) return;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.engine.onTimer(this.kernel.now());
      this.attachment?.onTimer(this.kernel.now());
      this.flush();
    });
  }
}
