/**
 * The receiving side's record of packet counters: replay protection and what to acknowledge.
 *
 * Each direction of a channel numbers every AEAD packet (MessageStart, MessagePart, MessageAck) from 0
 * upwards and never reuses a number, so the counter is both the AEAD nonce and the packet's identity.
 *
 * - **Replay window** (as IPsec's): the highest counter accepted and a ring bitmap of the
 *   `sizePackets` counters below it. A counter is new if it is above the highest, or inside the window
 *   with its bit clear; at or below highest − size it is refused as too old (it may be a replay we can no
 *   longer tell apart). `check` runs before the AEAD open (cheap refusal), `mark` only after the packet
 *   authenticated and was accepted, so forged counters never move the window.
 * - **Acknowledgement state**: `base` is the first counter not yet known to be done, where done means
 *   received or released by the sender's `ackFloor` (./plaintext.ts). MessageAck carries
 *   `cumulativeAck = base − 1` (nil while base is 0) and a bitmap of the `selectiveAckCounters`
 *   counters from base up. A counter below the replay window that never arrived stays not-done until the
 *   floor passes it: acknowledging it would be a lie the sender acts on.
 */
import { selectiveAckCounters } from './config.js';

export type CounterCheck = 'new' | 'replay' | 'tooOld';

export class ReceiveWindow {
  private readonly bits: Uint32Array;
  /** Highest counter marked, −1 before any. */
  highest = -1;
  /** Every counter below this is received or released. */
  base = 0;

  constructor(readonly sizePackets: number) {
    if (!Number.isInteger(sizePackets) || sizePackets < 32 || sizePackets % 32 !== 0) {
      throw new RangeError(
        `ReceiveWindow: sizePackets must be a positive multiple of 32, got ${sizePackets}`,
      );
    }
    this.bits = new Uint32Array(sizePackets / 32);
  }

  private bit(c: number): boolean {
    const i = c % this.sizePackets;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Whether counter `c` may be accepted (before authenticating it). */
  check(c: number): CounterCheck {
    if (c > this.highest) return 'new';
    if (c <= this.highest - this.sizePackets) return 'tooOld';
    return this.bit(c) ? 'replay' : 'new';
  }

  /** Whether `c` is known received (false when it fell out of the window or never arrived). */
  received(c: number): boolean {
    if (c > this.highest || c <= this.highest - this.sizePackets) return false;
    return this.bit(c);
  }

  /** Records an authenticated, accepted counter (one `check` said `new`). */
  mark(c: number): void {
    if (c > this.highest) {
      const gap = c - this.highest;
      if (gap >= this.sizePackets) this.bits.fill(0);
      else for (let k = this.highest + 1; k < c; k++) this.clear(k);
      this.highest = c;
    }
    const i = c % this.sizePackets;
    this.bits[i >>> 5]! |= 1 << (i & 31);
    this.advance();
  }

  /** The sender released every counter below `floor`. */
  release(floor: number): void {
    if (floor > this.base) this.base = floor;
    this.advance();
  }

  private clear(c: number): void {
    const i = c % this.sizePackets;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  private advance(): void {
    while (this.base <= this.highest && this.received(this.base)) this.base++;
  }

  /** Fields of a MessageAck describing this window. */
  ackFields(): { readonly cumulativeAck: number | null; readonly selectiveAck: Uint8Array } {
    const bitmap = new Uint8Array(selectiveAckCounters / 8);
    let used = 0;
    const last = Math.min(this.highest, this.base + selectiveAckCounters - 1);
    for (let c = this.base + 1; c <= last; c++) {
      if (this.received(c)) {
        const i = c - this.base;
        bitmap[i >>> 3]! |= 1 << (i & 7);
        used = (i >>> 3) + 1;
      }
    }
    return {
      cumulativeAck: this.base === 0 ? null : this.base - 1,
      selectiveAck: bitmap.slice(0, used),
    };
  }
}

/** Whether a MessageAck (`cumulativeAck`, `selectiveAck`) acknowledges counter `c`. */
export function ackCovers(cumulativeAck: number | null, selectiveAck: Uint8Array, c: number): boolean {
  if (cumulativeAck !== null && c <= cumulativeAck) return true;
  const i = c - (cumulativeAck ?? -1) - 1;
  if (i < 0 || i >= selectiveAck.length * 8) return false;
  return (selectiveAck[i >>> 3]! & (1 << (i & 7))) !== 0;
}
