/**
 * IP addresses and CIDR blocks as numbers, for the SSRF guard (src/proxy/ssrf-guard.ts).
 *
 * An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) *is* the IPv4 address on a dual-stack socket,
 * so it is normalised to IPv4 before any comparison. Other IPv6 forms only carry an IPv4
 * address (IPv4-compatible, NAT64, 6to4, Teredo); `embeddedIpv4` extracts it so the guard can
 * check it as IPv4 as well, because a translator or relay on the path may deliver the packet to
 * that IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  /** The address as an unsigned 32- or 128-bit number. */
  readonly value: bigint;
}

export interface Cidr extends IpAddress {
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefix: number;
  /** The block as written in the configuration, for messages. */
  readonly text: string;
}

export type EmbeddingForm =
  'IPv4-mapped' | 'IPv4-translated' | 'IPv4-compatible' | 'NAT64' | '6to4' | 'Teredo';

export interface EmbeddedIpv4 {
  readonly form: EmbeddingForm;
  /** The carried IPv4 address, dotted quad. */
  readonly ipv4: string;
}

const IPV4_MASK = 0xffffffffn;
const BITS = { 4: 32, 6: 128 } as const;

/** Parses an IPv4 or IPv6 literal (IPv6 without brackets; a zone like `%eth0` is ignored). */
export function parseAddress(text: string): IpAddress | undefined {
  const trimmed = text.trim();
  if (isIPv4(trimmed)) return { family: 4, value: ipv4ToNumber(trimmed) };
  const withoutZone = trimmed.split('%')[0];
  if (!isIPv6(withoutZone)) return undefined;
  return { family: 6, value: ipv6ToNumber(withoutZone) };
}

/**
 * Parses `a.b.c.d/n` or `x::y/n`; a bare address means a single host (/32 or /128). Host bits
 * set below the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`). Throws a RangeError naming
 * the text when it is not a CIDR.
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = parseAddress(slash === -1 ? trimmed : trimmed.slice(0, slash));
  if (!address || trimmed.includes('%')) {
    throw new RangeError(`"${text}" is not an IPv4 or IPv6 CIDR (like 10.0.0.0/8 or fc00::/7)`);
  }
  const width = BITS[address.family];
  const prefixText = slash === -1 ? String(width) : trimmed.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > width) {
    throw new RangeError(`"${text}" has an invalid prefix length (0 to ${width})`);
  }
  return {
    family: address.family,
    value: address.value & prefixMask(address.family, prefix),
    prefix,
    text: trimmed,
  };
}

/** Whether `address` lies in `cidr`; an IPv4-mapped address and its IPv4 form are the same. */
export function contains(cidr: Cidr | string, address: IpAddress | string): boolean {
  const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const parsed = typeof address === 'string' ? parseAddress(address) : address;
  if (!parsed) return false;
  const candidate = sameFamily(normalizeMapped(parsed), block.family);
  if (!candidate) return false;
  return (candidate.value & prefixMask(block.family, block.prefix)) === block.value;
}

/** `::ffff:a.b.c.d` → `a.b.c.d`; every other address unchanged. */
export function normalizeMapped(address: IpAddress): IpAddress {
  if (address.family === 6 && address.value >> 32n === 0xffffn) {
    return { family: 4, value: address.value & IPV4_MASK };
  }
  return address;
}

/**
 * The IPv4 addresses an IPv6 address carries, with the form that carries them. Teredo yields
 * two: the server (bits 32..63) and the client (the last 32 bits, inverted).
 */
export function embeddedIpv4(address: IpAddress): EmbeddedIpv4[] {
  if (address.family !== 6) return [];
  const v = address.value;
  const low = v & IPV4_MASK;
  const found: Array<[EmbeddingForm, bigint]> = [];
  if (v >> 32n === 0xffffn) found.push(['IPv4-mapped', low]);
  else if (v >> 32n === 0xffff0000n) found.push(['IPv4-translated', low]);
  else if (v >> 32n === 0n && v > 1n) found.push(['IPv4-compatible', low]);
  else if (v >> 32n === 0x0064ff9b0000000000000000n) found.push(['NAT64', low]);
  else if (v >> 112n === 0x2002n) found.push(['6to4', (v >> 80n) & IPV4_MASK]);
  else if (v >> 96n === 0x20010000n) {
    found.push(['Teredo', (v >> 64n) & IPV4_MASK], ['Teredo', ~low & IPV4_MASK]);
  }
  return found.map(([form, ipv4]) => ({ form, ipv4: formatIpv4(ipv4) }));
}

export function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function sameFamily(address: IpAddress, family: 4 | 6): IpAddress | undefined {
  if (address.family === family) return address;
  // An IPv4 address against an IPv6 block: compare its mapped form (::ffff:a.b.c.d).
  if (family === 6) return { family: 6, value: (0xffffn << 32n) | address.value };
  return undefined;
}

function prefixMask(family: 4 | 6, prefix: number): bigint {
  const width = BigInt(BITS[family]);
  const all = (1n << width) - 1n;
  return (all << (width - BigInt(prefix))) & all;
}

function ipv4ToNumber(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Expects text that passed `isIPv6` (so `::` occurs at most once). */
function ipv6ToNumber(text: string): bigint {
  let body = text;
  if (body.includes('.')) {
    // A trailing dotted quad stands for the last two groups.
    const cut = body.lastIndexOf(':') + 1;
    const v4 = ipv4ToNumber(body.slice(cut));
    body = `${body.slice(0, cut)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = body.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const before = groups(head);
  const after = groups(tail);
  const zeros = tail === undefined ? [] : Array(8 - before.length - after.length).fill('0');
  return [...before, ...zeros, ...after].reduce(
    (acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)),
    0n,
  );
}
