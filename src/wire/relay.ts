/**
 * Relay (36), link only: one direct-channel datagram carried through DRP neighbours when the two users'
 * endpoints cannot reach each other (symmetric ↔ symmetric or port-restricted ↔ symmetric NAT, an ISP
 * that drops peer-to-peer UDP).
 *
 * Each hop routes the packet greedily towards `targetRegId`'s point, as an INVITE, re-MACs it for the
 * next link (the MAC protects it hop by hop) and decrements `hopsRemaining`; the peer that hosts the
 * target registration hands `payload` to its direct-channel layer. The payload is an unmodified DMP
 * datagram (PacketType 50..54): end-to-end authenticated and encrypted under the channel's keys, which
 * no relay holds. Relays keep no state per packet: no acknowledgement, no retransmission (the channel
 * retransmits), a per-neighbour token bucket.
 */
import { defineCodec } from './codec.js';
import {
  hopsRemainingMax,
  linkMacBytes,
  PacketType,
  regIdBytes,
  relayPayloadMaxBytes,
  relayPayloadMinBytes,
  u32Max,
} from './constants.js';
import { bytes, bytesRange, req, uint } from './schema.js';

export interface Relay {
  readonly type: typeof PacketType.Relay;
  /** The receiver's link token. */
  readonly linkToken: number;
  /** The registration the payload is for: the routing target. */
  readonly targetRegId: Uint8Array;
  /** Decremented at every hop; a hop that would forward it at 1 drops it. */
  readonly hopsRemaining: number;
  /** A direct-channel datagram (PacketType 50..54), carried unchanged. */
  readonly payload: Uint8Array;
  readonly linkMac: Uint8Array;
}

export const relayCodec = defineCodec<Relay>({
  type: PacketType.Relay,
  name: 'Relay',
  fields: [
    req('linkToken', uint(0, u32Max)),
    req('targetRegId', bytes(regIdBytes)),
    req('hopsRemaining', uint(0, hopsRemainingMax)),
    req('payload', bytesRange(relayPayloadMinBytes, relayPayloadMaxBytes)),
    req('linkMac', bytes(linkMacBytes)),
  ],
});
