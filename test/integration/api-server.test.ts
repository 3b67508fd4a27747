import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { json, startTestGateway } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';

describe('API server on embedded defaults', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(() => gateway.close());

  it('GET /health answers Healthy in the seed shape with real checks', async () => {
    const res = await fetch(`${gateway.urls.http}/health`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      status: 'Healthy',
      checks: {
        database: { status: 'Healthy', description: 'Sqlite' },
        cache: { status: 'Healthy' },
        policies: { status: 'Healthy' },
      },
    });
    expect(body.healthCheckDuration).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{7}$/);
    expect(body.checks.database.duration).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{7}$/);
  });

  it('GET /metrics exports process metrics and the request histogram by route and status', async () => {
    await fetch(`${gateway.urls.http}/health`);
    await fetch(`${gateway.urls.http}/no/such/route`);
    const res = await fetch(`${gateway.urls.http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('vectra_process_cpu_user_seconds_total');
    expect(text).toMatch(
      /vectra_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/,
    );
    expect(text).toMatch(
      /vectra_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} \d+/,
    );
  });

  it('answers unknown routes with a coded 404', async () => {
    const res = await fetch(`${gateway.urls.http}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-vectra-error')).toBe('VEC_ROUTE_NOT_FOUND');
    expect(await json(res)).toMatchObject({
      code: 'VEC_ROUTE_NOT_FOUND',
      statusCode: 404,
      error: 'Not found',
    });
  });

  it('refuses malformed JSON with VEC_REQUEST_MALFORMED', async () => {
    const res = await fetch(`${gateway.urls.http}/v1/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-vectra-error')).toBe('VEC_REQUEST_MALFORMED');
    expect((await json(res)).code).toBe('VEC_REQUEST_MALFORMED');
  });

  it('refuses oversized bodies with VEC_REQUEST_TOO_LARGE', async () => {
    const res = await fetch(`${gateway.urls.http}/v1/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        blob: 'x'.repeat(gateway.config.System.Server.MaxRequestBodyBytes + 1),
      }),
    });
    expect(res.status).toBe(413);
    const body = await json(res);
    expect(body).toMatchObject({
      code: 'VEC_REQUEST_TOO_LARGE',
      limit: gateway.config.System.Server.MaxRequestBodyBytes,
    });
  });

  it('gives every response a request id, keeping a well-formed incoming one', async () => {
    const generated = await fetch(`${gateway.urls.http}/health`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{8,}$/);
    const kept = await fetch(`${gateway.urls.http}/health`, {
      headers: { 'x-request-id': 'trace-123' },
    });
    expect(kept.headers.get('x-request-id')).toBe('trace-123');
    const replaced = await fetch(`${gateway.urls.http}/health`, {
      headers: { 'x-request-id': 'bad id\twith tab' },
    });
    expect(replaced.headers.get('x-request-id')).not.toContain('bad');
  });
});

describe('health when a check fails', () => {
  it('is Unhealthy with 503 when the policy directory is missing', async () => {
    const missing = join(tempDir('vectra-'), 'no-policies');
    const gateway = await startTestGateway({ Policy__Providers__Internal__Directory: missing });
    try {
      const res = await fetch(`${gateway.urls.http}/health`);
      expect(res.status).toBe(503);
      const body = await json(res);
      expect(body.status).toBe('Unhealthy');
      expect(body.checks.policies.status).toBe('Unhealthy');
      expect(body.checks.policies.description).toContain('ENOENT');
    } finally {
      await gateway.close();
    }
  });

  it('is Unhealthy with 503 once the database is closed', async () => {
    const gateway = await startTestGateway();
    try {
      await gateway.database.close();
      const res = await fetch(`${gateway.urls.http}/health`);
      expect(res.status).toBe(503);
      expect((await json(res)).checks.database.status).toBe('Unhealthy');
    } finally {
      await gateway.close();
    }
  });

  it('says so when the policy engine is disabled', async () => {
    const gateway = await startTestGateway({ Policy__Enabled: 'false' });
    try {
      const body = await json(await fetch(`${gateway.urls.http}/health`));
      expect(body.checks.policies).toMatchObject({
        status: 'Healthy',
        description: expect.stringContaining('disabled'),
      });
    } finally {
      await gateway.close();
    }
  });
});
