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

export interface Runner {
  readonly rows: Row[];
  loaded(
    name: string,
    target: Target,
    route: Route,
    shape: Shape,
    extra?: { baseline?: Row; throughVectra?: boolean },
  ): Promise<Row>;
  /** One request at a time to each of `fresh`, each followed by one to the warm host. */
  firstHosts(
    label: string,
    route: Route,
    fresh: readonly string[],
    extra?: { baseline?: Row; throughVectra?: boolean },
  ): Promise<{ fresh: Row; warm: Row }>;
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
  /** What the upstream saw on `path`; with `injects`, whether each carried the credential. */
  const upstreamCheck = async (path: string, injects: boolean) => {
    const reply = await upstream.ask({ type: 'counts' });
    const seen = (reply.type === 'counts' && reply.counts[path]) || { requests: 0, injected: 0 };
    return {
      requests: seen.requests,
      text: injects ? `${seen.injected}/${seen.requests} injected` : `${seen.requests} seen`,
    };
  };

  return {
    rows,

    async loaded(name, target, route, shape, extra = {}) {
      const path = `/bench/${++scenario}`;
      const sequential = shape.concurrency === 1;
      const job: ThroughputJob = {
        kind: 'throughput',
        path,
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
      process.stdout.write(`  ${name} (conc. ${shape.concurrency}) … `);
      const cpuBefore = process.cpuUsage();
      const result = await ask(job);
      const cpu = process.cpuUsage(cpuBefore);
      if (result.kind !== 'throughput') throw new Error('unexpected result');
      const check = await upstreamCheck(path, extra.throughVectra === true);
      const row: Row = {
        name,
        concurrency: shape.concurrency,
        stats: stats(result),
        baseline: extra.baseline,
        latencyOnly: shape.latencyOnly,
        check: check.text,
        // Per request the upstream saw, warm-up included (the CPU time covers it too).
        gatewayCpuUs:
          extra.throughVectra && check.requests > 0
            ? (cpu.user + cpu.system) / check.requests
            : undefined,
      };
      console.log(`${row.stats.rps.toFixed(0)} req/s, p50 ${row.stats.p50.toFixed(2)} ms`);
      rows.push(row);
      return row;
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
      const check = (await upstreamCheck(path, extra.throughVectra === true)).text;
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
