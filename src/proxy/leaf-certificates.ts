/**
 * The TLS identities the MITM listener presents: one SecureContext per host (leaf certificate
 * + its own key + the CA), minted on first use and kept in an LRU of System.Proxy.LeafCacheSize.
 *
 * - Keys come from a pool filled in the background (./key-pool.ts), one key per host.
 * - A leaf is valid from now − 1 h (clients with a slow clock) for LeafValidityHours, and is
 *   replaced on the first use inside its renewal window: the last quarter of its validity, or
 *   the last 24 h when that is shorter. Minting takes milliseconds, so the request that finds a
 *   stale entry simply waits for the new one.
 * - Concurrent first requests for one host share one mint.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { GatewayError } from '../errors';
import type { CertificateAuthority } from './certificate-authority';
import { createKeyPool, type KeyPool } from './key-pool';

export interface LeafCertificateCacheOptions {
  ca: CertificateAuthority;
  /** Most hosts kept (LRU). */
  size: number;
  validityHours: number;
  now?: () => Date;
  /** Shared pool; when absent the cache makes (and closes) its own. */
  keys?: KeyPool;
  /**
   * Told where each context came from: the cache, or a mint (a request that joins a mint
   * already under way counts as `cache`: it minted nothing). Must not throw.
   */
  onLookup?: (source: 'cache' | 'minted') => void;
}

export interface LeafCertificateCache {
  /** The context for `host` (SNI name or CONNECT host; any case, IPv6 with or without brackets). */
  secureContextFor(host: string): Promise<SecureContext>;
  /** Whether a usable (not yet due for renewal) leaf is cached; does not touch the LRU order. */
  has(host: string): boolean;
  size(): number;
  close(): void;
}

interface Entry {
  context: SecureContext;
  renewAt: number;
}

const HOUR_MS = 3600_000;
const CLOCK_SKEW_MS = HOUR_MS;
const MAX_RENEWAL_WINDOW_MS = 24 * HOUR_MS;

/** Lower case, no brackets around IPv6, no trailing dot: one cache entry per host. */
export function normalizeLeafHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

export function createLeafCertificateCache(
  options: LeafCertificateCacheOptions,
): LeafCertificateCache {
  const { ca } = options;
  if (!Number.isInteger(options.size) || options.size < 1) {
    throw new RangeError('the leaf cache size must be a positive integer');
  }
  if (!(options.validityHours > 0)) throw new RangeError('validityHours must be positive');
  const now = options.now ?? (() => new Date());
  const keys = options.keys ?? createKeyPool();
  const ownsKeys = options.keys === undefined;
  const validityMs = options.validityHours * HOUR_MS;
  const renewalWindowMs = Math.min(validityMs / 4, MAX_RENEWAL_WINDOW_MS);
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  const entries = new Map<string, Entry>();
  const minting = new Map<string, Promise<SecureContext>>();
  let closed = false;

  const fresh = (entry: Entry | undefined): entry is Entry =>
    entry !== undefined && now().getTime() < entry.renewAt;

  async function mint(host: string): Promise<SecureContext> {
    const key = await keys.take();
    const start = now().getTime();
    const notAfter = start + validityMs;
    const leafPem = ca.issueLeaf(host, key.publicKeyPem, {
      notBefore: new Date(start - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
    });
    const context = createSecureContext({
      key: key.privateKeyPem,
      cert: `${leafPem}${ca.certPem}`,
    });
    if (!closed) {
      entries.delete(host);
      entries.set(host, { context, renewAt: notAfter - renewalWindowMs });
      while (entries.size > options.size) {
        entries.delete(entries.keys().next().value as string);
      }
    }
    return context;
  }

  return {
    async secureContextFor(rawHost) {
      if (closed)
        throw new GatewayError('VEC_INTERNAL_ERROR', 'the leaf certificate cache is closed');
      const host = normalizeLeafHost(rawHost);
      const entry = entries.get(host);
      if (fresh(entry)) {
        entries.delete(host);
        entries.set(host, entry);
        options.onLookup?.('cache');
        return entry.context;
      }
      const pending = minting.get(host);
      options.onLookup?.(pending ? 'cache' : 'minted');
      if (pending) return pending;
      const minted = mint(host).finally(() => minting.delete(host));
      minting.set(host, minted);
      return minted;
    },
    has: (host) => fresh(entries.get(normalizeLeafHost(host))),
    size: () => entries.size,
    close() {
      closed = true;
      entries.clear();
      if (ownsKeys) keys.close();
    },
  };
}
