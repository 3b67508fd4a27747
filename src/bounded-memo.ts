/**
 * A memo for pure lookups on the hot path (rate-limit rules by subject, SSRF verdicts by
 * address, credential-header tests by name, cidr verdicts by address): the first lookup of a key
 * computes, later ones read the stored answer. Bounded: when `limit` keys are stored the memo
 * starts over, so keys that come from requests cannot grow it without end.
 */
export class BoundedMemo<K, V> {
  private readonly known = new Map<K, V>();

  constructor(private readonly limit: number) {}

  /** The stored answer for `key`, or `compute(key)`, stored. */
  get(key: K, compute: (key: K) => V): V {
    const stored = this.known.get(key);
    if (stored !== undefined || this.known.has(key)) return stored as V;
    const value = compute(key);
    if (this.known.size >= this.limit) this.known.clear();
    this.known.set(key, value);
    return value;
  }

  /** Forgets every answer (what the answers depend on changed). */
  clear(): void {
    this.known.clear();
  }
}
