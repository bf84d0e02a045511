/**
 * The datagram seam: what a driver needs from a UDP-like network. The simulator's transport and the
 * real `node:dgram` transport both implement it, and one compliance suite
 * (`test/seams/transport-compliance.ts`) runs against both.
 */

/** Largest datagram either transport will send (bytes). Matches the wire format's cap. */
export const datagramSizeMaxBytes = 1200;

export interface Endpoint {
  /** IPv4 address in dotted-quad form. */
  readonly address: string;
  /** UDP port, 1..65535. */
  readonly port: number;
}

export type DatagramHandler = (bytes: Uint8Array, from: Endpoint) => void;

export interface DatagramTransport {
  /** The locally bound endpoint (the host's own address, before any NAT). */
  readonly local: Endpoint;
  /**
   * Queue a datagram to `to`. Fire and forget, like UDP: loss is silent.
   * Throws `TransportError` (`datagramTooLarge`, `badEndpoint`, `closed`) for misuse.
   */
  send(to: Endpoint, bytes: Uint8Array): void;
  /** Install the receive handler (replaces any previous one). */
  onDatagram(handler: DatagramHandler): void;
  /** Release the port; later sends throw `closed`, nothing more is received. */
  close(): void;
}

export type TransportErrorCode = 'datagramTooLarge' | 'badEndpoint' | 'closed' | 'portInUse' | 'badParameter';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

const ipv4Pattern = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(address: string): boolean {
  return ipv4Pattern.test(address);
}

export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Validates a destination and size the same way for every transport. */
export function checkSend(to: Endpoint, bytes: Uint8Array): void {
  if (bytes.length > datagramSizeMaxBytes) {
    throw new TransportError(
      'datagramTooLarge',
      `datagram of ${bytes.length} bytes exceeds datagramSizeMaxBytes=${datagramSizeMaxBytes}`,
    );
  }
  if (!isIpv4(to.address) || !isPort(to.port)) {
    throw new TransportError('badEndpoint', `bad destination endpoint ${to.address}:${to.port}`);
  }
}

export function endpointKey(e: Endpoint): string {
  return `${e.address}:${e.port}`;
}

/** IPv4 dotted quad -> u32. Caller guarantees `isIpv4`. */
export function ipv4ToU32(address: string): number {
  const p = address.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function u32ToIpv4(x: number): string {
  return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
}
