import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { selfSignedCertificate, type TestCertificate } from '../helpers/certificates';
import { startTestGateway } from '../helpers/gateway';
import { responseText } from '../helpers/streams';
import { tempDir } from '../helpers/temp-dir';

const getHealth = (url: string, ca: string) => responseText(request(`${url}/health`, { ca }));

describe('HTTPS listener', () => {
  let cert: TestCertificate;
  let dir: string;

  beforeAll(() => {
    cert = selfSignedCertificate('localhost');
    dir = tempDir('vectra-tls-');
  });

  const https = (extra: NodeJS.ProcessEnv) =>
    startTestGateway({
      System__Server__Https__Enabled: 'true',
      System__Server__Https__Port: '0',
      ...extra,
    });
  /** The status of GET /health over HTTPS from a gateway started with `extra`, then closed. */
  const healthStatus = async (extra: NodeJS.ProcessEnv) => {
    const gateway = await https(extra);
    try {
      return (await getHealth(gateway.urls.https!, cert.certPem)).status;
    } finally {
      await gateway.close();
    }
  };

  it('serves from a password-protected PFX, beside plain HTTP', async () => {
    const path = join(dir, 'vectra.pfx');
    writeFileSync(path, cert.pfx('pfx-pass'));
    const gateway = await https({
      System__Server__Https__Certificate__Path: path,
      System__Server__Https__Certificate__Password: 'pfx-pass',
    });
    try {
      expect(gateway.urls.https).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await getHealth(gateway.urls.https!, cert.certPem);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).status).toBe('Healthy');
      expect((await fetch(`${gateway.urls.http}/health`)).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('serves from PEM files (certificate and separate key)', async () => {
    const certPath = join(dir, 'vectra.crt');
    const keyPath = join(dir, 'vectra.key');
    writeFileSync(certPath, cert.certPem);
    writeFileSync(keyPath, cert.keyPem);
    const status = await healthStatus({
      System__Server__Https__Certificate__Path: certPath,
      System__Server__Https__Certificate__KeyPath: keyPath,
    });
    expect(status).toBe(200);
  });

  it('serves from one PEM file holding certificate and key', async () => {
    const path = join(dir, 'combined.pem');
    writeFileSync(path, cert.certPem + cert.keyPem);
    expect(await healthStatus({ System__Server__Https__Certificate__Path: path })).toBe(200);
  });

  it('refuses to start with a wrong PFX password, a missing file or no path', async () => {
    const path = join(dir, 'wrong.pfx');
    writeFileSync(path, cert.pfx('right'));
    await expect(
      https({
        System__Server__Https__Certificate__Path: path,
        System__Server__Https__Certificate__Password: 'wrong',
      }),
    ).rejects.toMatchObject({ code: 'VEC_TLS_CERTIFICATE_INVALID' });
    await expect(
      https({ System__Server__Https__Certificate__Path: join(dir, 'absent.pfx') }),
    ).rejects.toMatchObject({
      code: 'VEC_TLS_CERTIFICATE_INVALID',
      message: expect.stringContaining('ENOENT'),
    });
    await expect(https({})).rejects.toMatchObject({
      code: 'VEC_TLS_CERTIFICATE_INVALID',
      message: expect.stringContaining('Certificate.Path is empty'),
    });
  });
});
