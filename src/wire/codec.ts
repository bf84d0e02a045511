/**
 * The shape of a packet codec: a type number, a name, the ordered field schema, and an optional
 * cross-field rule. Family modules (register.ts, invite.ts, …) declare one `PacketCodec` per packet;
 * datagram.ts dispatches on the type byte.
 */
import type { FieldSpec } from './schema.js';

export interface PacketCodec<P extends { readonly type: number }> {
  readonly type: P['type'];
  readonly name: string;
  readonly fields: readonly FieldSpec<Exclude<keyof P & string, 'type'>>[];
  /** Cross-field rule on an otherwise valid packet: the offending field's name, or null. */
  readonly refine?: (p: P) => string | null;
}

export function defineCodec<P extends { readonly type: number }>(codec: PacketCodec<P>): PacketCodec<P> {
  return codec;
}

/**
 * Link token and link MAC travel together: both present (the packet goes over a neighbour link)
 * or both nil (entry mode, A ↔ EP, before any key exists). Returns the offending field or null.
 */
export function linkModeRule(p: {
  readonly linkToken: number | null;
  readonly linkMac: Uint8Array | null;
}): string | null {
  return (p.linkToken === null) !== (p.linkMac === null) ? 'linkMac' : null;
}
