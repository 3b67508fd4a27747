/**
 * The SSRF guard (DESIGN.md, "Security invariants"): resolve a host once, check EVERY address it
 * resolves to, and hand back the checked addresses so the caller dials one of them and never
 * looks the name up again (a second lookup is how DNS rebinding slips a private address past a
 * check). One bad address blocks the host: an attacker controlling the DNS answer chooses which
 * one a client would dial.
 *
 * Order of the checks for each address:
 *  1. cloud metadata endpoints: always blocked, even inside an allow-listed range;
 *  2. System.Proxy.NetworkAllowlist: an allow-listed address is let through;
 *  3. special-purpose ranges (loopback, private, link-local, CGNAT, unspecified, multicast,
 *     reserved): blocked;
 *  4. IPv6 forms that carry an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo): blocked when
 *     the carried IPv4 address is one of the ranges above. Allowing 127.0.0.0/8 does not allow
 *     `2002:7f00:1::`; allow the IPv6 form itself with an IPv6 CIDR if that is intended.
 *     IPv4-mapped addresses (`::ffff:a.b.c.d`) are simply the IPv4 address (see src/http/cidr.ts).
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { BoundedMemo } from '../bounded-memo';
import { ConfigError, GatewayError } from '../errors';
import {
  embeddedIpv4,
  normalizeMapped,
  parseAddress,
  parseCidr,
  contains,
  type Cidr,
} from '../http/cidr';

/** `dns.promises.lookup` with `{ all: true }`; injectable so tests can play a rebinding DNS. */
export type HostLookup = (
  hostname: string,
  options: { all: true; verbatim: true },
) => Promise<LookupAddress[]>;

export interface SsrfGuardOptions {
  /** System.Proxy.NetworkAllowlist: comma-separated CIDRs. */
  allowlist: string;
  lookup?: HostLookup;
}

export interface SsrfGuard {
  /** Resolves `host` (an IP literal skips DNS) and returns its addresses once all are checked. */
  resolve(host: string): Promise<string[]>;
  /** Why `address` must not be dialled (e.g. "loopback"), or undefined when it may be. */
  check(address: string): string | undefined;
}

/**
 * Cloud instance-metadata endpoints: they hand out instance credentials, so no allow-list opens
 * them. 169.254.169.254: AWS, GCP, Azure IMDS, OpenStack, DigitalOcean, Oracle and others;
 * 169.254.170.2: AWS ECS task credentials; fd00:ec2::254: AWS IMDS over IPv6;
 * 100.100.100.200: Alibaba Cloud; 168.63.129.16: Azure WireServer; 192.0.0.192: Oracle Cloud
 * (legacy).
 */
export const METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254',
  '169.254.170.2',
  'fd00:ec2::254',
  '100.100.100.200',
  '168.63.129.16',
  '192.0.0.192',
];

/** Special-purpose ranges blocked unless allow-listed, with the kind named in the refusal. */
export const BLOCKED_RANGES: ReadonlyArray<{ cidr: string; kind: string }> = [
  { cidr: '0.0.0.0/8', kind: 'unspecified' },
  { cidr: '127.0.0.0/8', kind: 'loopback' },
  { cidr: '10.0.0.0/8', kind: 'private' },
  { cidr: '172.16.0.0/12', kind: 'private' },
  { cidr: '192.168.0.0/16', kind: 'private' },
  { cidr: '169.254.0.0/16', kind: 'link-local' },
  { cidr: '100.64.0.0/10', kind: 'CGNAT (shared)' },
  { cidr: '192.0.0.0/24', kind: 'reserved (IETF protocol assignments)' },
  { cidr: '192.0.2.0/24', kind: 'reserved (documentation)' },
  { cidr: '198.51.100.0/24', kind: 'reserved (documentation)' },
  { cidr: '203.0.113.0/24', kind: 'reserved (documentation)' },
  { cidr: '192.88.99.0/24', kind: 'reserved (6to4 relay)' },
  { cidr: '198.18.0.0/15', kind: 'reserved (benchmarking)' },
  { cidr: '224.0.0.0/4', kind: 'multicast' },
  { cidr: '240.0.0.0/4', kind: 'reserved or broadcast' },
  { cidr: '::/128', kind: 'unspecified' },
  { cidr: '::1/128', kind: 'loopback' },
  { cidr: 'fc00::/7', kind: 'private (unique local)' },
  { cidr: 'fe80::/10', kind: 'link-local' },
  { cidr: 'fec0::/10', kind: 'private (site-local)' },
  { cidr: 'ff00::/8', kind: 'multicast' },
  { cidr: '100::/64', kind: 'reserved (discard)' },
  { cidr: '2001:db8::/32', kind: 'reserved (documentation)' },
  { cidr: '64:ff9b:1::/48', kind: 'private (local-use NAT64)' },
];

