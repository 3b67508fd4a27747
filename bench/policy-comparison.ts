/**
 * What 20 policies cost: the full pipeline through two Vectra instances that differ only in
 * their Policy section, one with the 20 policies of ./policies.ts
 * (Policy.Providers.Internal.Directory), one with Policy.Enabled=false. Both are started in
 * this process like the main instance (./vectra.ts) and measured with the same shape (HTTPS
 * interception, keep-alive) and the same request (BENCH_REQUEST: a query and two headers the
 * policies read). Their runs alternate in ABBA order (disabled, policies, policies, disabled, …)
 * so that a drift in what else the machine is doing weighs on both alike; each instance's runs
 * are pooled into one row for the table, and the verdict is the median of the adjacent pairs'
 * req/s ratios (one disturbed run cannot swing it).
 */
import { join } from 'node:path';
import {
  BENCH_REQUEST,
  checkBenchPolicies,
  writeBenchPolicies,
  type PolicyCheck,
} from './policies';
import type { Target, UpstreamReady } from './protocol';
import type { Row } from './report';
import type { Measurement, Runner, Shape } from './runner';
import { startBenchVectra, type BenchVectra } from './vectra';

export interface PolicyComparison {
  disabled: Row;
  policies: Row;
  /** req/s of the k-th run of each instance, in run order. */
  pairs: Array<{ disabled: number; policies: number }>;
  runsEach: number;
  check: PolicyCheck;
}

export interface PolicyComparisonOptions {
  runner: Runner;
  repoRoot: string;
  /** The benchmark's temporary directory: policies and data directories go under it. */
  work: string;
  upstreamCaFile: string;
  secret: string;
  upstream: UpstreamReady;
  target: Target;
  shape: Shape;
  /** Runs of each instance (at least 1); ABBA order. */
  runsEach: number;
  /** The direct keep-alive HTTPS row, when it was measured. */
  baseline?: Row;
}

const NAME = 'Vectra HTTPS interception, keep-alive';

export async function comparePolicyCost(
  options: PolicyComparisonOptions,
): Promise<PolicyComparison> {
  const { runner, repoRoot, work, target, shape, runsEach } = options;
  const directory = join(work, 'policies-20');
  writeBenchPolicies(directory);
  // Fails loudly (a refused file, a request that would not be allowed) before anything runs.
  const check = await checkBenchPolicies(repoRoot, directory, {
    host: target.host,
    port: target.port,
    path: '/bench/0',
  });
  console.log(
    `Policy cost: ${check.policies} policies (${check.applying} apply to the bench request, ` +
      `${check.rulesTried} rules tried, ${check.rulesMatched} matched) vs policy disabled, ` +
      `${runsEach} alternating runs each`,
  );

  const start = (name: string, env: Record<string, string>) =>
    startBenchVectra({
      repoRoot,
      dataDir: join(work, name),
      upstreamCaFile: options.upstreamCaFile,
      secret: options.secret,
      upstream: options.upstream,
      freshHosts: [],
      env,
    });
  const instances: BenchVectra[] = [];
  try {
    const disabled = await start('data-policy-disabled', { Policy__Enabled: 'false' });
    instances.push(disabled);
    const policies = await start('data-policy-20', {
      Policy__Providers__Internal__Directory: directory,
    });
    instances.push(policies);
    await expectPolicyStatus(disabled, 'policy engine disabled');
    await expectPolicyStatus(policies, `${check.policies} policies`);

    const extra = {
      throughVectra: true,
      query: BENCH_REQUEST.query,
      headers: { ...BENCH_REQUEST.headers },
    };
    const instance = {
      disabled: { label: 'policy disabled', route: disabled.route('bench') },
      policies: { label: `${check.policies} policies`, route: policies.route('bench') },
    };
    // Both instances were just started: one run each, not counted, so that the first measured
    // run (always the disabled one) does not pay for cold code, caches and connections.
    for (const { label, route } of Object.values(instance)) {
      await runner.measure(`warm-up, ${label}`, target, route, shape, extra);
    }
    const runs = { disabled: [] as Measurement[], policies: [] as Measurement[] };
    for (let i = 0; i < 2 * runsEach; i++) {
      const which = i % 4 === 0 || i % 4 === 3 ? 'disabled' : 'policies'; // A B B A A B B A …
      const { label, route } = instance[which];
      const run = `${label}, run ${runs[which].length + 1}/${runsEach}`;
      runs[which].push(await runner.measure(run, target, route, shape, extra));
    }

    const rowExtra = { ...extra, baseline: options.baseline };
    const rps = (m: Measurement) => (m.samples.latenciesMs.length * 1000) / m.samples.elapsedMs;
    return {
      disabled: runner.combined(`${NAME}, policy disabled`, shape, runs.disabled, rowExtra),
      policies: runner.combined(
        `${NAME}, ${check.policies} policies`,
        shape,
        runs.policies,
        rowExtra,
      ),
      pairs: runs.disabled.map((d, k) => ({ disabled: rps(d), policies: rps(runs.policies[k]) })),
      runsEach,
      check,
    };
  } finally {
    for (const vectra of instances) await vectra.gateway.close('policy comparison done');
  }
}

/** The instance's policy health check says what it loaded; anything else is a set-up mistake. */
async function expectPolicyStatus(vectra: BenchVectra, expected: string): Promise<void> {
  const report = await vectra.gateway.health.report();
  const description = report.checks.policies?.description ?? '(no policies check)';
  if (!description.includes(expected)) {
    throw new Error(
      `policy comparison: expected "${expected}…", the gateway says "${description}"`,
    );
  }
}
