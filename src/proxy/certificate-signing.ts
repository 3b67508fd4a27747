/**
 * The certificates of the proxy CA: the self-signed CA a fresh database generates, and the leaf
 * each intercepted host is served with. Laid out with node-forge's ASN.1 tools, but signed with
 * node:crypto: forge's pure-JS RSA takes tens of milliseconds per signature, OpenSSL well under
 * one. The same native path lets the CA be EC and the leaf keys EC (forge's certificate API only
 * knows RSA keys).
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
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { GatewayError } from '../errors';

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

const CLOCK_SKEW_MS = 3600_000;
const CA_VALIDITY_YEARS = 10;

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

export const KEY_CERT_SIGN = 0x04;
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

export function signerFor(key: KeyObject): Signer | undefined {
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
export function readCaFields(der: Buffer): {
  subject: forge.asn1.Asn1;
  keyId: string;
  keyUsage?: number;
} {
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

/** The CertificateAuthority of a CA certificate and its private key: it signs each leaf with that key. */
export function createCertificateAuthority(
  certPem: string,
  caKey: KeyObject,
): CertificateAuthority {
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
