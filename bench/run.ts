/**
 * `npm run bench`: the data-plane benchmark, judged against its targets (./targets.ts).
 *
 * This process is the orchestrator and hosts Vectra (./vectra.ts); the upstream
 * (./upstream.ts) and the load generator (./load.ts) are forked children, and mitmproxy, when
 * installed, is a third (./mitmproxy.ts). Scenarios run one after the other (./runner.ts); the
 * last one compares two more Vectra instances, with 20 policies and with the policy engine
 * disabled (./policy-comparison.ts). Two micro-benchmarks follow in their own processes: leaf
 * minting (./leaf-mint.ts) and regex conditions on hostile text (./regex-policy.ts, also
 * `npm run bench:regex` alone). The results are printed as a table and written to
 * docs/benchmarks.md (unless --no-write, or --only-policy, which runs that comparison alone;
 * --baseline and --metrics compare two instances alone, ./build-comparison.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startBareProxy } from './bare-proxy';
import { mintUpstreamIdentity, type UpstreamIdentity } from './certificates';
import { firstMessage, forkChild, sibling } from './children';
import { mitmproxyVersion, startMitmproxy, type Mitmproxy } from './mitmproxy';
import type { Route, Target, UpstreamReady } from './protocol';
import {
  BUSY_LOAD,
  benchmarksDocument,
  type Row,
  describeMachine,
  machineLine,
  resultsTable,
  targetsTable,
} from './report';
import { compareBuilds, compareMetricsCost } from './build-comparison';
import { comparePolicyCost } from './policy-comparison';
import { createRunner, type Runner, type Shape } from './runner';
import { dataPlaneTargets, policyTarget, type TargetRows } from './targets';
import { startBenchVectra, type BenchVectra } from './vectra';

const USAGE = `npm run bench -- [options]
  --seconds N       measured seconds per loaded scenario (default 5; warm-up 1 s)
  --concurrency N   workers of the loaded scenarios (default 16)
  --hosts N         never-seen hosts per proxy for the first-request runs (default 100, max 250)
  --no-mitmproxy    skip mitmproxy even when installed
  --no-leaf-mint    skip bench/leaf-mint.ts
  --no-regex        skip bench/regex-policy.ts (alone: npm run bench:regex)
  --policy-runs N   runs of each instance in the 20-policies, --baseline or --metrics comparison
                    (default 6, ABBA order)
  --only-policy     only the 20-policies comparison (implies --no-write)
  --baseline DIR    only this build against the one in DIR (a checkout of another commit, built
                    with npm run build), HTTPS keep-alive (implies --no-write)
  --metrics         only metrics on against metrics off (Observability.Metrics.Enabled), HTTPS
                    keep-alive, --policy-runs alternating runs each (implies --no-write)
  --no-write        print only; leave docs/benchmarks.md alone`;

interface Options {
  seconds: number;
  concurrency: number;
  hosts: number;
  mitmproxy: boolean;
  leafMint: boolean;
  regex: boolean;
  policyRuns: number;
  onlyPolicy: boolean;
  baseline?: string;
  /** Only the metrics on/off comparison. */
  metrics: boolean;
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
      'no-regex': { type: 'boolean', default: false },
      'policy-runs': { type: 'string', default: '6' },
      'only-policy': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      metrics: { type: 'boolean', default: false },
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
  // A comparison of two instances alone: no target scenarios, no micro-benchmarks, no document.
  const alone = values.baseline !== undefined || values.metrics;
  return {
    seconds: number('seconds', values.seconds, 0.5, 600),
    concurrency: Math.round(number('concurrency', values.concurrency, 1, 256)),
    hosts: Math.round(number('hosts', values.hosts, 1, 250)),
    mitmproxy: !values['no-mitmproxy'],
    leafMint: !values['no-leaf-mint'] && !values['only-policy'] && !alone,
    regex: !values['no-regex'] && !values['only-policy'] && !alone,
    policyRuns: Math.round(number('policy-runs', values['policy-runs'], 1, 50)),
    onlyPolicy: values['only-policy'] || alone,
    baseline: values.baseline,
    metrics: values.metrics,
    // A partial run never replaces the document.
    write: !values['no-write'] && !values['only-policy'] && !alone,
  };
}

