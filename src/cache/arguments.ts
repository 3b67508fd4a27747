/**
 * Argument checks shared by both providers, so a mistake fails the same way with `Memory` (in
 * development) as with `Redis` (in production) instead of surfacing only against a server.
 */

export function assertTtl(ttlMs: number | undefined): void {
  if (ttlMs === undefined) return;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`cache TTL must be a positive whole number of milliseconds, not ${ttlMs}`);
  }
}

export function assertIncrement(by: number): void {
  if (!Number.isSafeInteger(by)) {
    throw new RangeError(`cache increment must be a whole number, not ${by}`);
  }
}
