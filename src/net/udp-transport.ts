/**
 * The real DatagramTransport: one `node:dgram` IPv4 socket. It enforces the same send rules as the
 * simulated transport (size cap, endpoint validation, closed state) through `checkSend`, so code that
 * passes on the simulator fails the same way here.
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  checkSend,
  type DatagramHandler,
  type DatagramTransport,
  type Endpoint,
  isIpv4,
  isPort,
  TransportError,
} from '../seams/transport.js';

export interface UdpBindOptions {
  /** Local address to bind, default 127.0.0.1. */
  readonly address?: string;
  /** Local port, 0 (default) for an ephemeral one. */
  readonly port?: number;
}

export class UdpTransport implements DatagramTransport {
  private handler: DatagramHandler | undefined;
  private closed = false;
  /** Datagrams received and dropped by the OS-level socket errors, for diagnostics. */
  sendErrors = 0;

  private constructor(
    private readonly socket: Socket,
    readonly local: Endpoint,
  ) {
    socket.on('message', (msg, rinfo) => {
      if (this.closed || this.handler === undefined) return;
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      this.handler(bytes, { address: rinfo.address, port: rinfo.port });
    });
    // A UDP socket reports ICMP errors (e.g. port unreachable) asynchronously; they are not fatal.
    socket.on('error', () => {
      this.sendErrors++;
    });
  }

  /** Binds a socket; rejects with `TransportError` (`badParameter`, `portInUse`). */
  static bind(opts: UdpBindOptions = {}): Promise<UdpTransport> {
    const address = opts.address ?? '127.0.0.1';
    const port = opts.port ?? 0;
    if (!isIpv4(address)) {
      return Promise.reject(
        new TransportError('badParameter', `address must be an IPv4 address, got '${address}'`),
      );
    }
    if (port !== 0 && !isPort(port)) {
      return Promise.reject(
        new TransportError('badParameter', `port must be an integer in 0..65535, got ${port}`),
      );
    }
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: 'udp4', reuseAddr: false });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(
          err.code === 'EADDRINUSE'
            ? new TransportError('portInUse', `port ${address}:${port} is in use`)
            : new TransportError('badParameter', `cannot bind ${address}:${port}: ${err.message}`),
        );
      };
      socket.once('error', onError);
      socket.bind(port, address, () => {
        socket.off('error', onError);
        const a = socket.address();
        resolve(new UdpTransport(socket, { address: a.address, port: a.port }));
      });
    });
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    if (this.closed) throw new TransportError('closed', 'send on a closed transport');
    checkSend(to, bytes);
    this.socket.send(bytes, to.port, to.address, (err) => {
      if (err) this.sendErrors++;
    });
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.socket.close();
  }
}
