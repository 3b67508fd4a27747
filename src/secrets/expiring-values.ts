/**
 * A small in-memory map whose entries expire after a fixed time, by an injected clock. Used to
 * keep secrets fetched from a remote provider for a short while, so a burst of requests is one
 * lookup, while a rotated value still shows up within that time.
 */
export class ExpiringValues {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: string): void {
    if (this.ttlMs <= 0) return;
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }
}
