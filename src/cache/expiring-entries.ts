/** A map entry that carries the time it expires, read against an injected clock. */
export interface Expiring<V> {
  value: V;
  expiresAt: number;
}

/** The value stored at `key` while it lives; an expired entry is deleted on the way. */
export function liveValue<V>(
  entries: Map<string, Expiring<V>>,
  key: string,
  now: () => number,
): V | undefined {
  const entry = entries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt <= now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.value;
}
