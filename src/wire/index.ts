/**
 * The DRP wire format: packet types, schemas, codec, covered bytes for signatures and MACs, KDF
 * transcripts and labels, limits and decode error codes. Specification: docs/protocol.md.
 */
export * from './constants.js';
export * from './datagram.js';
export * from './dmp.js';
export * from './endpoint.js';
export * from './entry.js';
export * from './invite.js';
export * from './labels.js';
export * from './link.js';
export * from './mac.js';
export * from './register.js';
export * from './relay.js';
export {
  bytesEqual,
  type DecodeErrorCode,
  type DecodeFailure,
  decodeErrorCodes,
  type FieldKind,
  type FieldSpec,
  type WireEndpoint,
} from './schema.js';
