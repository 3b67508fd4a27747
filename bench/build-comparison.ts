/**
 * This build against another one (`npm run bench -- --baseline DIR`, DIR a checkout of an
 * earlier commit with its own `npm run build`): both are started in this process, set up alike
 * (./vectra.ts), and measured with the same shape (HTTPS interception, keep-alive) in ABBA
 * order, so that a drift in what else the machine does weighs on both. The verdict is the median
 * of the adjacent pairs' req/s ratios, as in ./policy-comparison.ts.
 */
import { join } from 'node:path';
import type { PolicyComparisonOptions } from './policy-comparison';
import type { Row } from './report';
import type { Measurement } from './runner';
import { startBenchVectra, type BenchVectra } from './vectra';

export interface BuildComparison {
  baseline: Row;
  current: Row;
  /** this build's req/s ÷ the baseline's, per adjacent pair of runs, in run order. */
  ratios: number[];
  median: number;
}

export async function compareBuilds(
  options: Omit<PolicyComparisonOptions, 'baseline'> & {
    /** The other build's checkout, measured against `repoRoot`'s. */
    baselineRoot: string;
  },
): Promise<BuildComparison> {
  const { runner, target, shape, runsEach } = options;
  const start = (root: string, name: string) =>
    startBenchVectra({
      repoRoot: root,
      dataDir: join(options.work, name),
      upstreamCaFile: options.upstreamCaFile,
      secret: options.secret,
      upstream: options.upstream,
      freshHosts: [],
    });
  const instances: BenchVectra[] = [];
  try {
    const baseline = await start(options.baselineRoot, 'data-baseline');
    instances.push(baseline);
    const current = await start(options.repoRoot, 'data-current');
    instances.push(current);
    const extra = { throughVectra: true };
    const instance = {
      baseline: { label: 'baseline build', route: baseline.route('bench') },
      current: { label: 'this build', route: current.route('bench') },
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
      baseline: runner.combined(`${name}, baseline build`, shape, runs.baseline, extra),
      current: runner.combined(`${name}, this build`, shape, runs.current, extra),
      ratios,
      median,
    };
  } finally {
    for (const vectra of instances) await vectra.gateway.close('build comparison done');
  }
}