const ALLOWLIST_KEY = 'System.Proxy.NetworkAllowlist';
const METADATA = METADATA_ADDRESSES.map((address) => parseCidr(address));
const RANGES = BLOCKED_RANGES.map(({ cidr, kind }) => ({ block: parseCidr(cidr), kind }));

export function createSsrfGuard(options: SsrfGuardOptions): SsrfGuard {
  const allowed = parseAllowlist(options.allowlist);
  const lookup: HostLookup = options.lookup ?? ((host, opts) => dns.lookup(host, opts));

  /**
   * Verdicts by address (a pure function of the address and the allowlist), so the hot path does
   * not re-parse and re-match every range on every request. Bounded: cleared when full.
   */
  const verdicts = new BoundedMemo<string, string | undefined>(4096);

  function check(address: string): string | undefined {
    return verdicts.get(address, classify);
  }

  function classify(address: string): string | undefined {
    const parsed = parseAddress(address);
    if (!parsed) return 'unparseable';
    const address4 = normalizeMapped(parsed);
    const carried = embeddedIpv4(parsed).filter((e) => e.form !== 'IPv4-mapped');
    const isMetadata = (candidate: string | typeof parsed) =>
      METADATA.some((block) => contains(block, candidate));
    if (isMetadata(address4) || carried.some((e) => isMetadata(e.ipv4))) return 'cloud metadata';
    if (allowed.some((block) => contains(block, address4))) return undefined;
    const range = RANGES.find(({ block }) => contains(block, address4));
    if (range) return range.kind;
    for (const { form, ipv4 } of carried) {
      const inner = RANGES.find(({ block }) => contains(block, ipv4));
      if (inner) return `${form} IPv6 carrying a ${inner.kind} IPv4`;
    }
    return undefined;
  }

  async function resolve(host: string): Promise<string[]> {
    const name = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const addresses = isIP(name) ? [name] : await lookupAll(name);
    for (const address of addresses) {
      const kind = check(address);
      if (kind) {
        throw new GatewayError(
          'VEC_UPSTREAM_BLOCKED',
          `${host} resolves to a blocked address (${kind}); Vectra does not connect to it` +
            (kind === 'cloud metadata' ? '.' : `; allow it with ${ALLOWLIST_KEY} if intended.`),
          { context: { host, addressKind: kind } },
        );
      }
    }
    return addresses;
  }

  async function lookupAll(name: string): Promise<string[]> {
    let answers: LookupAddress[];
    try {
      answers = await lookup(name, { all: true, verbatim: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'lookup failed';
      throw new GatewayError('VEC_UPSTREAM_UNREACHABLE', `could not resolve ${name} (${code})`, {
        cause: error,
      });
    }
    const unique = [...new Set(answers.map((answer) => answer.address))];
    if (unique.length === 0) {
      throw new GatewayError('VEC_UPSTREAM_UNREACHABLE', `${name} resolves to no address`);
    }
    return unique;
  }

  return { resolve, check };
}

function parseAllowlist(text: string): Cidr[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const blocks: Cidr[] = [];
  const problems: string[] = [];
  for (const entry of entries) {
    try {
      blocks.push(parseCidr(entry));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError([
      {
        key: ALLOWLIST_KEY,
        envVar: ALLOWLIST_KEY.replace(/\./g, '__'),
        source: 'configuration',
        value: text,
        message: `must be comma-separated CIDRs: ${problems.join('; ')}`,
      },
    ]);
  }
  return blocks;
}
