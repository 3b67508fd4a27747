/** Certificates for tests: self-signed ones minted in memory with node-forge, and the CA settings. */
import forge from 'node-forge';

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  /** PKCS#12 (PFX) bundle of the key and certificate, encrypted with `password`. */
  pfx(password: string): Buffer;
}

export interface CertificateOptions {
  /** IP addresses added to the subject alternative names (127.0.0.1 is always there). */
  ipAddresses?: readonly string[];
  /** DNS names added to the subject alternative names (`commonName` is always there). */
  dnsNames?: readonly string[];
}

export function selfSignedCertificate(
  commonName = 'localhost',
  options: CertificateOptions = {},
): TestCertificate {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: commonName },
        ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
        { type: 7, ip: '127.0.0.1' },
        ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
    pfx(password) {
      const asn1 = forge.pkcs12.toPkcs12Asn1(keys.privateKey, [cert], password, {
        algorithm: '3des',
      });
      return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    },
  };
}

/** Proxy settings naming no CA files: the gateway generates its CA and keeps it in the settings. */
export const NO_CA_FILES = { CaCertFile: '', CaKeyFile: '' };
