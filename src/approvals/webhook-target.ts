/**
 * The webhook's destination and the rules of one delivery attempt: the URL parsed and checked
 * (never echoed: it may carry a token), the address the SSRF guard checked pinned as the only
 * lookup answer, the TLS trust, and which answers are retried.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { maskSecret } from '../config/mask';
import { ConfigError } from '../errors';

export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: string; status?: number }
  | { kind: 'final'; reason: string; status?: number }
  | { kind: 'blocked'; reason: string };

export const URL_KEY = 'HumanInTheLoop.NotificationWebhookUrl';

export interface Target {
  https: boolean;
  hostname: string;
  port: number;
  path: string;
  auth: string | undefined;
  /** `scheme://host:port`: all of the URL that may be logged. */
  origin: string;
}

export function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configProblem(URL_KEY, maskSecret(URL_KEY, url), 'must be an http or https URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw configProblem(URL_KEY, maskSecret(URL_KEY, url), 'must be an http or https URL');
  }
  const https = parsed.protocol === 'https:';
  const port = parsed.port ? Number(parsed.port) : https ? 443 : 80;
  const auth = parsed.username
    ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
    : undefined;
  // URL keeps IPv6 literals in brackets; the guard takes either form, a socket only the bare one.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    https,
    hostname,
    port,
    path: `${parsed.pathname}${parsed.search}`,
    auth,
    origin: `${parsed.protocol}//${parsed.hostname}:${port}`,
  };
}

/** Connection-level failures by code only: an error's message may quote the URL. */
export function networkReason(error: NodeJS.ErrnoException): string {
  if (error.code) return error.code;
  return 'the connection failed';
}

export function classifyStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const reason = `HTTP ${status}`;
  if (status === 429 || status >= 500) return { kind: 'retry', reason, status };
  return { kind: 'final', reason, status };
}

/** The socket's DNS: answers any name with the addresses the guard checked, nothing else. */
export function checkedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, entries);
    else callback(null, entries[0].address, entries[0].family);
  };
}

export function loadSecureContext(options: {
  ca?: string;
  caFile?: string;
}): SecureContext | undefined {
  let text = options.ca ?? '';
  if (options.caFile) {
    try {
      text += `\n${readFileSync(options.caFile, 'utf8')}`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new Error(`webhook CA file ${options.caFile} cannot be read (${code})`);
    }
  }
  if (!text.trim()) return undefined;
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error('the webhook CA holds no PEM certificate');
  for (const pem of pems) new X509Certificate(pem);
  return createSecureContext({ ca: [...rootCertificates, ...pems] });
}

export function configProblem(key: string, value: string, message: string): ConfigError {
  return new ConfigError([
    { key, envVar: key.replace(/\./g, '__'), source: 'configuration', value, message },
  ]);
}

export function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`approval webhook: ${name} must be a positive integer`);
  }
  return value;
}

export function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`approval webhook: ${name} must be a number of at least 0`);
  }
  return value;
}
