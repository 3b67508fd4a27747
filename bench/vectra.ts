/**
 * Vectra under test: the compiled gateway (`dist/`, as `vectra serve` runs it) started in the
 * orchestrator's process with the test environment of test/helpers/gateway.ts, and set up so
 * that every request runs the whole pipeline (authenticate, resolveService, inject with a
 * credential decrypted from the vault, forward, echo redaction).
 */
import { join } from 'node:path';
import type { Gateway } from '../src/gateway';
import type { Route, UpstreamReady } from './protocol';

export interface BenchVectra {
  gateway: Gateway;
  /**
   * How the load generator reaches Vectra for `vault`: `bench` holds the upstream's services
   * (`upstream`, https on its HTTPS port, and `upstream-http`, http on its HTTP port: a
   * credential goes only to the scheme and port its service names), `fresh` one per never-seen
   * address too, so that the loaded runs do not pay for matching a hundred patterns.
   */
  route(vault: 'bench' | 'fresh'): Route;
}

export async function startBenchVectra(options: {
  repoRoot: string;
  dataDir: string;
  upstreamCaFile: string;
  secret: string;
  /** The upstream's listeners; `extra` gives the port of each of `freshHosts`. */
  upstream: Pick<UpstreamReady, 'httpPort' | 'httpsPort' | 'extra'>;
  freshHosts: readonly string[];
  /**
   * Settings over the ones below, in the same `Section__Key` form (the policy comparison sets
   * Policy__Enabled or Policy__Providers__Internal__Directory).
   */
  env?: Readonly<Record<string, string>>;
}): Promise<BenchVectra> {
  const { repoRoot, dataDir } = options;
  // Loaded from dist/ at run time (this file may run from dist/bench/); the types come from src/.
  const { startGateway } = (await import(
    join(repoRoot, 'dist', 'gateway.js')
  )) as typeof import('../src/gateway');
  const { loadConfig } = (await import(
    join(repoRoot, 'dist', 'config', 'loader.js')
  )) as typeof import('../src/config/loader');
  const { config } = loadConfig({
    baseDir: repoRoot,
    env: {
      System__Server__Host: '127.0.0.1',
      System__Server__Http__Port: '0',
      System__Proxy__Port: '0',
      System__Storage__DataDirectory: dataDir,
      System__Storage__Database__Providers__Sqlite__ConnectionString: `Data Source=${join(dataDir, 'vectra.db')}`,
      Observability__Logging__File__Enabled: 'false',
      Observability__Logging__DefaultLogLevel: 'Warning',
      Policy__Providers__Internal__Directory: join(repoRoot, 'policies'),
      System__Proxy__UpstreamCaFile: options.upstreamCaFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      // Measured, not limited: the per-agent limit (60/min by default) would answer 429s.
      System__RateLimit__DefaultRequestsPerMinute: '1000000000',
      ...options.env,
    },
  });
  const gateway = await startGateway(config, { announce: () => undefined, env: {} });
  try {
    const vaults = gateway.vaults;
    const bearer = { type: 'bearer' as const, credential: 'API_KEY' };
    const { upstream } = options;
    for (const vault of ['bench', 'fresh']) {
      await vaults.createVault({ name: vault });
      await vaults.setCredential(vault, 'API_KEY', options.secret);
      await vaults.createService(vault, {
        name: 'upstream',
        host: `127.0.0.1:${upstream.httpsPort}`,
        auth: bearer,
      });
      await vaults.createService(vault, {
        name: 'upstream-http',
        host: `127.0.0.1:${upstream.httpPort}`,
        scheme: 'http',
        auth: bearer,
      });
    }
    for (const [i, host] of options.freshHosts.entries()) {
      const port = upstream.extra.find((listener) => listener.host === host)?.port;
      if (port === undefined) throw new Error(`the upstream has no listener on ${host}`);
      await vaults.createService('fresh', {
        name: `fresh-${i}`,
        host: `${host}:${port}`,
        auth: bearer,
      });
    }
    // An older build (a --baseline) kept agents on the vault service.
    const identity = (gateway as { identity?: typeof gateway.identity }).identity ?? vaults;
    const { token } = await (identity as typeof gateway.identity).createAgent({
      name: 'bench-agent',
      vaults: ['bench', 'fresh'],
    });
    const caPem = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
    const proxy = new URL(gateway.urls.proxy);
    return {
      gateway,
      route: (vault) => ({
        via: 'proxy',
        host: proxy.hostname,
        port: Number(proxy.port),
        // What `vectra run` puts in HTTPS_PROXY: Basic token:vault.
        authorization: `Basic ${Buffer.from(`${token}:${vault}`).toString('base64')}`,
        caPem,
      }),
    };
  } catch (error) {
    await gateway.close('benchmark set-up failed');
    throw error;
  }
}