/** The repository: above bench/ when run as TypeScript, above dist/bench/bench/ when compiled. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const loopbacks = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}.${i + 2}`);

async function main(): Promise<void> {
  const options = parseOptions();
  const root = repoRoot();
  const loadBefore = loadavg()[0];
  if (loadBefore > BUSY_LOAD) {
    console.warn(
      `warning: load average ${loadBefore.toFixed(2)}: other processes are busy; expect lower, noisier numbers`,
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
    // Upstream: one certificate for 127.0.0.1 and every never-seen address of both proxies.
    const secret = `sk_bench_${randomBytes(16).toString('hex')}`;
    // Only the first-request runs use never-seen hosts; the policy comparison alone needs none.
    const hosts = options.onlyPolicy ? 0 : options.hosts;
    const freshForVectra = loopbacks('127.0.0', hosts);
    const freshForMitm = loopbacks('127.0.1', hosts);
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

    const vectra = options.onlyPolicy
      ? undefined
      : await startBenchVectra({
          repoRoot: root,
          dataDir: join(work, 'data'),
          upstreamCaFile,
          secret,
          upstream: ready,
          freshHosts: freshForVectra,
        });
    if (vectra) stops.push(() => vectra.gateway.close('benchmark done'));

    const version = options.mitmproxy && !options.onlyPolicy ? mitmproxyVersion() : undefined;
    let mitm: Mitmproxy | undefined;
    if (version) {
      mkdirSync(join(work, 'mitmproxy'));
      mitm = await startMitmproxy({ confdir: join(work, 'mitmproxy'), upstreamCaFile, version });
      stops.push(() => mitm!.close());
    }
    const mitmStatus = options.onlyPolicy
      ? 'mitmproxy skipped (--only-policy)'
      : !options.mitmproxy
        ? 'mitmproxy skipped (--no-mitmproxy)'
        : (version ?? 'mitmproxy not installed');

    const load = forkChild('load');
    stops.push(() => load.stop());
    const runner = createRunner({
      load,
      upstream,
      ready,
      upstreamCaPem: identity.caPem,
      seconds: options.seconds,
    });

    const https: Target = { scheme: 'https', host: '127.0.0.1', port: ready.httpsPort };
    const keepAlive: Shape = { concurrency: options.concurrency, newConnection: false };
    console.log(
      `Vectra benchmark: ${options.concurrency} workers, ${options.seconds} s per loaded scenario`,
    );
    const targetRows = vectra
      ? await targetScenarios({
          runner,
          vectra,
          mitm,
          mitmStatus,
          ready,
          freshForVectra,
          freshForMitm,
          options,
          bare: { identity, secret },
        })
      : undefined;
    // What both comparisons (this build against another, 20 policies against none) run with.
    const comparison = {
      runner,
      repoRoot: root,
      work,
      upstreamCaFile,
      secret,
      upstream: ready,
      target: https,
      shape: keepAlive,
      runsEach: options.policyRuns,
    };
    if (options.baseline !== undefined) {
      const builds = await compareBuilds({
        ...comparison,
        baselineRoot: resolve(options.baseline),
      });
      const ratios = builds.ratios.map((r) => r.toFixed(3)).join(', ');
      console.log(
        `\n${resultsTable(runner.rows)}\n\nthis build ÷ baseline (HTTPS keep-alive req/s), ` +
          `median of ${builds.ratios.length} adjacent pairs: ${builds.median.toFixed(3)} (${ratios})\n`,
      );
      return;
    }
    if (options.metrics) {
      const cost = await compareMetricsCost(comparison);
      const ratios = cost.ratios.map((r) => r.toFixed(3)).join(', ');
      console.log(
        `\n${resultsTable(runner.rows)}\n\nmetrics on ÷ metrics off (HTTPS keep-alive req/s), ` +
          `median of ${cost.ratios.length} adjacent pairs: ${cost.median.toFixed(3)} (${ratios})\n`,
      );
      return;
    }
    const policy = await comparePolicyCost({ ...comparison, baseline: targetRows?.directHttps });

    const machine = describeMachine(mitmStatus, loadBefore, root);
    const settings =
      `${options.concurrency} workers per loaded scenario, ${options.seconds} s measured after a 1 s warm-up; ` +
      `conc. 1 runs ${Math.min(options.seconds, 3)} s; ${options.hosts} never-seen hosts per proxy; ` +
      `the policy comparison makes ${options.policyRuns} alternating runs of each instance (after one uncounted run each) and judges the median ratio of adjacent pairs. ` +
      `"req/s ÷ direct" and "p50 added" compare with the direct row of the same kind ` +
      `(keep-alive HTTPS or HTTP, new connection per request, conc. 1); the first-request rows ` +
      `compare with a direct new connection to the same new addresses.`;
    const results = resultsTable(runner.rows);
    const targets = targetsTable([
      ...(targetRows ? dataPlaneTargets(targetRows) : []),
      policyTarget(policy),
    ]);
    console.log(`\n${machineLine(machine)}\n\n${results}\n\n${targets}\n`);

    // Done with the gateway and the other processes: stop them before the micro-benchmark.
    await stopAll();
    let leafMint: string | undefined;
    if (options.leafMint) {
      process.stdout.write('  bench/leaf-mint.ts … ');
      leafMint = await runMicro(root, 'leaf-mint', '200');
      console.log(`done\n\n${leafMint}`);
    }
    let regex: string | undefined;
    if (options.regex) {
      process.stdout.write('  bench/regex-policy.ts … ');
      regex = await runMicro(root, 'regex-policy', '200');
      console.log(`done\n\n${regex}`);
    }
    if (options.write) {
      const path = join(root, 'docs', 'benchmarks.md');
      const text = benchmarksDocument({
        machine,
        settings,
        results,
        targets,
        leafMint,
        regex,
        policyCheck: policy.check,
      });
      writeFileSync(path, await formatMarkdown(text, path));
      console.log(`wrote ${path}`);
    }
  } finally {
    await stopAll();
  }
}

/** The scenarios of the data-plane targets, in order; the rows the targets are judged on. */
async function targetScenarios(s: {
  runner: Runner;
  vectra: BenchVectra;
  mitm: Mitmproxy | undefined;
  mitmStatus: string;
  ready: UpstreamReady;
  freshForVectra: string[];
  freshForMitm: string[];
  options: Options;
  /** For the bare reference proxy: the upstream's certificate and the credential to inject. */
  bare: { identity: UpstreamIdentity; secret: string };
}): Promise<TargetRows> {
  const { runner, vectra, ready, freshForVectra, freshForMitm } = s;
  const mitmRoute: Route | undefined = s.mitm && {
    via: 'proxy',
    host: '127.0.0.1',
    port: s.mitm.port,
    caPem: s.mitm.caPem,
  };
  const https: Target = { scheme: 'https', host: '127.0.0.1', port: ready.httpsPort };
  const http: Target = { scheme: 'http', host: '127.0.0.1', port: ready.httpPort };
  const direct: Route = { via: 'direct' };
  const bench = vectra.route('bench');
  const c = s.options.concurrency;
  const keepAlive: Shape = { concurrency: c, newConnection: false };
  const perRequest: Shape = { concurrency: c, newConnection: true };
  const oneAtATime: Shape = { concurrency: 1, newConnection: false, latencyOnly: true };
  const via = (baseline: Row) => ({ baseline, throughVectra: true });

  const directHttps = await runner.loaded('direct HTTPS, keep-alive', https, direct, keepAlive);
  const directHttp = await runner.loaded('direct HTTP, keep-alive', http, direct, keepAlive);
  const directNew = await runner.loaded(
    'direct HTTPS, new connection per request',
    https,
    direct,
    perRequest,
  );
  await runner.loaded(
    'Vectra HTTP forward (absolute-form), keep-alive',
    http,
    bench,
    keepAlive,
    via(directHttp),
  );
  const vectraHttps = await runner.loaded(
    'Vectra HTTPS interception, keep-alive',
    https,
    bench,
    keepAlive,
    via(directHttps),
  );
  // The floor for any Node proxy on this machine (./bare-proxy.ts): no pipeline at all.
  const bare = await startBareProxy({
    certPem: s.bare.identity.certPem,
    keyPem: s.bare.identity.keyPem,
    caPem: s.bare.identity.caPem,
    upstreamCaPem: s.bare.identity.caPem,
    upstreamPort: ready.httpsPort,
    secret: s.bare.secret,
  });
  let bareHttps: Row;
  try {
    bareHttps = await runner.loaded(
      'reference: bare Node TLS-intercepting proxy (no pipeline), keep-alive',
      https,
      bare.route,
      keepAlive,
      via(directHttps),
    );
  } finally {
    await bare.close();
  }
  await runner.loaded(
    'Vectra HTTPS interception, new CONNECT + TLS per request',
    https,
    bench,
    perRequest,
    via(directNew),
  );
  let mitmHttps: Row | undefined;
  if (mitmRoute) {
    await runner.loaded('mitmproxy HTTP forward, keep-alive', http, mitmRoute, keepAlive, {
      baseline: directHttp,
    });
    mitmHttps = await runner.loaded('mitmproxy HTTPS, keep-alive', https, mitmRoute, keepAlive, {
      baseline: directHttps,
    });
    await runner.loaded(
      'mitmproxy HTTPS, new CONNECT + TLS per request',
      https,
      mitmRoute,
      perRequest,
      { baseline: directNew },
    );
  }

  const directSequential = await runner.loaded(
    'direct HTTPS, keep-alive',
    https,
    direct,
    oneAtATime,
  );
  const vectraSequential = await runner.loaded(
    'Vectra HTTPS interception, keep-alive',
    https,
    bench,
    oneAtATime,
    via(directSequential),
  );
  if (mitmRoute) {
    await runner.loaded('mitmproxy HTTPS, keep-alive', https, mitmRoute, oneAtATime, {
      baseline: directSequential,
    });
  }

  const directFirst = (await runner.firstHosts('direct', direct, freshForVectra)).fresh;
  const vectraFirst = await runner.firstHosts(
    'Vectra',
    vectra.route('fresh'),
    freshForVectra,
    via(directFirst),
  );
  if (mitmRoute) {
    await runner.firstHosts('mitmproxy', mitmRoute, freshForMitm, { baseline: directFirst });
  }
  return {
    directHttps,
    vectraHttps,
    bareHttps,
    mitmHttps,
    mitmStatus: s.mitmStatus,
    directSequential,
    vectraSequential,
    directFirst,
    vectraFirst,
  };
}

/** Runs a micro-benchmark script in its own process and returns what it printed. */
async function runMicro(root: string, script: string, samples: string): Promise<string> {
  const { file, execArgv } = sibling(script);
  const { stdout } = await promisify(execFile)(process.execPath, [...execArgv, file, samples], {
    cwd: root,
    timeout: 120_000,
  });
  return stdout;
}

/** The document as Prettier would write it, so that `npm run lint` stays green. */
async function formatMarkdown(text: string, path: string): Promise<string> {
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(text, { ...config, filepath: path });
}

main().catch((error: unknown) => {
  console.error('benchmark failed:', error);
  process.exitCode = 1;
});
