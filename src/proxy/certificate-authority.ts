/**
 * The certificate authority behind TLS interception: it signs one short-lived leaf certificate
 * per host (./leaf-certificates.ts caches them). Where it comes from, in order:
 *
 *   - operator files: System.Proxy.CaCertFile + CaKeyFile (RSA or EC), checked at start-up
 *     (a CA, not expired, key matches) so a bad pair stops `serve` with the key named;
 *   - the settings row `proxy.ca`: generated on the first start (RSA 2048, 10 years), the
 *     private key encrypted with the vault's data key (AAD `proxy-ca-key`), never in clear.
 *
 * Certificates are laid out with node-forge's ASN.1 tools, but signed with node:crypto: forge's
 * pure-JS RSA takes tens of milliseconds per signature, OpenSSL well under one. The same native
 * path lets the CA be EC and the leaf keys EC (forge's certificate API only knows RSA keys).
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { ProxyConfig } from '../config/schema';
import { ConfigError, GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { SettingsRepository } from '../storage/types';
import type { Cipher } from '../vault/crypto';

export interface LeafValidity {
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateAuthority {
  /** The CA certificate (PEM): what clients trust, and the chain sent after each leaf. */
  readonly certPem: string;
  /** SHA-256 fingerprint (`AB:CD:…`), safe to log and show. */
  readonly fingerprint256: string;
  readonly notAfter: Date;
  /** What `GET /v1/ca.pem` serves: the CA certificate, never the key. */
  caPem(): string;
  /**
   * Signs a leaf for `host` (a DNS name, or an IPv4/IPv6 literal without brackets) over the
   * SPKI/PEM public key, with serverAuth and the host as its only subjectAltName. Returns PEM.
   * Throws GatewayError VEC_REQUEST_MALFORMED for a host that cannot be a certificate name.
   */
  issueLeaf(host: string, publicKeyPem: string, validity: LeafValidity): string;
}

export interface LoadCertificateAuthorityOptions {
  proxy: Pick<ProxyConfig, 'CaCertFile' | 'CaKeyFile'>;
  settings: SettingsRepository;
  cipher: Cipher;
  logger?: Logger;
  now?: () => Date;
}

/** The settings row holding the generated CA (JSON: StoredCa). */
export const CA_SETTING = 'proxy.ca';
/** Binds the encrypted key to its purpose: no other ciphertext can stand in for it. */
export const CA_KEY_AAD = 'proxy-ca-key';
const CLOCK_SKEW_MS = 3600_000;
const CA_VALIDITY_YEARS = 10;
const EXPIRY_WARNING_MS = 30 * 24 * 3600_000;

interface StoredCa {
  version: 1;
  certPem: string;
  /** cipher.encrypt(PKCS#8 PEM, CA_KEY_AAD) */
  encryptedKey: string;
}

export async function loadCertificateAuthority(
  options: LoadCertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const { CaCertFile: certFile, CaKeyFile: keyFile } = options.proxy;
  if (certFile !== '' || keyFile !== '') return loadOperatorCa(certFile, keyFile, now(), logger);
  return loadStoredCa(options.settings, options.cipher, now, logger);
}

// ---- the generated CA, kept in the settings table ----

async function loadStoredCa(
  settings: SettingsRepository,
  cipher: Cipher,
  now: () => Date,
  logger: Logger,
): Promise<CertificateAuthority> {
  const stored = await settings.get(CA_SETTING);
  if (stored !== undefined) return openStoredCa(stored, cipher, now());
  const fresh = await generateCaPem(now());
  const record: StoredCa = {
    version: 1,
    certPem: fresh.certPem,
    encryptedKey: cipher.encrypt(fresh.keyPem, CA_KEY_AAD),
  };
  const mine = JSON.stringify(record);
  // Replicas starting together on an empty database: the first row wins and every replica
  // signs with that CA, so a client trusting it is served by all of them.
  const winner = await settings.setIfAbsent(CA_SETTING, mine);
  if (winner !== mine) return openStoredCa(winner, cipher, now());
  const ca = createCertificateAuthority(fresh.certPem, createPrivateKey(fresh.keyPem));
  logger.info('proxy CA generated', summaryOf(ca));
  return ca;
}

