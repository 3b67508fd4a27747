/**
 * Messages between the benchmark orchestrator (./run.ts) and its two child processes: the
 * upstream (./upstream.ts) and the load generator (./load.ts). Both children are forked with an
 * IPC channel; every request carries an `id` and gets exactly one reply with that id.
 */

/** Where a request goes: the upstream's address as the client names it. */
export interface Target {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

/** How the client reaches the target. */
export type Route =
  | { via: 'direct' }
  /** Absolute-form `GET http://…` for http targets, CONNECT + TLS for https targets. */
  | { via: 'proxy'; host: string; port: number; authorization?: string; caPem: string };

export interface ThroughputJob {
  kind: 'throughput';
  /** The upstream counts requests per path, so each scenario uses its own; a query may follow. */
  path: string;
  /** Extra request headers (the policy comparison sends Accept and User-Agent). */
  headers?: Record<string, string>;
  target: Target;
  route: Route;
  /** CA certificates the client trusts (the upstream's for direct HTTPS, the proxy's otherwise). */
  upstreamCaPem: string;
  concurrency: number;
  /** Keep-alive connections, or a new connection (and tunnel) for every request. */
  newConnection: boolean;
  warmupMs: number;
  durationMs: number;
  /** Upper bound on measured requests, whatever the duration. */
  maxRequests: number;
}

/**
 * One request at a time over a fresh connection: to each of `fresh` (hosts never seen before),
 * each followed by one to `warm` (a host already seen), so both see the same conditions.
 */
export interface FirstHostJob {
  kind: 'first-host';
  path: string;
  fresh: Target[];
  warm: Target;
  route: Route;
  upstreamCaPem: string;
}

export type LoadJob = ThroughputJob | FirstHostJob;

export interface Samples {
  /** Latencies in milliseconds, in completion order. */
  latenciesMs: number[];
  /** Wall time of the measured window. */
  elapsedMs: number;
  /** Responses other than 200, and requests that failed outright (first message kept). */
  failures: number;
  firstFailure?: string;
}

export type LoadResult =
  ({ kind: 'throughput' } & Samples) | { kind: 'first-host'; fresh: Samples; warm: Samples };

export interface UpstreamReady {
  type: 'ready';
  httpPort: number;
  httpsPort: number;
  /** Extra HTTPS listeners, one per loopback address, for first-request-to-a-new-host runs. */
  extra: Array<{ host: string; port: number }>;
}

/** Per path: requests seen, and how many carried the expected injected credential. */
export type UpstreamCounts = Record<string, { requests: number; injected: number }>;

export type ParentMessage =
  | { id: number; type: 'run'; job: LoadJob }
  | { id: number; type: 'counts' }
  | { id: number; type: 'exit' };

export type ChildReply =
  | { id: number; type: 'result'; result: LoadResult }
  | { id: number; type: 'counts'; counts: UpstreamCounts }
  | { id: number; type: 'error'; message: string };
