/**
 * The AzureKeyVault secret provider against a local HTTPS server that speaks Key Vault's
 * documented get-secret REST API (the real Azure cannot be reached from here): the bearer
 * challenge, 200 with the secret bundle, 404 SecretNotFound, faults, timeouts and TLS trust.
 */
import { once } from 'node:events';
import { Agent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createDefaultHttpClient,
  type HttpClient,
  type PipelineRequest,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { SecretManagementConfig } from '../../src/config/schema';
import { createSecretProvider, type AzureKeyVaultDeps } from '../../src/secrets';
import { selfSignedCertificate, type TestCertificate } from '../helpers/certificates';
import { rejection } from '../helpers/errors';
import { recordingLogger, type LogLine } from '../helpers/waiting-and-processes';

const TOKEN = 'static-test-token';
const TENANT = '72f988bf-0000-4000-8000-000000000000';
const CHALLENGE = `Bearer authorization="https://login.microsoftonline.com/${TENANT}", resource="https://vault.azure.net"`;
const PLANTED = 'planted-secret-value-7f3a9c';

interface SeenRequest {
  method: string;
  path: string;
  apiVersion: string | null;
  authorization: string | undefined;
}

type Fault = 'http500' | 'http403' | 'hang';

/** Key Vault's get-secret call, as documented: GET /secrets/{name}/{version}?api-version=… */
class FakeKeyVault {
  readonly secrets = new Map<string, string>();
  readonly faults = new Map<string, Fault>();
  readonly seen: SeenRequest[] = [];
  private server!: Server;
  url = '';

  async start(cert: TestCertificate): Promise<void> {
    this.server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://vault.test');
      this.seen.push({
        method: req.method ?? '',
        path: url.pathname,
        apiVersion: url.searchParams.get('api-version'),
        authorization: req.headers.authorization,
      });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        json(
          401,
          { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer.' } },
          { 'www-authenticate': CHALLENGE },
        );
        return;
      }
      const match = /^\/secrets\/([0-9a-zA-Z-]+)\/?([0-9a-f]*)$/.exec(url.pathname);
      if (req.method !== 'GET' || !match || !url.searchParams.get('api-version')) {
        json(400, { error: { code: 'BadParameter', message: 'Unsupported request.' } });
        return;
      }
      const name = match[1];
      const fault = this.faults.get(name);
      if (fault === 'hang') return;
      if (fault === 'http500') {
        json(500, { error: { code: 'InternalError', message: `boom ${PLANTED}` } });
        return;
      }
      if (fault === 'http403') {
        json(403, { error: { code: 'Forbidden', message: `Caller lacks get on ${PLANTED}` } });
        return;
      }
      const value = [...this.secrets].find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
      if (value === undefined) {
        json(404, {
          error: {
            code: 'SecretNotFound',
            message: `A secret with (name/id) ${name} was not found in this key vault.`,
          },
        });
        return;
      }
      const version = match[2] || '0123456789abcdef0123456789abcdef';
      json(200, {
        value,
        id: `${this.url}/secrets/${name}/${version}`,
        attributes: {
          enabled: true,
          created: 1_700_000_000,
          updated: 1_700_000_000,
          recoveryLevel: 'Recoverable+Purgeable',
        },
        tags: {},
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  secretGets(): SeenRequest[] {
    return this.seen.filter((r) => r.authorization === `Bearer ${TOKEN}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** The SDK's own transport, with an agent that trusts the test CA (verification stays on). */
function httpClientTrusting(agent: Agent): HttpClient {
  const inner = createDefaultHttpClient();
  return {
    sendRequest(request: PipelineRequest) {
      request.agent = agent;
      return inner.sendRequest(request);
    },
  };
}

function staticCredential(calls: Array<{ scopes: string[]; tenantId?: string }>): TokenCredential {
  return {
    async getToken(scopes, options) {
      calls.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
      return { token: TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

function config(vaultUri: string): SecretManagementConfig {
  return {
    DefaultProvider: 'AzureKeyVault',
    Providers: {
      Environment: { Prefix: 'VECTRA_SECRET_' },
      AzureKeyVault: { VaultUri: vaultUri, TenantId: '', ClientId: '', ClientSecret: '' },
    },
  };
}

describe('AzureKeyVault secret provider (local Key Vault REST server)', () => {
  let cert: TestCertificate;
  let vault: FakeKeyVault;
  let agent: Agent;
  let clock: number;
  let tokenCalls: Array<{ scopes: string[]; tenantId?: string }>;
  let logLines: LogLine[];
  /** The log as text: each line's message and meta. */
  const logText = () => logLines.map((l) => `${l.message} ${JSON.stringify(l.meta)}`).join('\n');

  beforeAll(() => {
    cert = selfSignedCertificate('localhost');
  });

  beforeEach(async () => {
    vault = new FakeKeyVault();
    await vault.start(cert);
    agent = new Agent({ ca: cert.certPem, keepAlive: false });
    clock = 1_700_000_000_000;
    tokenCalls = [];
    logLines = [];
  });

  afterEach(async () => {
    agent.destroy();
    await vault.close();
  });

  const provider = (azure: Partial<AzureKeyVaultDeps> = {}) =>
    createSecretProvider(config(vault.url), {
      vaultService: { resolveCredentials: async () => new Map() },
      logger: recordingLogger(logLines),
      azure: {
        credential: staticCredential(tokenCalls),
        httpClient: httpClientTrusting(agent),
        disableChallengeResourceVerification: true,
        retryOptions: { maxRetries: 0 },
        now: () => clock,
        ...azure,
      },
    });

  it('answers the bearer challenge with the credential token and reads the secret', async () => {
    vault.secrets.set('team-a--STRIPE-KEY', 'sk_test_123');
    const secrets = provider();

    const values = await secrets.resolve('team.a', ['STRIPE_KEY']);

    expect(values).toEqual(new Map([['STRIPE_KEY', 'sk_test_123']]));
    // First the SDK goes unauthenticated, gets the challenge, then retries with the token.
    expect(vault.seen.map((r) => r.authorization)).toEqual([undefined, `Bearer ${TOKEN}`]);
    expect(vault.seen[1]).toMatchObject({ method: 'GET', path: '/secrets/team-a--STRIPE-KEY/' });
    expect(vault.seen[1].apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$|^7\.\d$/);
    expect(tokenCalls[0]).toEqual({
      scopes: ['https://vault.azure.net/.default'],
      tenantId: TENANT,
    });
  });

  it('resolves several keys, reuses values within the TTL and refetches after it', async () => {
    vault.secrets.set('default--A', 'value-a');
    vault.secrets.set('default--B', 'value-b');
    const secrets = provider();

    expect(await secrets.resolve('default', ['A', 'B'])).toEqual(
      new Map([
        ['A', 'value-a'],
        ['B', 'value-b'],
      ]),
    );
    expect(vault.secretGets()).toHaveLength(2);

    vault.secrets.set('default--A', 'rotated-a');
    clock += 59_000;
    expect((await secrets.resolve('default', ['A'])).get('A')).toBe('value-a');
    expect(vault.secretGets()).toHaveLength(2);

    clock += 2_000;
    expect((await secrets.resolve('default', ['A'])).get('A')).toBe('rotated-a');
    expect(vault.secretGets()).toHaveLength(3);
  });

  it('shares one round trip between concurrent lookups of a secret', async () => {
    vault.secrets.set('default--TOKEN', 'shared');
    const secrets = provider();
    await secrets.resolve('default', ['TOKEN']);
    clock += 120_000;
    const before = vault.secretGets().length;

    const results = await Promise.all([1, 2, 3].map(() => secrets.resolve('default', ['TOKEN'])));

    expect(results.map((r) => r.get('TOKEN'))).toEqual(['shared', 'shared', 'shared']);
    expect(vault.secretGets().length - before).toBe(1);
  });

  it('maps 404 SecretNotFound to VEC_CREDENTIAL_NOT_FOUND naming the secret to create', async () => {
    const secrets = provider();
    const error = await rejection(secrets.resolve('team-a', ['MISSING_KEY']));
    expect(error.code).toBe('VEC_CREDENTIAL_NOT_FOUND');
    expect(error.message).toContain('"team-a--MISSING-KEY"');
    expect(error.context).toMatchObject({ vault: 'team-a', key: 'MISSING_KEY' });
    // Not found is not an outage.
    expect((await secrets.health!()).status).toBe('Healthy');
  });

  it('fails closed on a 5xx, without server text in the message or the log', async () => {
    vault.faults.set('default--API-KEY', 'http500');
    const secrets = provider();

    const error = await rejection(secrets.resolve('default', ['API_KEY']));

    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('HTTP 500');
    expect(JSON.stringify(error.toJSON())).not.toContain(PLANTED);
    expect(logText()).not.toContain(PLANTED);
    expect(logText()).toContain('VEC_SECRET_PROVIDER_UNAVAILABLE');
    const health = await secrets.health!();
    expect(health.status).toBe('Degraded');
    expect(health.description).toContain('HTTP 500');
  });

  it('reports refused access (403) as unavailable, and recovers health on success', async () => {
    vault.faults.set('default--API-KEY', 'http403');
    vault.secrets.set('default--OTHER', 'ok');
    const secrets = provider();

    const error = await rejection(secrets.resolve('default', ['API_KEY']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.message).toContain('access refused, HTTP 403');
    expect(error.message).not.toContain(PLANTED);

    await secrets.resolve('default', ['OTHER']);
    expect((await secrets.health!()).status).toBe('Healthy');
  });

  it('fails closed when no token can be had', async () => {
    const secrets = provider({
      credential: {
        getToken: async () => {
          throw new Error('AADSTS7000215: Invalid client secret provided.');
        },
      },
    });
    const error = await rejection(secrets.resolve('default', ['X']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.message).toContain('could not get an access token');
    expect(vault.secretGets()).toHaveLength(0);
  });

  it('fails closed when the vault does not answer in time', async () => {
    vault.faults.set('default--SLOW', 'hang');
    const secrets = provider({ lookupTimeoutMs: 200 });
    const error = await rejection(secrets.resolve('default', ['SLOW']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.message).toContain('timed out');
  });

  it('fails closed when the vault cannot be reached', async () => {
    const secrets = provider();
    await vault.close();
    const error = await rejection(secrets.resolve('default', ['X']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/network error ECONNREFUSED/);
    vault = new FakeKeyVault();
    await vault.start(cert);
  });

  it('verifies TLS: without the test CA the lookup fails and nothing is sent', async () => {
    vault.secrets.set('default--X', PLANTED);
    const secrets = provider({ httpClient: undefined });
    const error = await rejection(secrets.resolve('default', ['X']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/network error [A-Z_]+/);
    expect(vault.seen).toHaveLength(0);
  });

  it('keeps the SDK check that the challenge resource matches the vault host', async () => {
    vault.secrets.set('default--X', 'x');
    const secrets = provider({ disableChallengeResourceVerification: false });
    const error = await rejection(secrets.resolve('default', ['X']));
    expect(error.code).toBe('VEC_SECRET_PROVIDER_UNAVAILABLE');
    expect(tokenCalls).toHaveLength(0);
  });
});