function openStoredCa(text: string, cipher: Cipher, now: Date): CertificateAuthority {
  let record: Partial<StoredCa> | null;
  try {
    record = JSON.parse(text) as Partial<StoredCa> | null;
  } catch {
    record = null;
  }
  if (record?.version !== 1 || typeof record.certPem !== 'string') {
    throw storedCaError('it is not a version 1 record');
  }
  let keyPem: string;
  try {
    keyPem = cipher.decrypt(String(record.encryptedKey), CA_KEY_AAD);
  } catch (error) {
    throw storedCaError('its private key does not decrypt with the data key', error);
  }
  const ca = createCertificateAuthority(record.certPem, createPrivateKey(keyPem));
  if (ca.notAfter.getTime() <= now.getTime()) {
    throw storedCaError(`the CA expired on ${ca.notAfter.toISOString()}`);
  }
  return ca;
}

function storedCaError(problem: string, cause?: unknown): GatewayError {
  return new GatewayError(
    'VEC_MASTER_KEY_INVALID',
    `the proxy CA stored in this database (settings row ${CA_SETTING}) is unusable: ${problem}; restore the database from a backup, or delete the row to generate a new CA (clients must then trust the new one)`,
    { cause },
  );
}

/** A new self-signed CA: CN "Vectra Local CA <random>", RSA 2048, 10 years, cA critical. */
export async function generateCaPem(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now);
  cert.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + CA_VALIDITY_YEARS);
  const name = [
    { name: 'commonName', value: `Vectra Local CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'Vectra' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // pathLen 0: this CA signs leaves only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.siginfo.algorithmOid = cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption;
  cert.tbsCertificate = forgePki.getTBSCertificate(cert);
  cert.signature = sign(
    'sha256',
    derOf(cert.tbsCertificate),
    createPrivateKey(keys.privateKey),
  ).toString('binary');
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

// ---- operator-supplied PEM files ----

const CERT_KEY = 'System.Proxy.CaCertFile';
const KEY_KEY = 'System.Proxy.CaKeyFile';

async function loadOperatorCa(
  certFile: string,
  keyFile: string,
  now: Date,
  logger: Logger,
): Promise<CertificateAuthority> {
  if (certFile === '') throw fileError(CERT_KEY, certFile, `must be set together with ${KEY_KEY}`);
  if (keyFile === '') throw fileError(KEY_KEY, keyFile, `must be set together with ${CERT_KEY}`);
  const certText = await readConfiguredFile(CERT_KEY, certFile);
  const keyText = await readConfiguredFile(KEY_KEY, keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certText);
  } catch {
    throw fileError(CERT_KEY, certFile, 'holds no PEM certificate');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch {
    const encrypted = /BEGIN ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(keyText);
    throw fileError(
      KEY_KEY,
      keyFile,
      encrypted
        ? 'holds an encrypted key; store it unencrypted (e.g. `openssl pkey -in key.pem -out plain.pem`) in an owner-only file'
        : 'holds no PEM private key',
    );
  }
  if (!x509.ca) {
    throw fileError(
      CERT_KEY,
      certFile,
      'is not a CA certificate (basicConstraints cA is not true); supply a CA that may sign certificates',
    );
  }
  if (!x509.checkPrivateKey(key)) {
    throw fileError(KEY_KEY, keyFile, `is not the private key of the certificate in ${certFile}`);
  }
  const validFrom = new Date(x509.validFrom);
  const validTo = new Date(x509.validTo);
  if (validTo.getTime() <= now.getTime()) {
    throw fileError(CERT_KEY, certFile, `expired on ${validTo.toISOString()}; supply a valid CA`);
  }
  if (validFrom.getTime() > now.getTime()) {
    throw fileError(CERT_KEY, certFile, `is not valid before ${validFrom.toISOString()}`);
  }
  const { keyUsage } = readCaFields(x509.raw);
  if (keyUsage !== undefined && (keyUsage & KEY_CERT_SIGN) === 0) {
    throw fileError(CERT_KEY, certFile, 'has a keyUsage without keyCertSign, so it cannot sign');
  }
  if (!signerFor(key)) {
    throw fileError(
      KEY_KEY,
      keyFile,
      `is an ${key.asymmetricKeyType} key; use an RSA or EC (P-256, P-384, P-521) key`,
    );
  }
  const ca = createCertificateAuthority(x509.toString(), key);
  logger.info('proxy CA loaded', { ...summaryOf(ca), certFile: resolve(certFile) });
  if (validTo.getTime() - now.getTime() < EXPIRY_WARNING_MS) {
    logger.warn('the proxy CA expires soon; replace System.Proxy.CaCertFile', summaryOf(ca));
  }
  if (((await stat(keyFile)).mode & 0o077) !== 0) {
    logger.warn('the proxy CA key file is readable by other users; chmod 600 it', {
      keyFile: resolve(keyFile),
    });
  }
  return ca;
}

async function readConfiguredFile(key: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw fileError(key, path, `cannot read ${resolve(path)} (${code})`);
  }
}

function fileError(key: string, path: string, problem: string): ConfigError {
  return new ConfigError([
    {
      key,
      envVar: key.replace(/\./g, '__'),
      source: 'configuration',
      value: path,
      message: problem,
    },
  ]);
}

function summaryOf(ca: CertificateAuthority): Record<string, unknown> {
  return {
    subject: new X509Certificate(ca.certPem).subject.replace(/\n/g, ', '),
    fingerprint256: ca.fingerprint256,
    notAfter: ca.notAfter.toISOString(),
  };
}

// ---- signing ----

const asn1 = forge.asn1;
const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
const T = asn1.Type;
/** Functions node-forge has but its type definitions lack. */
const forgePki = forge.pki as typeof forge.pki & {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  certificateExtensionsToAsn1(extensions: unknown[]): forge.asn1.Asn1;
};
/** decodeBitStrings off: forge would otherwise guess that a key's bits are nested ASN.1. */
const fromDer = (bytes: Buffer): forge.asn1.Asn1 =>
  (asn1.fromDer as unknown as (b: string, o: object) => forge.asn1.Asn1)(bytes.toString('binary'), {
    decodeBitStrings: false,
  });
const derOf = (node: forge.asn1.Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const children = (node: forge.asn1.Asn1): forge.asn1.Asn1[] => node.value as forge.asn1.Asn1[];
const bytesOf = (node: forge.asn1.Asn1): string => node.value as string;

const KEY_CERT_SIGN = 0x04;
const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWith: {
    sha256: '1.2.840.10045.4.3.2',
    sha384: '1.2.840.10045.4.3.3',
    sha512: '1.2.840.10045.4.3.4',
  },
} as const;

interface Signer {
  hash: 'sha256' | 'sha384' | 'sha512';
  /** AlgorithmIdentifier: NULL parameters for RSA, none for ECDSA (RFC 5758). */
  algorithm: forge.asn1.Asn1;
}

function signerFor(key: KeyObject): Signer | undefined {
  const oid = (id: string) => asn1.create(UNIVERSAL, T.OID, false, asn1.oidToDer(id).getBytes());
  if (key.asymmetricKeyType === 'rsa') {
    const nul = asn1.create(UNIVERSAL, T.NULL, false, '');
    const algorithm = asn1.create(UNIVERSAL, T.SEQUENCE, true, [oid(OID.sha256WithRSA), nul]);
    return { hash: 'sha256', algorithm };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
    const algorithm = asn1.create(UNIVERSAL, T.SEQUENCE, true, [oid(OID.ecdsaWith[hash])]);
    return { hash, algorithm };
  }
  return undefined;
}

/** The parts of the CA certificate a leaf refers to, read from its DER. */
function readCaFields(der: Buffer): { subject: forge.asn1.Asn1; keyId: string; keyUsage?: number } {
  const tbs = children(children(fromDer(der))[0]);
  const first = tbs[0].tagClass === CONTEXT_SPECIFIC && tbs[0].type === 0 ? 1 : 0; // version
  const subject = tbs[first + 4];
  let keyId = keyIdOf(tbs[first + 5]);
  let keyUsage: number | undefined;
  const extensions = tbs.find((n) => n.tagClass === CONTEXT_SPECIFIC && n.type === 3);
  for (const extension of extensions ? children(children(extensions)[0]) : []) {
    const parts = children(extension);
    const id = asn1.derToOid(bytesOf(parts[0]));
    const value = fromDer(Buffer.from(bytesOf(parts[parts.length - 1]), 'binary'));
    if (id === OID.subjectKeyIdentifier) keyId = bytesOf(value);
    if (id === OID.keyUsage) keyUsage = bytesOf(value).charCodeAt(1) || 0;
  }
  return { subject, keyId, keyUsage };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdOf(spki: forge.asn1.Asn1): string {
  const bits = bytesOf(children(spki)[1]).slice(1); // first byte: unused-bit count
  return createHash('sha1').update(bits, 'binary').digest('binary');
}

function createCertificateAuthority(certPem: string, caKey: KeyObject): CertificateAuthority {
  const x509 = new X509Certificate(certPem);
  const signer = signerFor(caKey);
  if (!signer) throw new Error(`unsupported CA key type ${caKey.asymmetricKeyType}`);
  const { subject: issuer, keyId: caKeyId } = readCaFields(x509.raw);
  const authorityKeyId = derOf(
    asn1.create(UNIVERSAL, T.SEQUENCE, true, [asn1.create(CONTEXT_SPECIFIC, 0, false, caKeyId)]),
  ).toString('binary');
  const pem = x509.toString();
  return {
    certPem: pem,
    fingerprint256: x509.fingerprint256,
    notAfter: new Date(x509.validTo),
    caPem: () => pem,
    issueLeaf(host, publicKeyPem, validity) {
      const altName = subjectAltNameFor(host);
      const leafKey = createPublicKey(publicKeyPem);
      const spki = fromDer(leafKey.export({ type: 'spki', format: 'der' }));
      const draft = forge.pki.createCertificate();
      // ub-common-name is 64: a longer name lives in the subjectAltName only (which is all that
      // clients read), and with an empty subject RFC 5280 wants that extension critical.
      const named = host.length <= 64;
      draft.setSubject(named ? [{ name: 'commonName', value: host }] : []);
      draft.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        // RFC 5480: keyEncipherment is for RSA keys only.
        {
          name: 'keyUsage',
          digitalSignature: true,
          keyEncipherment: leafKey.asymmetricKeyType === 'rsa',
          critical: true,
        },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [altName], critical: !named },
        {
          name: 'subjectKeyIdentifier',
          value: asn1.create(UNIVERSAL, T.OCTETSTRING, false, keyIdOf(spki)),
        },
        { name: 'authorityKeyIdentifier', value: authorityKeyId },
      ]);
      const tbs = asn1.create(UNIVERSAL, T.SEQUENCE, true, [
        asn1.create(CONTEXT_SPECIFIC, 0, true, [
          asn1.create(UNIVERSAL, T.INTEGER, false, asn1.integerToDer(2).getBytes()), // v3
        ]),
        asn1.create(UNIVERSAL, T.INTEGER, false, forge.util.hexToBytes(randomSerialHex())),
        signer.algorithm,
        issuer,
        asn1.create(UNIVERSAL, T.SEQUENCE, true, [
          timeOf(validity.notBefore),
          timeOf(validity.notAfter),
        ]),
        forge.pki.distinguishedNameToAsn1(draft.subject),
        spki,
        forgePki.certificateExtensionsToAsn1(draft.extensions),
      ]);
      const signature = sign(signer.hash, derOf(tbs), caKey).toString('binary');
      const certificate = asn1.create(UNIVERSAL, T.SEQUENCE, true, [
        tbs,
        signer.algorithm,
        asn1.create(UNIVERSAL, T.BITSTRING, false, `\0${signature}`),
      ]);
      return forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(certificate).getBytes() });
    },
  };
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function timeOf(date: Date): forge.asn1.Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(UNIVERSAL, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(UNIVERSAL, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** 127 random bits, positive and minimally encoded (RFC 5280: at most 20 octets). */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0] & 0x7f || 0x01;
  return bytes.toString('hex');
}

const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** dNSName (type 2) for names, iPAddress (type 7, 4 or 16 bytes) for IP literals. */
function subjectAltNameFor(host: string): { type: number; value: string } {
  const version = isIP(host);
  if (version !== 0) {
    const bytes = version === 4 ? Buffer.from(host.split('.').map(Number)) : ipv6Bytes(host);
    return { type: 7, value: bytes.toString('binary') };
  }
  if (!DNS_NAME.test(host)) {
    throw new GatewayError(
      'VEC_REQUEST_MALFORMED',
      `"${host}" is not a host name a certificate can name`,
    );
  }
  return { type: 2, value: host };
}

/** 16 bytes of an IPv6 literal (zone id dropped; `::` and an embedded IPv4 tail allowed). */
function ipv6Bytes(literal: string): Buffer {
  // The URL parser canonicalises: an IPv4 tail becomes two hex groups, so only `::` is left.
  const canonical = new URL(`http://[${literal.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.includes('::') ? canonical.split('::') : [canonical, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const fill =
    tail === undefined ? [] : Array(8 - groups(head).length - groups(tail).length).fill('0');
  const bytes = Buffer.alloc(16);
  [...groups(head), ...fill, ...groups(tail)].forEach((g, i) =>
    bytes.writeUInt16BE(parseInt(g, 16), i * 2),
  );
  return bytes;
}
