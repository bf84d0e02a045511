/**
 * Small, fast, non-cryptographic hashes for the simulator's event hash. Nothing here protects against an
 * adversary; they only make two runs comparable event by event.
 */

/** FNV-1a over bytes, u32. Used as the `detail` of datagram events. */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over a string's UTF-16 code units, u32. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A running 64-bit hash (two u32 lanes, murmur-style mixing) of a sequence of numbers. Order-sensitive:
 * the same numbers in another order give another hash.
 */
export class RunningHash {
  private hi = 0x6a09e667;
  private lo = 0xbb67ae85;

  /** Mixes a non-negative integer < 2^53 (or any finite double) into the hash. */
  add(x: number): void {
    const low = x >>> 0;
    const high = Math.floor(x / 0x1_0000_0000) >>> 0;
    this.mix(low);
    this.mix(high);
  }

  private mix(k: number): void {
    let k1 = Math.imul(k, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    let lo = this.lo ^ k1;
    lo = (lo << 13) | (lo >>> 19);
    lo = (Math.imul(lo, 5) + 0xe6546b64) | 0;
    let hi = (this.hi + lo) | 0;
    hi = Math.imul(hi ^ (hi >>> 16), 0x85ebca6b);
    this.lo = lo;
    this.hi = hi ^ (hi >>> 13);
  }

  /** 16 hex digits. */
  hex(): string {
    return (this.hi >>> 0).toString(16).padStart(8, '0') + (this.lo >>> 0).toString(16).padStart(8, '0');
  }
}
