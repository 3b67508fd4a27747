/** Loads the HTTPS certificate: a PFX/PKCS#12 file with a password, or PEM files. */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { GatewayError } from '../errors';
import type { ServerConfig } from '../config/schema';

type CertificateConfig = ServerConfig['Https']['Certificate'];

export function loadServerCertificate(cert: CertificateConfig): SecureContextOptions {
  if (!cert.Path) {
    throw new GatewayError(
      'VEC_TLS_CERTIFICATE_INVALID',
      'HTTPS is enabled but System.Server.Https.Certificate.Path is empty; set it to a PFX or PEM file.',
    );
  }
  const file = readOrFail(cert.Path, 'System.Server.Https.Certificate.Path');
  const options: SecureContextOptions = isPem(file)
    ? {
        cert: file,
        key: cert.KeyPath
          ? readOrFail(cert.KeyPath, 'System.Server.Https.Certificate.KeyPath')
          : file,
      }
    : { pfx: file, passphrase: cert.Password || undefined };
  if (options.passphrase === undefined && cert.Password && isPem(file))
    options.passphrase = cert.Password;
  try {
    // Fails here, at start-up, on a wrong password or a key that does not match.
    createSecureContext(options);
  } catch (err) {
    throw new GatewayError(
      'VEC_TLS_CERTIFICATE_INVALID',
      `cannot use the HTTPS certificate ${cert.Path}: ${(err as Error).message}; check the file and its password.`,
      { cause: err },
    );
  }
  return options;
}

function isPem(data: Buffer): boolean {
  return data.subarray(0, 4096).toString('latin1').includes('-----BEGIN ');
}

function readOrFail(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GatewayError(
      'VEC_TLS_CERTIFICATE_INVALID',
      `cannot read ${path} (${key}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
}
