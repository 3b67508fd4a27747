import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import {
  buildBundle,
  checkedCa,
  fetchGatewayCa,
  writeCaFiles,
} from '../../src/isolation/ca-bundle';
import { RunError } from '../../src/isolation/run-mode';
import { selfSignedCertificate } from '../helpers/certificates';
import { tempDir } from '../helpers/temp-dir';

const CA = selfSignedCertificate('Vectra Test CA').certPem;

function answering(status: number, body: string): typeof fetch {
  return (async () => new Response(body, { status })) as unknown as typeof fetch;
}

describe('vectra run: CA files', () => {
  it("the bundle holds Node roots, the first readable system bundle, then Vectra's CA", () => {
    const dir = tempDir('vectra-test-');
    const system = join(dir, 'system.pem');
    writeFileSync(system, '-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----\n');
    const bundle = buildBundle(CA, {
      roots: ['ROOT-A', 'ROOT-B'],
      systemBundles: [join(dir, 'absent.pem'), system, join(dir, 'never-read.pem')],
    });
    expect(bundle).toBe(
      `ROOT-A\nROOT-B\n-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----\n${CA.trim()}\n`,
    );
  });

  it('defaults to tls.rootCertificates', () => {
    const bundle = buildBundle(CA, { systemBundles: [] });
    expect(bundle).toContain(rootCertificates[0].trim());
    expect(bundle.trim().endsWith(CA.trim())).toBe(true);
  });

  it('writes vectra-ca.pem and ca-bundle.pem in a private directory, removed on request', () => {
    const files = writeCaFiles(CA, { roots: ['ROOT'], systemBundles: [] });
    try {
      expect(statSync(files.dir).mode & 0o777).toBe(0o700);
      expect(files.vectraCa).toBe(join(files.dir, 'vectra-ca.pem'));
      expect(files.bundle).toBe(join(files.dir, 'ca-bundle.pem'));
      expect(readFileSync(files.vectraCa, 'utf8')).toBe(CA);
      expect(readFileSync(files.bundle, 'utf8')).toBe(`ROOT\n${CA.trim()}\n`);
    } finally {
      files.remove();
    }
    expect(existsSync(files.dir)).toBe(false);
    expect(() => files.remove()).not.toThrow();
  });

  it('accepts only a CA certificate', () => {
    expect(checkedCa(`junk\n${CA}junk`, 'x')).toBe(CA.trim() + '\n');
    expect(() => checkedCa('<html>not found</html>', 'GET /v1/ca.pem')).toThrow(
      'GET /v1/ca.pem did not answer with a PEM CA certificate',
    );
  });
});

describe('vectra run: fetching the CA', () => {
  it('GET {addr}/v1/ca.pem without credentials', async () => {
    const fetchImpl = jest.fn(answering(200, CA));
    await expect(fetchGatewayCa('http://gw:7080', fetchImpl)).resolves.toBe(CA.trim() + '\n');
    expect(fetchImpl).toHaveBeenCalledWith(
      'http://gw:7080/v1/ca.pem',
      expect.not.objectContaining({ headers: expect.anything() }),
    );
  });

  it('a gateway without the route is a clear failure (exit 1)', async () => {
    const err = await fetchGatewayCa('http://gw:7080', answering(404, '{}')).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toBe(
      'the gateway did not serve its CA certificate: GET http://gw:7080/v1/ca.pem answered HTTP 404',
    );
    expect(err.exitCode).toBe(1);
  });

  it('no answer at all is VEC_CLI_UNREACHABLE', async () => {
    const failing = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as unknown as typeof fetch;
    await expect(fetchGatewayCa('http://gw:7080', failing)).rejects.toMatchObject({
      code: 'VEC_CLI_UNREACHABLE',
      message: expect.stringContaining('no answer from http://gw:7080 (ECONNREFUSED)'),
    });
  });
});
