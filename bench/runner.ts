/**
 * Runs scenarios on the load generator and turns each into a table row: latency statistics,
 * the comparison with its direct baseline, the gateway's CPU time per request (this process
 * hosts Vectra, and does nothing else while a scenario runs) and what the upstream saw.
 */
import type { Child } from './children';
import type {
  LoadJob,
  LoadResult,
  Route,
  Samples,
  Target,
  ThroughputJob,
  UpstreamReady,
} from './protocol';
import { stats, type Row } from './report';

export interface RunnerOptions {
  load: Child;
  upstream: Child;
  ready: UpstreamReady;
  upstreamCaPem: string;
  /** Measured seconds of a loaded scenario (warm-up 1 s); conc. 1 runs take at most 3 s. */
  seconds: number;
}

export interface Shape {
  concurrency: number;
  newConnection: boolean;
  /** Strictly sequential runs: req/s would only restate the latency, so it is not shown. */
  latencyOnly?: boolean;
}

/** One loaded run that is not a row yet (see Runner.measure). */
export interface Measurement {
  samples: Samples;
  /** CPU time of this process (user + system) while the run lasted, in µs. */
  cpuUs: number;
  /** What the upstream saw on the run's path, warm-up included. */
  upstream: { requests: number; injected: number };
}

export interface LoadedExtra {
  /** The direct row this one is compared with. */
  baseline?: Row;
  throughVectra?: boolean;
  /** Appended to the path (`?page=2`); the upstream still counts by path. */
  query?: string;
  headers?: Record<string, string>;
}

export interface Runner {
  readonly rows: Row[];
  loaded(
    name: string,
    target: Target,
    route: Route,
    shape: Shape,
    extra?: LoadedExtra,
  ): Promise<Row>;
  /**
   * One loaded run, printed as `label` but not added to `rows`: runs of the same configuration
   * (alternated with another's) become one row through `combined`.
   */
  measure(
    label: string,
    target: Target,
    route: Route,
    shape: Shape,
    extra?: LoadedExtra,
  ): Promise<Measurement>;
  /** One row for several runs: their samples pooled, CPU and upstream counts summed. */
  combined(name: string, shape: Shape, runs: Measurement[], extra?: LoadedExtra): Row;
  /** One request at a time to each of `fresh`, each followed by one to the warm host. */
  firstHosts(
    label: string,
    route: Route,
    fresh: readonly string[],
    extra?: { baseline?: Row; throughVectra?: boolean },
  ): Promise<{ fresh: Row; warm: Row }>;
}

/** Samples of several runs as one: latencies pooled, measured windows and failures summed. */
export function poolSamples(runs: readonly Samples[]): Samples {
  return {
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    elapsedMs: runs.reduce((sum, r) => sum + r.elapsedMs, 0),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
    firstFailure: runs.find((r) => r.firstFailure !== undefined)?.firstFailure,
  };
}

