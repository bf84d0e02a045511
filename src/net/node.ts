/**
 * A DRP peer on real UDP: one engine, one `node:dgram` socket, the wall clock, the OS CSPRNG, and proof
 * of work solved in a worker thread so the node keeps answering while it solves. The engine is the
 * same sans-I/O engine the simulator drives; this driver only turns its outputs into socket sends and
 * a timer for its next deadline. An attachment (the direct-channel hosts, src/dmp/attach.ts) may run
 * beside the engine on the same socket: it sees every datagram first, and its deadline joins the engine's.
 */
import type { Crypto } from '../crypto/crypto.js';
import { nodeCrypto } from '../crypto/index.js';
import { DrpEngine, type EngineOptions, type LocalPeer } from '../drp/engine.js';
import type { DriverAttachment, EngineEvent, PowJob } from '../drp/types.js';
import type { Endpoint } from '../seams/transport.js';
import type { VisionEmitter } from '../vision/channel.js';
import { nullVision } from '../vision/channel.js';
import { PowSolver } from './pow-solver.js';
import { CryptoRng, WallClock } from './system.js';
import { UdpTransport } from './udp-transport.js';

export interface UdpNodeOptions {
  readonly name: string;
  /** Address and port to bind (default 127.0.0.1, any port). */
  readonly bind?: { readonly address?: string; readonly port?: number };
  /** The node's public endpoint when known (a host with a public address, or loopback tests). */
  readonly publicEndpoint?: Endpoint;
  readonly crypto?: Crypto;
  readonly vision?: VisionEmitter;
  readonly config?: EngineOptions['config'];
  readonly onInvite?: EngineOptions['onInvite'];
  readonly onEvent?: (node: UdpDrpNode, e: EngineEvent) => void;
  /** Shared PoW worker (several nodes in one process share one). */
  readonly powSolver?: PowSolver;
}

export class UdpDrpNode {
  readonly engine: DrpEngine;
  readonly name: string;
  private readonly clock = new WallClock();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly ownsSolver: boolean;
  private readonly solver: PowSolver;
  private closed = false;
  /** Runs beside the engine on its socket (the direct-channel hosts, src/dmp/attach.ts). */
  attachment: DriverAttachment | undefined;

  private constructor(
    readonly transport: UdpTransport,
    opts: UdpNodeOptions,
  ) {
    this.name = opts.name;
    this.ownsSolver = opts.powSolver === undefined;
    this.solver = opts.powSolver ?? new PowSolver();
    const publicEndpoint =
      opts.publicEndpoint ?? (transport.local.address !== '0.0.0.0' ? transport.local : undefined);
    this.engine = new DrpEngine({
      crypto: opts.crypto ?? nodeCrypto,
      rng: new CryptoRng(),
      vision: opts.vision ?? nullVision,
      name: opts.name,
      nowMs: this.clock.now(),
      ...(opts.config !== undefined ? { config: opts.config } : {}),
      ...(opts.onInvite !== undefined ? { onInvite: opts.onInvite } : {}),
      ...(publicEndpoint !== undefined ? { publicEndpoint } : {}),
    });
    this.onEvent = opts.onEvent;
    transport.onDatagram((bytes, from) => {
      if (this.closed) return;
      const now = this.clock.now();
      if (this.attachment?.takeDatagram(now, from, bytes) !== true) this.engine.onDatagram(now, from, bytes);
      this.flush();
    });
  }

  private readonly onEvent: ((node: UdpDrpNode, e: EngineEvent) => void) | undefined;

  static async start(opts: UdpNodeOptions): Promise<UdpDrpNode> {
    const t = await UdpTransport.bind({
      address: opts.bind?.address ?? '127.0.0.1',
      ...(opts.bind?.port !== undefined ? { port: opts.bind.port } : {}),
    });
    return new UdpDrpNode(t, opts);
  }

  get endpoint(): Endpoint {
    return this.transport.local;
  }

  now(): number {
    return this.clock.now();
  }

  addLocalPeer(name: string, entryPeers: readonly Endpoint[], regKeySeed?: Uint8Array): LocalPeer {
    const key = regKeySeed === undefined ? undefined : this.engine.crypto.ed25519FromSeed(regKeySeed);
    const p = this.engine.addLocalPeer(name, entryPeers, key);
    this.flush();
    return p;
  }

  act<T>(fn: (engine: DrpEngine, now: number) => T): T {
    const r = fn(this.engine, this.clock.now());
    this.flush();
    return r;
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.engine.shutdown(this.clock.now());
    this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.transport.close();
    if (this.ownsSolver) await this.solver.close();
  }

  private flush(): void {
    if (this.closed) return;
    this.engine.drain(
      (o) => this.transport.send(o.to, o.bytes),
      (e) => {
        if (e.type === 'powJob') this.solve(e.jobId, e.job);
        this.attachment?.onEngineEvent(this.clock.now(), e);
        this.onEvent?.(this, e);
      },
    );
    this.attachment?.drain((o) => this.transport.send(o.to, o.bytes));
    this.arm();
  }

  private solve(jobId: number, job: PowJob): void {
    const start = this.engine.rng.bytes(16);
    const p =
      job.kind === 'pow1'
        ? this.solver.solvePow1(job.timestampS, job.ipv4, job.bits, start)
        : this.solver.solvePow2(job.challenge, job.regId, job.bits, start);
    p.then(
      (s) => {
        if (this.closed) return;
        this.engine.onPowSolved(this.clock.now(), jobId, s === null ? null : s.nonce);
        this.flush();
      },
      () => {
        if (this.closed) return;
        this.engine.onPowSolved(this.clock.now(), jobId, null);
        this.flush();
      },
    );
  }

  private arm(): void {
    const d = Math.min(
      this.engine.nextDeadline(),
      this.attachment?.nextDeadline() ?? Number.POSITIVE_INFINITY,
    );
    if (!Number.isFinite(d) || d >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = d;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        if (this.closed) return;
        const now = this.clock.now();
        this.engine.onTimer(now);
        this.attachment?.onTimer(now);
        this.flush();
      },
      Math.max(0, d - this.clock.now()),
    );
  }
}
