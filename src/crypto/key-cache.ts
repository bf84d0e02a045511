/**
 * A bounded least-recently-used map for native key objects.
 *
 * Why it exists: OpenSSL key objects are built from raw bytes through a parser, which costs a sizeable
 * fraction of a signature check or a Diffie-Hellman step. Protocol code hands keys around as raw bytes,
 * and the same keys recur (a neighbour's regID on every signed packet; an ephemeral private key first
 * for its public half, then for the exchange), so a small cache keyed by the key's bytes removes the
 * rebuild. It is keyed by *content*, never by array identity, so a caller that mutates or erases its
 * array can never be served a stale key object.
 *
 * A JavaScript `Map` iterates in insertion order; re-inserting on every hit keeps the least recently
 * used entry first, which is the one evicted when the cache is full.
 */
export class KeyCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(readonly entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new RangeError(`entriesMax must be a positive integer, got ${entriesMax}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  clear(): void {
    this.entries.clear();
  }
}
