/**
 * Conversions between the transport seam's `Endpoint` (dotted quad + port) and the wire's
 * `WireEndpoint` (4 address bytes + port), used where packets carry endpoints (epEndpoint,
 * requesterEndpoint, NAT test, encrypted link parameters).
 */
import { type Endpoint, ipv4ToU32, isIpv4, isPort, u32ToIpv4 } from '../seams/transport.js';
import type { WireEndpoint } from './schema.js';

/** Seam endpoint → wire endpoint. Throws RangeError for an invalid address or port. */
export function endpointToWire(e: Endpoint): WireEndpoint {
  if (!isIpv4(e.address) || !isPort(e.port))
    throw new RangeError(`endpointToWire: bad endpoint ${e.address}:${e.port}`);
  const x = ipv4ToU32(e.address);
  return { ipv4: Uint8Array.of(x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff), port: e.port };
}

/** Wire endpoint → seam endpoint. */
export function endpointFromWire(w: WireEndpoint): Endpoint {
  const x = ((w.ipv4[0]! << 24) | (w.ipv4[1]! << 16) | (w.ipv4[2]! << 8) | w.ipv4[3]!) >>> 0;
  return { address: u32ToIpv4(x), port: w.port };
}

/** Same address and port. */
export function wireEndpointsEqual(a: WireEndpoint, b: WireEndpoint): boolean {
  return (
    a.port === b.port &&
    a.ipv4[0] === b.ipv4[0] &&
    a.ipv4[1] === b.ipv4[1] &&
    a.ipv4[2] === b.ipv4[2] &&
    a.ipv4[3] === b.ipv4[3]
  );
}
