/**
 * `npm run bench`: the data-plane benchmark of issue 4 (point 11 and "Targets").
 *
 * This process is the orchestrator and hosts Vectra (the compiled `dist/`, started with
 * startGateway); the upstream (./upstream.ts) and the load generator (./load.ts) are forked
 * children, and mitmproxy, when installed, is a third. Scenarios run one after the other; the
 * results are printed as a table and written to docs/benchmarks.md (unless --no-write).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify, parseArgs } from 'node:util';
import type { Gateway } from '../src/gateway';
import { mintUpstreamIdentity } from './certificates';
import { firstMessage, forkChild, sibling } from './children';
import { mitmproxyVersion, startMitmproxy, type Mitmproxy } from './mitmproxy';
import type { LoadJob, Route, Samples, Target, ThroughputJob, UpstreamReady } from './protocol';
import {
  BUSY_LOAD,
  benchmarksDocument,
  describeMachine,
  machineLine,
  resultsTable,
  stats,
  targetsTable,
  type Row,
  type Target as Goal,
} from './report';

/** The repository: above bench/ when run as TypeScript, above dist/bench/bench/ when compiled. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const REPO_ROOT = repoRoot();
const USAGE = `npm run bench -- [options]
  --seconds N       measured seconds per loaded scenario (default 5; warm-up 1 s)
  --concurrency N   workers of the loaded scenarios (default 16)
  --hosts N         never-seen hosts per proxy for the first-request runs (default 100, max 250)
  --no-mitmproxy    skip mitmproxy even when installed
  --no-leaf-mint    skip bench/leaf-mint.ts
  --no-write        print only; leave docs/benchmarks.md alone`;

interface Options {
  seconds: number;
  concurrency: number;
  hosts: number;
  mitmproxy: boolean;
  leafMint: boolean;
  write: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '16' },
      hosts: { type: 'string', default: '100' },
      'no-mitmproxy': { type: 'boolean', default: false },
      'no-leaf-mint': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string, min: number, max: number) => {
    const value = Number(raw);
    if (!(value >= min && value <= max)) {
      console.error(`--${name} must be a number from ${min} to ${max}\n\n${USAGE}`);
      process.exit(2);
    }
    return value;
  };
  return {
    seconds: number('seconds', values.seconds, 0.5, 600),
    concurrency: Math.round(number('concurrency', values.concurrency, 1, 256)),
    hosts: Math.round(number('hosts', values.hosts, 1, 250)),
    mitmproxy: !values['no-mitmproxy'],
    leafMint: !values['no-leaf-mint'],
    write: !values['no-write'],
  };
}

const loopbacks = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}.${i + 2}`);

async function startVectra(env: NodeJS.ProcessEnv): Promise<Gateway> {
  // The compiled gateway, as `vectra serve` runs it; its types come from src/.
  const { startGateway } = (await import(
    join(REPO_ROOT, 'dist', 'gateway.js')
  )) as typeof import('../src/gateway');
  const { loadConfig } = (await import(
    join(REPO_ROOT, 'dist', 'config', 'loader.js')
  )) as typeof import('../src/config/loader');
  const { config } = loadConfig({ baseDir: REPO_ROOT, env });
  return startGateway(config, { announce: () => undefined, env: {} });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const loadBefore = loadavg()[0];
  if (loadBefore > BUSY_LOAD) {
    console.warn(
      `warning: load average ${loadBefore.toFixed(2)}: other processes are busy, expect lower and noisier numbers`,
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'vectra-bench-'));
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

  try {
    const secret = `sk_bench_${randomBytes(16).toString('hex')}`;
    const freshForVectra = loopbacks('127.0.0', options.hosts);
    const freshForMitm = loopbacks('127.0.1', options.hosts);
    const identity = mintUpstreamIdentity([...freshForVectra, ...freshForMitm]);
    const upstreamCaFile = join(work, 'upstream-ca.pem');
    writeFileSync(upstreamCaFile, identity.caPem);

    const upstream = forkChild('upstream', {
      BENCH_UPSTREAM: JSON.stringify({
        certPem: identity.certPem,
        keyPem: identity.keyPem,
        secret,
        extra: [...freshForVectra, ...freshForMitm],
      }),
    });
    stops.push(() => upstream.stop());
    const ready = await firstMessage<UpstreamReady>(upstream, 'ready');

    const dataDir = join(work, 'data');
    const gateway = await startVectra({
      System__Server__Host: '127.0.0.1',
      System__Server__Http__Port: '0',
      System__Proxy__Port: '0',
      System__Storage__DataDirectory: dataDir,
      System__Storage__Database__Providers__Sqlite__ConnectionString: `Data Source=${join(dataDir, 'vectra.db')}`,
      Observability__Logging__File__Enabled: 'false',
      Observability__Logging__DefaultLogLevel: 'Warning',
      Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
      System__Proxy__UpstreamCaFile: upstreamCaFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    stops.push(() => gateway.close('benchmark done'));

    // One vault for the loaded runs (one service), one for the new-host runs (a service per
    // address): the loaded runs should not pay for matching a hundred patterns.
    const vaults = gateway.vaults;
    const bearer = { type: 'bearer' as const, credential: 'API_KEY' };
    for (const vault of ['bench', 'fresh']) {
      await vaults.createVault({ name: vault });
      await vaults.setCredential(vault, 'API_KEY', secret);
      await vaults.createService(vault, { name: 'upstream', host: '127.0.0.1', auth: bearer });
    }
    for (const [i, host] of freshForVectra.entries()) {
      await vaults.createService('fresh', { name: `fresh-${i}`, host, auth: bearer });
    }
    const { token } = await vaults.createAgent({ name: 'bench-agent', vaults: ['bench', 'fresh'] });
    const basic = (vault: string) => `Basic ${Buffer.from(`${token}:${vault}`).toString('base64')}`;
    const vectraCa = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
    const proxyUrl = new URL(gateway.urls.proxy);
    const vectra = (vault: string): Route => ({
      via: 'proxy',
      host: proxyUrl.hostname,
      port: Number(proxyUrl.port),
      authorization: basic(vault),
      caPem: vectraCa,
    });

    const load = forkChild('load');
    stops.push(() => load.stop());

    const version = options.mitmproxy ? mitmproxyVersion() : undefined;
    let mitm: Mitmproxy | undefined;
    if (version) {
      mkdirSync(join(work, 'mitmproxy'));
      mitm = await startMitmproxy({ confdir: join(work, 'mitmproxy'), upstreamCaFile, version });
      stops.push(() => mitm!.close());
    }
    const mitmRoute: Route | undefined = mitm && {
      via: 'proxy',
      host: '127.0.0.1',
      port: mitm.port,
      caPem: mitm.caPem,
    };
    const mitmStatus = !options.mitmproxy
      ? 'mitmproxy skipped (--no-mitmproxy)'
      : (version ?? 'mitmproxy not installed');

    const https: Target = { scheme: 'https', host: '127.0.0.1', port: ready.httpsPort };
    const http: Target = { scheme: 'http', host: '127.0.0.1', port: ready.httpPort };
    const direct: Route = { via: 'direct' };
    const rows: Row[] = [];
    let scenario = 0;

    const ask = async (job: LoadJob) => {
      const reply = await load.ask({ type: 'run', job });
      if (reply.type !== 'result') throw new Error(`load generator: ${JSON.stringify(reply)}`);
      return reply.result;
    };
    const upstreamSaw = async (path: string) => {
      const reply = await upstream.ask({ type: 'counts' });
      return reply.type === 'counts'
        ? (reply.counts[path] ?? { requests: 0, injected: 0 })
        : { requests: 0, injected: 0 };
    };
    const checkOf = (seen: { requests: number; injected: number }, injects: boolean) =>
      injects ? `${seen.injected}/${seen.requests} injected` : `${seen.requests} seen`;

    /** One loaded (or conc. 1 keep-alive) run; `throughVectra` adds CPU and injection checks. */
    async function loaded(
      name: string,
      target: Target,
      route: Route,
      shape: Pick<ThroughputJob, 'concurrency' | 'newConnection'> & { latencyOnly?: boolean },
      extra: { baseline?: Row; throughVectra?: boolean } = {},
    ): Promise<Row> {
      const path = `/bench/${++scenario}`;
      const conc1 = shape.concurrency === 1;
      const job: ThroughputJob = {
        kind: 'throughput',
        path,
        target,
        route,
        upstreamCaPem: identity.caPem,
        concurrency: shape.concurrency,
        newConnection: shape.newConnection,
        warmupMs: conc1 ? 500 : 1000,
        durationMs: (conc1 ? Math.min(options.seconds, 3) : options.seconds) * 1000,
        maxRequests: shape.newConnection ? 20_000 : 1_000_000,
      };
      process.stdout.write(`  ${name} (conc. ${shape.concurrency}) … `);
      const cpuBefore = process.cpuUsage();
      const result = await ask(job);
      const cpu = process.cpuUsage(cpuBefore);
      if (result.kind !== 'throughput') throw new Error('unexpected result');
      const seen = await upstreamSaw(path);
      const row: Row = {
        name,
        concurrency: shape.concurrency,
        stats: stats(result),
        baseline: extra.baseline,
        latencyOnly: shape.latencyOnly,
        check: checkOf(seen, extra.throughVectra === true),
        gatewayCpuUs:
          extra.throughVectra && seen.requests > 0
            ? (cpu.user + cpu.system) / seen.requests
            : undefined,
      };
      console.log(`${row.stats.rps.toFixed(0)} req/s, p50 ${row.stats.p50.toFixed(2)} ms`);
      rows.push(row);
      return row;
    }

    /** Sequential first requests to new hosts, interleaved with a warm host. */
    async function firstHosts(
      label: string,
      route: Route,
      fresh: string[],
      baseline: Row | undefined,
      throughVectra: boolean,
    ): Promise<{ fresh: Row; warm: Row }> {
      const path = `/bench/${++scenario}`;
      process.stdout.write(`  ${label}: ${fresh.length} new hosts … `);
      const result = await ask({
        kind: 'first-host',
        path,
        fresh: fresh.map((host) => {
          const port = ready.extra.find((e) => e.host === host)?.port ?? 0;
          return { scheme: 'https', host, port };
        }),
        warm: https,
        route,
        upstreamCaPem: identity.caPem,
      });
      if (result.kind !== 'first-host') throw new Error('unexpected result');
      const check = checkOf(await upstreamSaw(path), throughVectra);
      const make = (name: string, samples: Samples): Row => ({
        name,
        concurrency: 1,
        stats: stats(samples),
        baseline,
        latencyOnly: true,
        check,
      });
      const rowsOf = {
        fresh: make(
          route.via === 'direct'
            ? `${label}: new connection to a new address`
            : `${label}: first request to a new host`,
          result.fresh,
        ),
        warm: make(
          route.via === 'direct'
            ? `${label}: new connection to a warm address`
            : `${label}: new tunnel to a warm host`,
          result.warm,
        ),
      };
      console.log(
        `p50 ${rowsOf.fresh.stats.p50.toFixed(2)} ms (warm ${rowsOf.warm.stats.p50.toFixed(2)} ms)`,
      );
      rows.push(rowsOf.fresh, rowsOf.warm);
      return rowsOf;
    }

    const c = options.concurrency;
    const keepAlive = { concurrency: c, newConnection: false };
    const perRequest = { concurrency: c, newConnection: true };
    const sequential = { concurrency: 1, newConnection: false, latencyOnly: true };
    console.log(`Vectra benchmark: ${c} workers, ${options.seconds} s per loaded scenario`);

    const directHttps = await loaded('direct HTTPS, keep-alive', https, direct, keepAlive);
    const directHttp = await loaded('direct HTTP, keep-alive', http, direct, keepAlive);
    const directNew = await loaded(
      'direct HTTPS, new connection per request',
      https,
      direct,
      perRequest,
    );
    const vectraOnly = { throughVectra: true };
    await loaded(
      'Vectra HTTP forward (absolute-form), keep-alive',
      http,
      vectra('bench'),
      keepAlive,
      {
        baseline: directHttp,
        ...vectraOnly,
      },
    );
    const vectraHttps = await loaded(
      'Vectra HTTPS interception, keep-alive',
      https,
      vectra('bench'),
      keepAlive,
      {
        baseline: directHttps,
        ...vectraOnly,
      },
    );
    await loaded(
      'Vectra HTTPS interception, new CONNECT + TLS per request',
      https,
      vectra('bench'),
      perRequest,
      {
        baseline: directNew,
        ...vectraOnly,
      },
    );
    let mitmHttps: Row | undefined;
    if (mitmRoute) {
      await loaded('mitmproxy HTTP forward, keep-alive', http, mitmRoute, keepAlive, {
        baseline: directHttp,
      });
      mitmHttps = await loaded('mitmproxy HTTPS, keep-alive', https, mitmRoute, keepAlive, {
        baseline: directHttps,
      });
      await loaded('mitmproxy HTTPS, new CONNECT + TLS per request', https, mitmRoute, perRequest, {
        baseline: directNew,
      });
    }

    const directSeq = await loaded('direct HTTPS, keep-alive', https, direct, sequential);
    const vectraSeq = await loaded(
      'Vectra HTTPS interception, keep-alive',
      https,
      vectra('bench'),
      sequential,
      {
        baseline: directSeq,
        ...vectraOnly,
      },
    );
    if (mitmRoute) {
      await loaded('mitmproxy HTTPS, keep-alive', https, mitmRoute, sequential, {
        baseline: directSeq,
      });
    }

    const directFirst = (await firstHosts('direct', direct, freshForVectra, undefined, false))
      .fresh;
    const vectraFirst = await firstHosts(
      'Vectra',
      vectra('fresh'),
      freshForVectra,
      directFirst,
      true,
    );
    if (mitmRoute) await firstHosts('mitmproxy', mitmRoute, freshForMitm, directFirst, false);

    // Targets of issue 4.
    const ratio = vectraHttps.stats.rps / directHttps.stats.rps;
    const addedSeq = vectraSeq.stats.p50 - directSeq.stats.p50;
    const addedLoaded = vectraHttps.stats.p50 - directHttps.stats.p50;
    const addedFirstDirect = vectraFirst.fresh.stats.p50 - directFirst.stats.p50;
    const addedFirstWarm = vectraFirst.fresh.stats.p50 - vectraFirst.warm.stats.p50;
    const goals: Goal[] = [
      {
        target: 'HTTPS keep-alive through Vectra ≥ 0.5× direct req/s',
        measured: `${ratio.toFixed(2)}× (${vectraHttps.stats.rps.toFixed(0)} vs ${directHttps.stats.rps.toFixed(0)} req/s)`,
        pass: ratio >= 0.5,
      },
      mitmHttps
        ? {
            target: 'HTTPS keep-alive through Vectra ≥ 5× mitmproxy req/s',
            measured: `${(vectraHttps.stats.rps / mitmHttps.stats.rps).toFixed(2)}× (${vectraHttps.stats.rps.toFixed(0)} vs ${mitmHttps.stats.rps.toFixed(0)} req/s)`,
            pass: vectraHttps.stats.rps / mitmHttps.stats.rps >= 5,
          }
        : {
            target: 'HTTPS keep-alive through Vectra ≥ 5× mitmproxy req/s',
            measured: mitmStatus,
            pass: undefined,
          },
      {
        target: 'HTTPS keep-alive through Vectra: < 1 ms added at p50 (conc. 1)',
        measured: `+${addedSeq.toFixed(2)} ms (${vectraSeq.stats.p50.toFixed(2)} vs ${directSeq.stats.p50.toFixed(2)} ms); under load (conc. ${c}): +${addedLoaded.toFixed(2)} ms`,
        pass: addedSeq < 1,
      },
      {
        target: 'First request to a never-seen host: < 20 ms added at p50',
        measured: `+${addedFirstDirect.toFixed(2)} ms vs a direct new connection; +${addedFirstWarm.toFixed(2)} ms vs a new tunnel to a warm host`,
        pass: addedFirstDirect < 20 && addedFirstWarm < 20,
      },
    ];

    const machine = describeMachine(mitmStatus, loadBefore);
    const settings =
      `${c} workers per loaded scenario, ${options.seconds} s measured after a 1 s warm-up; ` +
      `conc. 1 keep-alive runs ${Math.min(options.seconds, 3)} s; ${options.hosts} never-seen hosts per proxy. ` +
      `"req/s ÷ direct" and "p50 added" compare with the direct row of the same kind ` +
      `(keep-alive HTTPS or HTTP, new connection, conc. 1); the first-request rows compare with a direct new connection to the same new addresses.`;
    const results = resultsTable(rows);
    const targets = targetsTable(goals);
    console.log(`\n${machineLine(machine)}\n\n${results}\n\n${targets}\n`);

    // The gateway and the other processes are done: stop them before the micro-benchmark.
    await stopAll();
    let leafMint: string | undefined;
    if (options.leafMint) {
      process.stdout.write('  bench/leaf-mint.ts … ');
      leafMint = await runLeafMint();
      console.log(`done\n\n${leafMint}`);
    }
    if (options.write) {
      const path = join(REPO_ROOT, 'docs', 'benchmarks.md');
      const text = benchmarksDocument({ machine, settings, results, targets, leafMint });
      writeFileSync(path, await formatMarkdown(text, path));
      console.log(`wrote ${path}`);
    }
  } finally {
    await stopAll();
  }
}

async function runLeafMint(): Promise<string> {
  const { file, execArgv } = sibling('leaf-mint');
  const { stdout } = await promisify(execFile)(process.execPath, [...execArgv, file, '200'], {
    cwd: REPO_ROOT,
    timeout: 120_000,
  });
  return stdout;
}

/** The document as Prettier would write it, so `npm run lint` stays green. */
async function formatMarkdown(text: string, path: string): Promise<string> {
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(text, { ...config, filepath: path });
}

main().catch((error: unknown) => {
  console.error('benchmark failed:', error);
  process.exitCode = 1;
});
