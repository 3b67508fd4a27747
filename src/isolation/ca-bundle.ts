/**
 * The CA trust `vectra run` gives the child. Vectra terminates the child's TLS with its own CA,
 * so the child must trust that CA — and still every public root, for hosts in NO_PROXY. Tools
 * disagree on how to add a CA: most replace their trust store with one file (SSL_CERT_FILE,
 * REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, …), so they get a bundle of the system roots plus Vectra's
 * CA; Node adds NODE_EXTRA_CA_CERTS to its own roots, so it gets Vectra's CA alone.
 *
 * The files live in a private temporary directory (0700) removed when the child exits.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { EXIT, GatewayError } from '../errors';
import { RunError } from './run-mode';

/** Where distributions keep their root bundle; the first readable one is added. */
export const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/cert.pem', // macOS, BSDs
] as const;

export const VECTRA_CA_FILE = 'vectra-ca.pem';
export const BUNDLE_FILE = 'ca-bundle.pem';

/** GET {addr}/v1/ca.pem (no authentication): Vectra's CA certificate, checked to be one. */
export async function fetchGatewayCa(
  addr: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = 30_000,
): Promise<string> {
  const url = `${addr}/v1/ca.pem`;
  let res: Response;
  try {
    res = await fetchImpl(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.name);
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `no answer from ${addr} (${why}); check --addr and that \`vectra serve\` runs there`,
      { cause: err },
    );
  }
  const text = await res.text().catch(() => '');
  if (res.status !== 200) {
    throw new RunError(
      `the gateway did not serve its CA certificate: GET ${url} answered HTTP ${res.status}`,
      EXIT.FAILURE,
      'is --addr the API address of a Vectra gateway of this version?',
    );
  }
  return checkedCa(text, url);
}

/** The PEM trimmed to its certificate, or a RunError when it is not a CA certificate. */
export function checkedCa(text: string, from: string): string {
  const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  let ca = false;
  try {
    ca = match !== null && new X509Certificate(match[0]).ca;
  } catch {
    ca = false;
  }
  if (!match || !ca) {
    throw new RunError(`${from} did not answer with a PEM CA certificate`, EXIT.FAILURE);
  }
  return `${match[0]}\n`;
}

export interface BundleSources {
  /** Node's compiled-in roots (Mozilla's list). */
  roots?: readonly string[];
  /** Candidate system bundles; the first readable one is added (local additions live there). */
  systemBundles?: readonly string[];
}

/** System roots (Node's, plus the distribution's bundle when readable), then Vectra's CA. */
export function buildBundle(vectraCa: string, sources: BundleSources = {}): string {
  const parts = [...(sources.roots ?? rootCertificates)];
  const system = readFirst(sources.systemBundles ?? SYSTEM_BUNDLES);
  if (system !== undefined) parts.push(system);
  parts.push(vectraCa);
  return `${parts.map((p) => p.trim()).join('\n')}\n`;
}

function readFirst(files: readonly string[]): string | undefined {
  for (const file of files) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      // Absent or unreadable: try the next one.
    }
  }
  return undefined;
}

export interface CaFiles {
  dir: string;
  /** Vectra's CA alone (NODE_EXTRA_CA_CERTS). */
  vectraCa: string;
  /** System roots plus Vectra's CA (SSL_CERT_FILE and friends). */
  bundle: string;
  /** Removes the directory; safe to call twice. */
  remove(): void;
}

/** Writes both files into a fresh private directory under `parent` (the system temp dir). */
export function writeCaFiles(
  vectraCa: string,
  sources: BundleSources = {},
  parent: string = tmpdir(),
): CaFiles {
  const dir = mkdtempSync(join(parent, 'vectra-run-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    chmodSync(dir, 0o700);
    const files = { vectraCa: join(dir, VECTRA_CA_FILE), bundle: join(dir, BUNDLE_FILE) };
    writeFileSync(files.vectraCa, vectraCa, { mode: 0o600 });
    writeFileSync(files.bundle, buildBundle(vectraCa, sources), { mode: 0o600 });
    return { dir, ...files, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
