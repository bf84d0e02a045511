/**
 * What the DRP engine exchanges with its driver and its application: output datagrams, events, the
 * proof-of-work jobs it needs solved, and the reasons it drops input. Everything is plain data.
 */
import type { Endpoint } from '../seams/transport.js';

/** A datagram the driver must send from the engine's socket. */
export interface Outgoing {
  readonly to: Endpoint;
  readonly bytes: Uint8Array;
}

/** A proof of work the driver must solve (in a worker on real UDP, modelled in the simulator). */
export type PowJob =
  | { readonly kind: 'pow1'; readonly timestampS: number; readonly ipv4: Uint8Array; readonly bits: number }
  | {
      readonly kind: 'pow2';
      readonly challenge: Uint8Array;
      readonly regId: Uint8Array;
      readonly bits: number;
    };

export type RegistrationFailure =
  | 'noEntryPeer'
  | 'natTestTimeout'
  | 'pow1Timeout'
  | 'powFailed'
  | 'rejected'
  | 'noResponse'
  | 'ack1Timeout'
  | 'badAck1'
  | 'punchTimeout'
  | 'alreadyConnected'
  /** The links the registration has and has promised already reach `neighborsHardMax`. */
  | 'neighbourTableFull';

export type InviteFailure =
  | 'noNeighbours'
  | 'rejected'
  | 'noResponse'
  | 'ack1Timeout'
  | 'cfmTimeout'
  | 'badAck1'
  /**
   * Searches ended at local minima of the space without the callee: two searches came back exhausted,
   * or every attempt's first hop had no neighbour closer to the callee than the requester.
   */
  | 'notFound';

export type EngineEvent =
  | { readonly type: 'powJob'; readonly jobId: number; readonly job: PowJob }
  | {
      readonly type: 'neighborUp';
      readonly peer: string;
      readonly remoteRegId: Uint8Array;
      readonly remoteEndpoint: Endpoint;
    }
  | {
      readonly type: 'neighborDown';
      readonly peer: string;
      readonly remoteRegId: Uint8Array;
      readonly reason: string;
    }
  | { readonly type: 'registered'; readonly peer: string; readonly elapsedMs: number }
  | { readonly type: 'registrationFailed'; readonly peer: string; readonly reason: RegistrationFailure }
  | {
      /** B's side of a completed INVITE: ACK2 verified, CFM sent. */
      readonly type: 'inviteReceived';
      readonly peer: string;
      readonly requesterRegId: Uint8Array;
      /** The INVITE's timestamp: with the requester's regID it names the INVITE `onInvite` answered. */
      readonly timestampMs: number;
      /** A's session description (decrypted, not judged: the application decides whether to use it). */
      readonly sessionDescription: Uint8Array;
      readonly hopsRemaining: number;
      /** The INVITE's transaction id (vision records carry it as `tx`: its route). */
      readonly tx: string;
      /** The INVITE's key material for the direct channel (see `InviteKeys`). */
      readonly keys: InviteKeys;
    }
  | {
      /** A's side of a completed INVITE: CFM verified. */
      readonly type: 'inviteCompleted';
      readonly peer: string;
      readonly inviteId: number;
      readonly responderRegId: Uint8Array;
      readonly sessionDescription: Uint8Array;
      readonly elapsedMs: number;
      /** The transaction id of the attempt that completed (vision records carry it as `tx`: its route). */
      readonly tx: string;
      readonly keys: InviteKeys;
    }
  | {
      readonly type: 'inviteFailed';
      readonly peer: string;
      readonly inviteId: number;
      readonly responderRegId: Uint8Array;
      readonly reason: InviteFailure;
      /** Transaction ids of each attempt (vision records carry them as `tx`). */
      readonly attemptTxIds: readonly string[];
      readonly elapsedMs: number;
    };

/**
 * What a completed INVITE hands the application on both sides for the direct channel (docs/protocol.md
 * §7.4): the X25519 secret of the two INVITE ephemerals and the INVITE transcript that salts every key
 * derived from it (`dmpPingKdfTranscript(req, ack1, ack2, cfm)`, src/wire/invite.ts). The engine keeps
 * no copy: the secret belongs to the receiver of the event, which should derive its keys and zero it.
 */
export interface InviteKeys {
  readonly inviteSecret: Uint8Array;
  readonly transcript: Uint8Array;
}

/**
 * An INVITE that reached its responder (B), before B answers. The application answers with its own
 * session description, or null to ignore it (no answer at all). It sees A's session description only
 * later, in `inviteReceived` (ACK2): here it can only pre-check A (a known regID, a valid invitation
 * token).
 */
export interface InviteRequestInfo {
  readonly localRegId: Uint8Array;
  readonly requesterRegId: Uint8Array;
  readonly contactInvitationToken: Uint8Array | null;
  /** Names this INVITE together with `requesterRegId` (repeated in `inviteReceived`). */
  readonly timestampMs: number;
}

export type InviteHandler = (info: InviteRequestInfo) => Uint8Array | null;

/**
 * A relayed direct-channel datagram (Relay, PacketType 36) that reached a local registration: `payload`
 * is the DMP datagram, end-to-end authenticated by the channel (./relay.ts). Called synchronously from the
 * receive path; the handler must not call back into the engine's receive path.
 */
export type RelayHandler = (datagram: { readonly peer: LocalPeerRef; readonly payload: Uint8Array }) => void;

/** The registration a relayed datagram is for (the engine's `LocalPeer`). */
export interface LocalPeerRef {
  readonly name: string;
  readonly regId: Uint8Array;
}

/** Why an input datagram was dropped; counted per engine. */
export const dropReasons = [
  'decode',
  'unknownToken',
  'badMac',
  'wrongSource',
  'badSignature',
  'badTimestamp',
  'replay',
  'badPow',
  'rateLimited',
  'unexpected',
  'badCiphertext',
  'tableFull',
  'notEntryPeer',
] as const;
export type DropReason = (typeof dropReasons)[number];

/**
 * Something a driver runs beside its engine on the same socket (the direct-channel host, src/dmp). The
 * driver offers it every received datagram before the engine, shows it every engine event, wakes it at
 * its own deadline (the driver's wake-up is the earlier of the engine's and this one's) and sends its
 * datagrams from the engine's socket. The engine knows nothing of it.
 */
export interface DriverAttachment {
  /** A received datagram; returns true when it took it (the engine does not see it then). */
  takeDatagram(now: number, from: Endpoint, bytes: Uint8Array): boolean;
  onEngineEvent(now: number, e: EngineEvent): void;
  onTimer(now: number): void;
  /** When `onTimer` must run next (ms), or Infinity. */
  nextDeadline(): number;
  /** Hands queued datagrams to the driver. */
  drain(send: (o: Outgoing) => void): void;
}
