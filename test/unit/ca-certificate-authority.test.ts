/**
 * The proxy CA: generated once and reloaded from the settings row, shared by racing replicas,
 * loaded from operator PEM files (made with the openssl CLI, as an operator would) with every
 * bad pair refused naming its key, and the leaves it signs checked by node:crypto and by
 * `openssl verify -x509_strict`.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, GatewayError } from '../../src/errors';
import {
  CA_KEY_AAD,
  CA_SETTING,
  loadCertificateAuthority,
  type CertificateAuthority,
} from '../../src/proxy/certificate-authority';
import { generateLeafKeyPair } from '../../src/proxy/key-pool';
import { createCipher } from '../../src/vault/crypto';
import { recordingLogger } from '../helpers/waiting-and-processes';
import { NO_CA_FILES } from '../helpers/certificates';
import { tempDir } from '../helpers/temp-dir';
import { memorySettings } from '../helpers/settings';

const HOUR = 3600_000;
const cipher = createCipher(randomBytes(32));

function leafValidity(now = Date.now()) {
  return { notBefore: new Date(now - HOUR), notAfter: new Date(now + 72 * HOUR) };
}

async function issue(ca: CertificateAuthority, host: string): Promise<X509Certificate> {
  const key = await generateLeafKeyPair();
  return new X509Certificate(ca.issueLeaf(host, key.publicKeyPem, leafValidity()));
}

let dir: string;
beforeEach(() => {
  dir = tempDir('vectra-ca-');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('generated CA', () => {
  it('is created on the first start and reloaded unchanged from the settings row', async () => {
    const settings = memorySettings();
    const logger = recordingLogger();
    const first = await loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher, logger });
    const again = await loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher });
    expect(again.certPem).toBe(first.certPem);
    expect(first.caPem()).toBe(first.certPem);
    expect(logger.lines.map((l) => l.message)).toEqual(['proxy CA generated']);

    const cert = new X509Certificate(first.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toMatch(/^CN=Vectra Local CA [0-9a-f]{8}\nO=Vectra$/);
    const years = (Date.parse(cert.validTo) - Date.now()) / (365.25 * 24 * HOUR);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: first.certPem });
    expect(String(text)).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(String(text)).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);

    // The row holds the certificate and a ciphertext; the key PEM only decrypts with the AAD.
    const row = JSON.parse(settings.rows.get(CA_SETTING) as string);
    expect(Object.keys(row).sort()).toEqual(['certPem', 'encryptedKey', 'version']);
    expect(row.encryptedKey).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain('PRIVATE KEY');
    expect(cipher.decrypt(row.encryptedKey, CA_KEY_AAD)).toContain('BEGIN PRIVATE KEY');
    expect(JSON.stringify(logger.lines)).not.toContain('PRIVATE');
  });

  it('two replicas starting together on an empty database end with the same CA', async () => {
    const settings = memorySettings();
    const [a, b] = await Promise.all([
      loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher }),
      loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher }),
    ]);
    expect(a.certPem).toBe(b.certPem);
    // Both sign with the stored key: b's leaf verifies under a's certificate.
    const leaf = await issue(b, 'api.example.com');
    expect(leaf.verify(new X509Certificate(a.certPem).publicKey)).toBe(true);
  });

  it('refuses a stored CA whose key does not decrypt with this data key', async () => {
    const settings = memorySettings();
    await loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher });
    const other = createCipher(randomBytes(32));
    await expect(
      loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher: other }),
    ).rejects.toMatchObject({ code: 'VEC_MASTER_KEY_INVALID', message: /proxy\.ca/ });
  });
});

describe('operator CA files', () => {
  function openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  }
  function makeCa(name: string, keyAlgorithm: string[], ca = true): void {
    openssl([
      'req', '-x509', '-nodes', '-newkey', ...keyAlgorithm, '-keyout', `${name}.key`,
      '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=Operator ${name}/O=Acme Ünïcode`,
      '-addext', `basicConstraints=critical,CA:${ca ? 'TRUE' : 'FALSE'}`,
      '-addext', ca ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=digitalSignature',
    ]); // prettier-ignore
  }
  const files = (cert: string, key: string) => ({
    CaCertFile: join(dir, cert),
    CaKeyFile: join(dir, key),
  });
  const load = (proxy: { CaCertFile: string; CaKeyFile: string }, now?: () => Date) =>
    loadCertificateAuthority({ proxy, settings: memorySettings(), cipher, now });

  async function configProblem(promise: Promise<unknown>) {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('VEC_CONFIG_INVALID');
    return (error as ConfigError).problems[0];
  }

  it.each([
    ['RSA', ['rsa:2048']],
    ['EC P-256', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['EC P-384', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
  ])('a %s CA is loaded and its leaves verify strictly', async (_name, algorithm) => {
    makeCa('op', algorithm);
    const settings = memorySettings();
    const ca = await loadCertificateAuthority({
      proxy: files('op.pem', 'op.key'),
      settings,
      cipher,
    });
    expect(ca.certPem).toBe(readFileSync(join(dir, 'op.pem'), 'utf8'));
    expect(settings.rows.size).toBe(0); // nothing generated, nothing stored
    const leaf = await issue(ca, 'api.example.com');
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(leaf.issuer).toBe(new X509Certificate(ca.certPem).subject);
    writeFileSync(join(dir, 'leaf.pem'), leaf.toString());
    openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', 'op.pem', 'leaf.pem']);
  });

  it('a key that belongs to another certificate is refused, naming CaKeyFile', async () => {
    makeCa('one', ['rsa:2048']);
    makeCa('two', ['rsa:2048']);
    const problem = await configProblem(load(files('one.pem', 'two.key')));
    expect(problem).toMatchObject({
      key: 'System.Proxy.CaKeyFile',
      envVar: 'System__Proxy__CaKeyFile',
    });
    expect(problem.message).toMatch(/is not the private key of the certificate/);
  });

  it('a certificate that is not a CA is refused, naming CaCertFile', async () => {
    makeCa('leaf', ['rsa:2048'], false);
    const problem = await configProblem(load(files('leaf.pem', 'leaf.key')));
    expect(problem.key).toBe('System.Proxy.CaCertFile');
    expect(problem.message).toMatch(/not a CA certificate/);
  });

  it('an expired CA is refused', async () => {
    makeCa('op', ['rsa:2048']);
    const later = () => new Date(Date.now() + 60 * 24 * HOUR);
    const problem = await configProblem(load(files('op.pem', 'op.key'), later));
    expect(problem.key).toBe('System.Proxy.CaCertFile');
    expect(problem.message).toMatch(/expired on/);
  });

  it('missing, unreadable, half-configured and encrypted files each name their key', async () => {
    makeCa('op', ['rsa:2048']);
    const halfKey = await configProblem(load({ CaCertFile: join(dir, 'op.pem'), CaKeyFile: '' }));
    expect(halfKey).toMatchObject({ key: 'System.Proxy.CaKeyFile' });
    expect(halfKey.message).toMatch(/together with System\.Proxy\.CaCertFile/);
    const missing = await configProblem(load(files('nope.pem', 'op.key')));
    expect(missing).toMatchObject({ key: 'System.Proxy.CaCertFile' });
    expect(missing.message).toMatch(/cannot read .*nope\.pem \(ENOENT\)/);
    const notPem = await configProblem(load(files('op.key', 'op.key')));
    expect(notPem.message).toMatch(/holds no PEM certificate/);
    openssl(['pkey', '-in', 'op.key', '-aes256', '-passout', 'pass:secret', '-out', 'enc.key']);
    const encrypted = await configProblem(load(files('op.pem', 'enc.key')));
    expect(encrypted).toMatchObject({ key: 'System.Proxy.CaKeyFile' });
    expect(encrypted.message).toMatch(/encrypted key/);
  });
});

describe('leaves', () => {
  let ca: CertificateAuthority;
  let caCert: X509Certificate;
  beforeAll(async () => {
    ca = await loadCertificateAuthority({ proxy: NO_CA_FILES, settings: memorySettings(), cipher });
    caCert = new X509Certificate(ca.certPem);
  });

  it('a DNS name: CN and SAN, serverAuth, signed by the CA, validity as given', async () => {
    const key = await generateLeafKeyPair();
    const validity = leafValidity(Date.parse('2030-01-02T03:04:05Z'));
    const leaf = new X509Certificate(ca.issueLeaf('api.example.com', key.publicKeyPem, validity));
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.subject).toBe('CN=api.example.com');
    expect(leaf.subjectAltName).toBe('DNS:api.example.com');
    expect(leaf.checkHost('api.example.com')).toBe('api.example.com');
    expect(leaf.checkHost('other.example.com')).toBeUndefined();
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extKeyUsage serverAuth
    expect(leaf.ca).toBe(false);
    expect(new Date(leaf.validFrom)).toEqual(validity.notBefore);
    expect(new Date(leaf.validTo)).toEqual(validity.notAfter);
    expect(leaf.publicKey.export({ type: 'spki', format: 'pem' })).toBe(key.publicKeyPem);
    expect(leaf.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it.each([
    ['127.0.0.1', 'IP Address:127.0.0.1'],
    ['::1', 'IP Address:0:0:0:0:0:0:0:1'],
    ['2001:db8::42', 'IP Address:2001:DB8:0:0:0:0:0:42'],
    ['::ffff:10.1.2.3', 'IP Address:0:0:0:0:0:FFFF:A01:203'],
  ])('an IP literal %s gets an iPAddress SAN', async (host, san) => {
    const leaf = await issue(ca, host);
    expect(leaf.subjectAltName).toBe(san);
    expect(leaf.checkIP(host)).toBe(host);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
  });

  it('two leaves for one host have different serial numbers', async () => {
    const [a, b] = [await issue(ca, 'a.example.com'), await issue(ca, 'a.example.com')];
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });

  it('passes openssl verify -x509_strict (DER, key identifiers, purposes)', async () => {
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    for (const host of ['api.example.com', '127.0.0.1', '::1']) {
      writeFileSync(join(dir, 'leaf.pem'), (await issue(ca, host)).toString());
      execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', 'ca.pem', 'leaf.pem'], { cwd: dir, stdio: 'pipe' }); // prettier-ignore
    }
  });

  it('a name no certificate can hold is refused', async () => {
    const key = await generateLeafKeyPair();
    for (const host of [
      '',
      'bad host',
      'exa mple.com',
      'ünïcode.example',
      'a'.repeat(64) + '.com',
    ]) {
      expect(() => ca.issueLeaf(host, key.publicKeyPem, leafValidity())).toThrow(GatewayError);
    }
  });

  it('a name longer than 64 characters lives in the SAN only', async () => {
    const host = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.com`;
    const leaf = await issue(ca, host);
    expect(leaf.subject).toBeUndefined(); // an empty subject
    expect(leaf.checkHost(host)).toBe(host);
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'leaf.pem'), leaf.toString());
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', 'leaf.pem'], {
      cwd: dir,
    });
    expect(String(text)).toMatch(/Subject Alternative Name: critical/);
    execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', 'ca.pem', 'leaf.pem'], { cwd: dir, stdio: 'pipe' }); // prettier-ignore
  });

  it('signs an RSA leaf key too (keyEncipherment allowed for RSA only)', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const leaf = new X509Certificate(ca.issueLeaf('rsa.example.com', publicKeyPem, leafValidity()));
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    const text = String(
      execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.toString() }),
    );
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
  });
});
