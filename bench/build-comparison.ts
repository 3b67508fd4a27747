/**
 * Two Vectra instances against each other, HTTPS interception with keep-alive in ABBA order, so
 * that a drift in what else the machine does weighs on both; the verdict is the median of the
 * adjacent pairs' req/s ratios, as in ./policy-comparison.ts. Two uses:
 *
 * - this build against another one (`npm run bench -- --baseline DIR`, DIR a checkout of an
 *   earlier commit with its own `npm run build`);
 * - this build with metrics on against metrics off (`npm run bench -- --metrics`:
 *   Observability.Metrics.Enabled, the cost of recording every request's metrics).
 */
import { join } from 'node:path';
import type { PolicyComparisonOptions } from './policy-comparison';
import type { Row } from './report';
import type { Measurement } from './runner';
import { startBenchVectra, type BenchVectra } from './vectra';

export interface BuildComparison {
  baseline: Row;
  current: Row;
  /** the current instance's req/s ÷ the baseline's, per adjacent pair of runs, in run order. */
  ratios: number[];
  median: number;
}

type ComparisonOptions = Omit<PolicyComparisonOptions, 'baseline'>;

/** One instance of a comparison: where its build is and the settings it starts with. */
interface Instance {
  label: string;
  root: string;
  dataName: string;
  env?: Record<string, string>;
}

export function compareBuilds(
  options: ComparisonOptions & {
    /** The other build's checkout, measured against `repoRoot`'s. */
    baselineRoot: string;
  },
): Promise<BuildComparison> {
  return compareInstances(
    options,
    { label: 'baseline build', root: options.baselineRoot, dataName: 'data-baseline' },
    { label: 'this build', root: options.repoRoot, dataName: 'data-current' },
  );
}

/** Metrics off (the baseline) against metrics on (the default), both this build. */
export function compareMetricsCost(options: ComparisonOptions): Promise<BuildComparison> {
  return compareInstances(
    options,
    {
      label: 'metrics off',
      root: options.repoRoot,
      dataName: 'data-metrics-off',
      env: { Observability__Metrics__Enabled: 'false' },
    },
    { label: 'metrics on', root: options.repoRoot, dataName: 'data-metrics-on' },
  );
}

async function compareInstances(
  options: ComparisonOptions,
  baselineInstance: Instance,
  currentInstance: Instance,
): Promise<BuildComparison> {
  const { runner, target, shape, runsEach } = options;
  const start = (instance: Instance) =>
    startBenchVectra({
      repoRoot: instance.root,
      dataDir: join(options.work, instance.dataName),
      upstreamCaFile: options.upstreamCaFile,
      secret: options.secret,
      upstream: options.upstream,
      freshHosts: [],
      env: instance.env,
    });
  const instances: BenchVectra[] = [];
  try {
    const baseline = await start(baselineInstance);
    instances.push(baseline);
    const current = await start(currentInstance);
    instances.push(current);
    const extra = { throughVectra: true };
    const instance = {
      baseline: { label: baselineInstance.label, route: baseline.route('bench') },
      current: { label: currentInstance.label, route: current.route('bench') },
    };
    for (const { label, route } of Object.values(instance)) {
      await runner.measure(`warm-up, ${label}`, target, route, shape, extra);
    }
    const runs = { baseline: [] as Measurement[], current: [] as Measurement[] };
    for (let i = 0; i < 2 * runsEach; i++) {
      const which = i % 4 === 0 || i % 4 === 3 ? 'baseline' : 'current'; // A B B A …
      const { label, route } = instance[which];
      runs[which].push(
        await runner.measure(
          `${label}, run ${runs[which].length + 1}/${runsEach}`,
          target,
          route,
          shape,
          extra,
        ),
      );
    }
    const rps = (m: Measurement) => (m.samples.latenciesMs.length * 1000) / m.samples.elapsedMs;
    const ratios = runs.baseline.map((b, k) => rps(runs.current[k]) / rps(b));
    const sorted = [...ratios].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    const name = 'Vectra HTTPS interception, keep-alive';
    return {
      baseline: runner.combined(`${name}, ${baselineInstance.label}`, shape, runs.baseline, extra),
      current: runner.combined(`${name}, ${currentInstance.label}`, shape, runs.current, extra),
      ratios,
      median,
    };
  } finally {
    for (const vectra of instances) await vectra.gateway.close('comparison done');
  }
}