export function createRunner(options: RunnerOptions): Runner {
  const { load, upstream, ready } = options;
  const rows: Row[] = [];
  let scenario = 0;

  const ask = async (job: LoadJob): Promise<LoadResult> => {
    const reply = await load.ask({ type: 'run', job });
    if (reply.type !== 'result') throw new Error(`load generator: ${JSON.stringify(reply)}`);
    return reply.result;
  };
  /** What the upstream saw on `path`: requests, and how many carried the credential. */
  const upstreamSeen = async (path: string) => {
    const reply = await upstream.ask({ type: 'counts' });
    return (reply.type === 'counts' && reply.counts[path]) || { requests: 0, injected: 0 };
  };
  const checkText = (seen: Measurement['upstream'], injects: boolean) =>
    injects ? `${seen.injected}/${seen.requests} injected` : `${seen.requests} seen`;

  const measure: Runner['measure'] = async (label, target, route, shape, extra = {}) => {
    const path = `/bench/${++scenario}`;
    const sequential = shape.concurrency === 1;
    const job: ThroughputJob = {
      kind: 'throughput',
      path: `${path}${extra.query ?? ''}`,
      ...(extra.headers ? { headers: extra.headers } : {}),
      target,
      route,
      upstreamCaPem: options.upstreamCaPem,
      concurrency: shape.concurrency,
      newConnection: shape.newConnection,
      warmupMs: sequential ? 500 : 1000,
      durationMs: (sequential ? Math.min(options.seconds, 3) : options.seconds) * 1000,
      // New connections leave TIME_WAIT sockets behind: bound them, whatever the duration.
      maxRequests: shape.newConnection ? 20_000 : 1_000_000,
    };
    process.stdout.write(`  ${label} (conc. ${shape.concurrency}) … `);
    const cpuBefore = process.cpuUsage();
    const result = await ask(job);
    const cpu = process.cpuUsage(cpuBefore);
    if (result.kind !== 'throughput') throw new Error('unexpected result');
    const run = {
      samples: result,
      cpuUs: cpu.user + cpu.system,
      upstream: await upstreamSeen(path),
    };
    const s = stats(result);
    console.log(`${s.rps.toFixed(0)} req/s, p50 ${s.p50.toFixed(2)} ms`);
    return run;
  };

  const combined: Runner['combined'] = (name, shape, runs, extra = {}) => {
    const seen = {
      requests: runs.reduce((sum, r) => sum + r.upstream.requests, 0),
      injected: runs.reduce((sum, r) => sum + r.upstream.injected, 0),
    };
    const cpuUs = runs.reduce((sum, r) => sum + r.cpuUs, 0);
    const row: Row = {
      name,
      concurrency: shape.concurrency,
      stats: stats(poolSamples(runs.map((r) => r.samples))),
      baseline: extra.baseline,
      latencyOnly: shape.latencyOnly,
      check: checkText(seen, extra.throughVectra === true),
      // Per request the upstream saw, warm-up included (the CPU time covers it too).
      gatewayCpuUs: extra.throughVectra && seen.requests > 0 ? cpuUs / seen.requests : undefined,
    };
    rows.push(row);
    return row;
  };

  return {
    rows,
    measure,
    combined,

    async loaded(name, target, route, shape, extra = {}) {
      const run = await measure(name, target, route, shape, extra);
      return combined(name, shape, [run], extra);
    },

    async firstHosts(label, route, fresh, extra = {}) {
      const path = `/bench/${++scenario}`;
      process.stdout.write(`  ${label}: ${fresh.length} new hosts … `);
      const warm: Target = { scheme: 'https', host: '127.0.0.1', port: ready.httpsPort };
      const result = await ask({
        kind: 'first-host',
        path,
        fresh: fresh.map((host) => ({
          scheme: 'https',
          host,
          port: ready.extra.find((e) => e.host === host)?.port ?? 0,
        })),
        warm,
        route,
        upstreamCaPem: options.upstreamCaPem,
      });
      if (result.kind !== 'first-host') throw new Error('unexpected result');
      const check = checkText(await upstreamSeen(path), extra.throughVectra === true);
      const row = (name: string, samples: Samples): Row => ({
        name,
        concurrency: 1,
        stats: stats(samples),
        baseline: extra.baseline,
        latencyOnly: true,
        check,
      });
      const direct = route.via === 'direct';
      const both = {
        fresh: row(
          direct
            ? `${label}: new connection to a new address`
            : `${label}: first request to a new host`,
          result.fresh,
        ),
        warm: row(
          direct
            ? `${label}: new connection to a warm address`
            : `${label}: new tunnel to a warm host`,
          result.warm,
        ),
      };
      console.log(
        `p50 ${both.fresh.stats.p50.toFixed(2)} ms (warm ${both.warm.stats.p50.toFixed(2)} ms)`,
      );
      rows.push(both.fresh, both.warm);
      return both;
    },
  };
}
