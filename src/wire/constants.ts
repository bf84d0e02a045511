/**
 * Wire constants: the protocol version, packet type numbers, size bounds and the closed code sets
 * carried inside packets (NPACK/FAILURE results, PoW1 status, link-close reasons, flag bits).
 *
 * Every bound here is part of the wire contract (docs/protocol.md §Limits): a decoder rejects a field
 * outside it, an encoder throws. Engine policy limits (neighbour counts, rates) live in src/drp; the
 * bounds below are only what the format itself admits.
 */
import { datagramSizeMaxBytes } from '../seams/transport.js';

export { datagramSizeMaxBytes };

/** First byte of every datagram. A receiver drops any other value with `badVersion`. */
export const protocolVersion = 1;

/** Second byte of every datagram. Numbers 21..34, 50..54, 70, 71 are the original's; 35 and 36 are new. */
export const PacketType = {
  Pow1Request: 21,
  Pow1Response: 22,
  RegisterReq: 23,
  Npack: 24,
  RegisterAck1: 25,
  RegisterAck2: 26,
  Ping: 27,
  Pong: 28,
  RegisterCfm: 29,
  InviteReq: 30,
  InviteAck1: 31,
  InviteAck2: 32,
  InviteCfm: 33,
  Failure: 34,
  LinkClose: 35,
  Relay: 36,
  DmpPing: 50,
  DmpPong: 51,
  MessageStart: 52,
  MessagePart: 53,
  MessageAck: 54,
  NatTestReq: 70,
  NatTestResp: 71,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Bytes of the datagram header: version + type. */
export const datagramHeaderBytes = 2;

// ---- fixed sizes of cryptographic fields (bytes) ----
export const regIdBytes = 32;
export const x25519KeyBytes = 32;
export const signatureBytes = 64;
export const linkMacBytes = 32;
export const aeadTagBytes = 16;
export const pow1NonceBytes = 16;
export const pow2ChallengeBytes = 16;
export const pow2NonceBytes = 16;
export const contactInvitationTokenBytes = 16;
export const directionVectorBytes = 8;
/** Endpoint on the wire: 4 IPv4 bytes + u16 big-endian port. */
export const endpointBytes = 6;
/** NatTestReq padding: makes the request larger than the response, so the reflector does not amplify. */
export const natTestPaddingBytes = 16;

// ---- integer ranges ----
export const u8Max = 0xff;
export const u16Max = 0xffff;
export const u32Max = 0xffff_ffff;
/** REGISTER and INVITE hop budgets never exceed this (the original's 30). */
export const hopsRemainingMax = 30;
/** Random hops of a REGISTER (uniform 0..9 when a neighbour originates it). */
export const randomHopsRemainingMax = 9;
/** Busy-sector mask: 9 sectors of the regular 8-simplex, one bit each. */
export const busySectorsMask = 0x1ff;
/** Timestamps are integer ms since the Unix epoch; anything a double holds exactly is admitted. */
export const timestampMsMax = Number.MAX_SAFE_INTEGER;
/** Direct-channel packet counters: any safe integer (2^53 packets never wrap in practice). */
export const packetCounterMax = Number.MAX_SAFE_INTEGER;

// ---- variable-size bounds (bytes / counts) ----
/** Ciphertext of the link parameters in REGISTER ack1/ack2 (AEAD tag included). */
export const linkParamsCiphertextMinBytes = aeadTagBytes + 1;
export const linkParamsCiphertextMaxBytes = 64;
/** Plaintext of the link parameters, so the ciphertext bound holds. */
export const linkParamsPlaintextMaxBytes = linkParamsCiphertextMaxBytes - aeadTagBytes;
/** Encrypted session description in INVITE ack1/ack2 (AEAD tag included). */
export const sessionDescriptionCiphertextMinBytes = aeadTagBytes + 1;
export const sessionDescriptionCiphertextMaxBytes = 900;
/**
 * A Relay packet's overhead around its payload at most: header (2), fixarray (1), linkToken as uint32 (5),
 * targetRegId (34), hopsRemaining (1), the payload's bin16 header (3), linkMac (34).
 */
export const relayOverheadMaxBytes = 2 + 1 + 5 + (2 + regIdBytes) + 1 + 3 + (2 + linkMacBytes);
/** Largest datagram a Relay packet carries: every direct-channel datagram fits (see below). */
export const relayPayloadMaxBytes = datagramSizeMaxBytes - relayOverheadMaxBytes;
/** Smallest: a datagram is at least version, type and one body byte. */
export const relayPayloadMinBytes = 3;
/**
 * AEAD ciphertext of a direct-channel data packet (MessageStart/MessagePart), tag included. Bounded so
 * that the largest data datagram (header 2, fixarray 1, channelToken ≤ 5, packetCounter ≤ 9, bin16
 * header 3: 20 bytes around the ciphertext) fits a Relay packet's payload: a channel never has to
 * re-cut its messages when it moves between a direct and a relayed path.
 */
export const dmpCiphertextMinBytes = aeadTagBytes + 1;
export const dmpCiphertextMaxBytes = relayPayloadMaxBytes - 20;
/** Selective-ack bitmap of MessageAck: up to 256 packets beyond the cumulative ack. */
export const selectiveAckMaxBytes = 32;
/** Neighbour regIDs a PING may advertise (look-ahead routing); the engine's hard maximum is 18. */
export const pingNeighbourRegIdsMaxCount = 20;

/** msgpack limits of the shared decoder: nothing in a valid datagram is longer. */
export const msgpackBinLengthMaxBytes = datagramSizeMaxBytes;
export const msgpackArrayLengthMax = 32;

// ---- closed code sets ----

/**
 * Result codes of NPACK (hop-by-hop ack) and FAILURE (late rejection sent upstream). `accepted` is
 * valid only in NPACK; FAILURE carries any other code.
 */
export const ResultCode = {
  /** The hop took responsibility for the request (stops retransmission). */
  accepted: 0,
  /** No neighbour to forward to (all tried, local minimum, loop, or request already pending here). */
  routeUnavailable: 1,
  /** hopsRemaining reached zero before an acceptor was found. */
  hopsExhausted: 2,
  /** The sending neighbour exceeded its request budget at this hop. */
  rateLimited: 3,
  /** The requester's (or responder's) Ed25519 signature did not verify. */
  badSignature: 4,
  /** Timestamp outside the ±20 min window. */
  badTimestamp: 5,
  /** Replay: (regID, timestamp) or the ephemeral key was seen recently. */
  duplicate: 6,
  /** PoW2 missing, expired or wrong (entry peer only). */
  badPow: 7,
  /** epEndpoint is not this entry peer's public endpoint, or an endpoint is unusable. */
  badEndpoint: 8,
  /** The next hop did not answer within the retransmission window (FAILURE only). */
  noResponse: 9,
  /** The responder declined (INVITE from an unknown requester, no capacity for a new neighbour). */
  declined: 10,
  /** The hop is overloaded (queue bound reached) and sheds the request. */
  overloaded: 11,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];
export const resultCodeMax = 11;

/** PoW1 response status. The challenge is present exactly when status is `ok`. */
export const Pow1Status = {
  ok: 0,
  rejected: 1,
  badTimestamp: 2,
  badPublicIp: 3,
  tryAgainLater: 4,
} as const;
export type Pow1Status = (typeof Pow1Status)[keyof typeof Pow1Status];
export const pow1StatusMax = 4;

/** Why a neighbour link is being closed (LinkClose). */
export const LinkCloseReason = {
  /** Dropped as the worst link (above soft max, or the periodic recycle). */
  evicted: 0,
  /** The peer is shutting down or unregistering this regID. */
  shuttingDown: 1,
  /** The link misbehaved (bad signatures, rate abuse). */
  misbehaviour: 2,
  /** The hard maximum of neighbours was reached. */
  tooManyNeighbours: 3,
} as const;
export type LinkCloseReason = (typeof LinkCloseReason)[keyof typeof LinkCloseReason];
export const linkCloseReasonMax = 3;

/** RegisterReq.requesterFlags bits (signed). */
export const RegisterFlags = {
  /** The requester accepts a link to another registration of its own regID (bootstrap with no neighbours). */
  allowSameRegId: 0x01,
} as const;
export const registerFlagsMask = 0x01;

/** Ping.flags bits. */
export const PingFlags = {
  /** The PONG must carry the responder's REGISTER confirmation signature (first pings of a new link). */
  confirmationSignatureRequested: 0x01,
  /** The sender has another neighbour in the same sector as the receiver (eviction hint). */
  anotherNeighbourInSameSector: 0x02,
} as const;
export const pingFlagsMask = 0x03;

/** LinkParams.natFlags bits (inside the encrypted ack1/ack2 parameters). */
export const NatFlags = {
  /** The peer's local address equals its public address (no NAT). */
  publicAddress: 0x01,
  /** Mapping changes with the destination (symmetric NAT): hole punching may fail, relay needed. */
  addressDependentMapping: 0x02,
  /** A UPnP/NAT-PMP port mapping is active. */
  portMapped: 0x04,
} as const;
export const natFlagsMask = 0x07;
