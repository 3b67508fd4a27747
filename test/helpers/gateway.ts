/** Starts real gateways for integration tests: port 0, a temp data directory, no file logs. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/loader';
import type { VectraConfig } from '../../src/config/schema';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway';
import { silentLogger } from '../../src/observability/types';
import type { ServiceInput } from '../../src/vault/types';
import { tempDir } from './temp-dir';
import { startUpstream, type Route, type TestUpstream } from './upstream';

export const REPO_ROOT = join(__dirname, '../..');

/** Environment for a throwaway gateway; `extra` wins. */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dataDir = tempDir('vectra-test-');
  return {
    System__Server__Host: '127.0.0.1',
    System__Server__Http__Port: '0',
    System__Proxy__Port: '0',
    System__Storage__DataDirectory: dataDir,
    System__Storage__Database__Providers__Sqlite__ConnectionString: `Data Source=${join(dataDir, 'vectra.db')}`,
    Observability__Logging__File__Enabled: 'false',
    // One allow-all policy: suites that test policies bring their own (the shipped examples hold
    // every write for approval, right for a fresh install but not for data-plane tests; and with
    // no policy at all every request is refused, fail closed).
    Policy__Providers__Internal__Directory: allowAllPolicyDirectory(dataDir),
    // A call that needs a human is answered VEC_APPROVAL_PENDING at once; approval tests hold.
    HumanInTheLoop__HoldSeconds: '0',
    ...extra,
  };
}

export function testConfig(extra: NodeJS.ProcessEnv = {}): Readonly<VectraConfig> {
  return loadConfig({ baseDir: REPO_ROOT, env: testEnv(extra) }).config;
}

export function startTestGateway(
  extra: NodeJS.ProcessEnv = {},
  options: GatewayOptions = {},
): Promise<Gateway> {
  return startGateway(testConfig(extra), {
    logger: silentLogger,
    announce: () => undefined,
    ...options,
  });
}

/** Starts a gateway with `extra`, hands it to `use`, and closes it whatever `use` does. */
export async function withTestGateway<T>(
  extra: NodeJS.ProcessEnv,
  use: (gateway: Gateway) => Promise<T>,
): Promise<T> {
  const gateway = await startTestGateway(extra);
  try {
    return await use(gateway);
  } finally {
    await gateway.close();
  }
}

/**
 * For a describe block: one upstream serving `routes` for all its tests (what it received is
 * cleared before each), and a list of gateways the tests start, all closed after the block.
 * The upstream object is filled in by beforeAll, so it can be destructured at once.
 */
export function upstreamAndGateways(routes: Route[]): {
  upstream: TestUpstream;
  gateways: Gateway[];
} {
  const upstream = {} as TestUpstream;
  const gateways: Gateway[] = [];
  beforeAll(async () => {
    Object.assign(upstream, await startUpstream(routes));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });
  return { upstream, gateways };
}

/**
 * For a describe block that starts its own gateway and upstreams in beforeAll: after all its
 * tests closes the gateway, then the upstreams in the order listed (those that started), and
 * before each test clears what the upstreams received.
 */
export function closedAfterAll(
  gateway: () => Gateway | undefined,
  upstreams: () => Array<TestUpstream | undefined>,
): void {
  afterAll(async () => {
    await gateway()?.close();
    for (const upstream of upstreams()) await upstream?.close();
  });
  beforeEach(() => {
    for (const upstream of upstreams()) upstream!.received.length = 0;
  });
}

/**
 * Creates the vault `vault` holding the credential `KEY` = `secret`, the service `local` that
 * sends it as a bearer token to `upstream`'s plain-HTTP port on localhost, and the agent `agent`
 * of that vault; returns the agent's token.
 */
export function localBearerVault(
  gateway: Gateway,
  upstream: TestUpstream,
  vault: string,
  agent: string,
  secret = `${vault}-secret-value`,
): Promise<string> {
  return vaultWithService(gateway, vault, agent, ['KEY', secret], {
    name: 'local',
    host: `localhost:${upstream.httpPort}`,
    scheme: 'http',
    auth: { type: 'bearer', credential: 'KEY' },
  });
}

/**
 * Creates the vault `vault` holding the credential `TOKEN` = `secret`, the service `service` that
 * sends it in `X-Api-Key` to `upstream`'s HTTPS port on localhost, and the agent `agent` of that
 * vault; returns the agent's token.
 */
export function localApiKeyVault(
  gateway: Gateway,
  upstream: TestUpstream,
  vault: string,
  agent: string,
  secret: string,
  service = 'local',
): Promise<string> {
  return vaultWithService(gateway, vault, agent, ['TOKEN', secret], {
    name: service,
    host: `localhost:${upstream.httpsPort}`,
    auth: { type: 'api-key', header: 'X-Api-Key', credential: 'TOKEN' },
  });
}

async function vaultWithService(
  gateway: Gateway,
  vault: string,
  agent: string,
  [credential, secret]: [string, string],
  service: ServiceInput,
): Promise<string> {
  await gateway.vaults.createVault({ name: vault });
  await gateway.vaults.setCredential(vault, credential, secret);
  await gateway.vaults.createService(vault, service);
  return (await gateway.identity.createAgent({ name: agent, vaults: [vault] })).token;
}

/** `POST /v1/policy/evaluate` at `baseUrl` as `token`: the status and the answer, loosely typed. */
export async function evaluatePolicy(
  baseUrl: string,
  token: string,
  request: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}/v1/policy/evaluate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  return { status: res.status, body: await res.json() };
}

/** A response body as loosely typed JSON, for assertions. */
export async function json(res: Response): Promise<any> {
  return res.json();
}

function allowAllPolicyDirectory(dataDir: string): string {
  const dir = join(dataDir, 'policies');
  mkdirSync(dir, { recursive: true });
  const policy = {
    name: 'allow-all',
    description: 'Test default: allow everything.',
    default: 'Allow',
    rules: [],
  };
  writeFileSync(join(dir, 'allow-all.json'), JSON.stringify(policy));
  return dir;
}
