/**
 * MAC placement: the MAC of a link or DmpPing/DmpPong packet is the LAST field of the body array,
 * a 32-byte msgpack bin. Since a valid datagram has no trailing bytes, its MAC is exactly the last
 * 32 bytes of the datagram, and the MAC covers everything before them: version, type, every other
 * field, and the MAC's own bin header (0xc4 0x20). So the covered bytes are
 * `datagram[0 .. length − 32)`: one subarray, no re-encoding, and nothing in the datagram is
 * unauthenticated except the MAC itself.
 *
 * To send: build the packet with any 32 bytes in the MAC field (`macPlaceholder`), then
 * `sealDatagram(packet, covered => hmac(key, covered))` encodes it and writes the MAC in place.
 * To receive: `decodeDatagram`, then compare `macOf(packet)` with HMAC(key, `macCoveredBytes(bytes)`)
 * in constant time.
 */
import { linkMacBytes, PacketType } from './constants.js';
import { encodeDatagram, type Packet } from './datagram.js';

/** 32 zero bytes to put in the MAC field before sealing. */
export const macPlaceholder: Uint8Array = new Uint8Array(linkMacBytes);

/** The MAC a packet carries (`linkMac` or `mac`), or null (entry mode, or a type without one). */
export function macOf(packet: Packet): Uint8Array | null {
  switch (packet.type) {
    case PacketType.DmpPing:
    case PacketType.DmpPong:
      return packet.mac;
    case PacketType.RegisterReq:
    case PacketType.RegisterAck1:
    case PacketType.RegisterAck2:
    case PacketType.RegisterCfm:
    case PacketType.Npack:
    case PacketType.Failure:
    case PacketType.Ping:
    case PacketType.Pong:
    case PacketType.LinkClose:
    case PacketType.Relay:
    case PacketType.InviteReq:
    case PacketType.InviteAck1:
    case PacketType.InviteAck2:
    case PacketType.InviteCfm:
      return packet.linkMac;
    default:
      return null;
  }
}

/**
 * The bytes a MAC covers: the datagram without its last 32 bytes. Only meaningful for a datagram
 * whose decoded packet has `macOf(packet) !== null`. Returns a view (no copy).
 */
export function macCoveredBytes(datagram: Uint8Array): Uint8Array {
  if (datagram.length < linkMacBytes + 2) {
    throw new RangeError(`macCoveredBytes: ${datagram.length} bytes cannot hold a MAC`);
  }
  return datagram.subarray(0, datagram.length - linkMacBytes);
}

/**
 * Encodes `packet` (whose MAC field holds any 32 bytes) and replaces the MAC with
 * `computeMac(covered bytes)`. Throws RangeError if the packet carries no MAC or `computeMac`
 * returns other than 32 bytes.
 */
export function sealDatagram(packet: Packet, computeMac: (covered: Uint8Array) => Uint8Array): Uint8Array {
  if (macOf(packet) === null)
    throw new RangeError(`sealDatagram: packet type ${packet.type} carries no MAC here`);
  const out = encodeDatagram(packet);
  const mac = computeMac(macCoveredBytes(out));
  if (mac.length !== linkMacBytes)
    throw new RangeError(`sealDatagram: MAC of ${mac.length} bytes, expected 32`);
  out.set(mac, out.length - linkMacBytes);
  return out;
}
