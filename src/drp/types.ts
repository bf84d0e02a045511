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
  | 'alreadyConnected';

export type InviteFailure =
  | 'noNeighbours'
  | 'rejected'
  | 'noResponse'
  | 'ack1Timeout'
  | 'cfmTimeout'
  | 'badAck1';

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
      readonly type: 'inviteReceived';
      readonly peer: string;
      readonly requesterRegId: Uint8Array;
      readonly sessionDescription: Uint8Array;
      readonly hopsRemaining: number;
    }
  | {
      readonly type: 'inviteCompleted';
      readonly peer: string;
      readonly inviteId: number;
      readonly responderRegId: Uint8Array;
      readonly sessionDescription: Uint8Array;
      readonly elapsedMs: number;
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

/** The application's answer to an INVITE: its own session description, or null to ignore it. */
export interface InviteRequestInfo {
  readonly localRegId: Uint8Array;
  readonly requesterRegId: Uint8Array;
  readonly contactInvitationToken: Uint8Array | null;
}

export type InviteHandler = (info: InviteRequestInfo) => Uint8Array | null;

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
