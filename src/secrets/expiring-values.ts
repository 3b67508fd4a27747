/**
 * A small in-memory map whose entries expire after a fixed time, by an injected clock. Used to
 * keep secrets fetched from a remote provider for a short while, so a burst of requests is one
 * lookup, while a rotated value still shows up within that time.
 */
import { liveValue, type Expiring } from '../cache/expiring-entries';

export class ExpiringValues {
  private readonly entries = new Map<string, Expiring<string>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string): string | undefined {
    return liveValue(this.entries, key, this.now);
  }

  set(key: string, value: string): void {
    if (this.ttlMs <= 0) return;
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }
}
