/**
 * The upstream's TLS identity for the benchmark: a throwaway CA and one server certificate
 * signed by it, valid for `localhost`, 127.0.0.1 and every extra loopback address the
 * first-request-to-a-new-host run uses. Keys come from node:crypto (fast, native); node-forge
 * only assembles and signs the certificates.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface UpstreamIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function rsaKeys(): {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  pem: string;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    pem: privateKey,
  };
}

function certificate(
  subject: string,
  publicKey: forge.pki.rsa.PublicKey,
  issuer: string,
  extensions: object[],
  signer: forge.pki.rsa.PrivateKey,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer }]);
  cert.setExtensions(extensions);
  cert.sign(signer, forge.md.sha256.create());
  return cert;
}

export function mintUpstreamIdentity(extraAddresses: readonly string[]): UpstreamIdentity {
  const caKeys = rsaKeys();
  const caName = 'Vectra bench upstream CA';
  const ca = certificate(
    caName,
    caKeys.publicKey,
    caName,
    [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
    caKeys.privateKey,
  );
  const serverKeys = rsaKeys();
  const addresses = ['127.0.0.1', ...extraAddresses];
  const server = certificate(
    'localhost',
    serverKeys.publicKey,
    caName,
    [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [{ type: 2, value: 'localhost' }, ...addresses.map((ip) => ({ type: 7, ip }))],
      },
    ],
    caKeys.privateKey,
  );
  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(server),
    keyPem: serverKeys.pem,
  };
}
