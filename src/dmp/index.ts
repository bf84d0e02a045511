/**
 * The direct channel (DMP): session descriptions and the acceptance policy (session.ts), the sans-I/O
 * channel state machine (channel.ts), its bounds and knobs (config.ts), the message plaintexts
 * (plaintext.ts) and the receiver's counter window (window.ts); the messenger host (host.ts: one user's
 * contacts, outbox and channels) and the host layer beside a DRP engine (attach.ts). Specification:
 * docs/protocol.md §12.
 */
export * from './attach.js';
export * from './channel.js';
export * from './config.js';
export * from './host.js';
export * from './plaintext.js';
export * from './session.js';
export * from './window.js';
