/**
 * The certificate authority behind TLS interception: it signs one short-lived leaf certificate
 * per host (./leaf-certificates.ts caches them). Where it comes from, in order:
 *
 *   - operator files: System.Proxy.CaCertFile + CaKeyFile (RSA or EC), checked at start-up
 *     (a CA, not expired, key matches) so a bad pair stops `serve` with the key named;
 *   - the settings row `proxy.ca`: generated on the first start (RSA 2048, 10 years), the
 *     private key encrypted with the vault's data key (AAD `proxy-ca-key`), never in clear.
 *
 * The certificates themselves are laid out and signed in ./certificate-signing.ts.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ProxyConfig } from '../config/schema';
import { ConfigError, GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { SettingsRepository } from '../storage/types';
import type { Cipher } from '../vault/crypto';
import {
  createCertificateAuthority,
  generateCaPem,
  KEY_CERT_SIGN,
  readCaFields,
  signerFor,
  type CertificateAuthority,
} from './certificate-signing';

export type { CertificateAuthority, LeafValidity } from './certificate-signing';

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
