/**
 * The load generator, in its own process (forked by ./run.ts) so that it never competes with
 * the gateway's event loop. It speaks to proxies the way agents do: absolute-form
 * `GET http://…` with Proxy-Authorization for plain HTTP, and `CONNECT host:port` followed by
 * TLS (trusting the proxy's CA) for HTTPS. A fixed number of workers each send one request at a
 * time, over keep-alive connections or over a new connection (and tunnel) per request.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import {
  Agent as HttpsAgent,
  request as httpsRequest,
  type AgentOptions,
  type RequestOptions,
} from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type {
  ChildReply,
  FirstHostJob,
  LoadResult,
  ParentMessage,
  Route,
  Samples,
  Target,
  ThroughputJob,
} from './protocol';

type ProxyRoute = Extract<Route, { via: 'proxy' }>;

/** An HTTPS agent whose connections are CONNECT tunnels through `proxy`, then TLS to the target. */
class TunnelAgent extends HttpsAgent {
  constructor(
    private readonly proxy: ProxyRoute,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const done = callback as (err: Error | null, stream?: Duplex) => void;
    const host = String(options.host);
    const authority = `${host.includes(':') ? `[${host}]` : host}:${options.port}`;
    const connect = httpRequest({
      host: this.proxy.host,
      port: this.proxy.port,
      method: 'CONNECT',
      path: authority,
      agent: false,
      headers: {
        host: authority,
        ...(this.proxy.authorization ? { 'proxy-authorization': this.proxy.authorization } : {}),
      },
    });
    connect.once('connect', (res: IncomingMessage, socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return done(new Error(`CONNECT ${authority} answered ${res.statusCode}`));
      }
      if (head.length > 0) socket.unshift(head);
      const tls = tlsConnect({
        socket,
        host,
        // No SNI for an IP literal; the certificate is then checked against the address.
        ...(isIP(host) ? {} : { servername: host }),
        ca: this.proxy.caPem,
        ALPNProtocols: ['http/1.1'],
      });
      done(null, tls);
    });
    connect.once('error', (err) => done(err));
    connect.end();
    return undefined;
  }
}

interface Client {
  once(): Promise<void>;
  close(): void;
}

/** One way of sending GET `path` to `target` along `route`; `once()` rejects on anything but 200. */
function createClient(
  target: Target,
  route: Route,
  path: string,
  upstreamCaPem: string,
  keepAlive: boolean,
  extraHeaders: Record<string, string> = {},
): Client {
  // maxSockets stays Infinity: without keep-alive Node then sends `Connection: close`.
  const base = { keepAlive, maxCachedSessions: 0 };
  const authority = `${target.host}:${target.port}`;
  let agent: HttpAgent;
  let send: (onResponse: (res: IncomingMessage) => void) => ReturnType<typeof httpRequest>;

  if (target.scheme === 'http' && route.via === 'proxy') {
    agent = new HttpAgent(base);
    const headers = {
      ...extraHeaders,
      host: authority,
      ...(route.authorization ? { 'proxy-authorization': route.authorization } : {}),
    };
    const url = `http://${authority}${path}`;
    send = (onResponse) =>
      httpRequest({ agent, host: route.host, port: route.port, path: url, headers }, onResponse);
  } else if (target.scheme === 'http') {
    agent = new HttpAgent(base);
    send = (onResponse) =>
      httpRequest(
        { agent, host: target.host, port: target.port, path, headers: extraHeaders },
        onResponse,
      );
  } else {
    agent =
      route.via === 'proxy'
        ? new TunnelAgent(route, base)
        : new HttpsAgent({ ...base, ca: upstreamCaPem });
    send = (onResponse) =>
      httpsRequest(
        { agent, host: target.host, port: target.port, path, headers: extraHeaders },
        onResponse,
      );
  }

  return {
    once: () =>
      new Promise<void>((resolve, reject) => {
        const req = send((res) => {
          res.resume();
          res.once('error', reject);
          res.once('end', () =>
            res.statusCode === 200
              ? resolve()
              : reject(
                  new Error(`HTTP ${res.statusCode} ${res.headers['x-vectra-error'] ?? ''}`.trim()),
                ),
          );
        });
        req.once('error', reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

function emptySamples(): Samples {
  return { latenciesMs: [], elapsedMs: 0, failures: 0 };
}

function failed(samples: Samples, error: unknown): void {
  samples.failures++;
  samples.firstFailure ??= (error as Error).message;
}

/** `concurrency` workers, each one request at a time: a warm-up, then the measured window. */
async function throughput(job: ThroughputJob): Promise<Samples> {
  const client = createClient(
    job.target,
    job.route,
    job.path,
    job.upstreamCaPem,
    !job.newConnection,
    job.headers,
  );
  const samples = emptySamples();
  const start = performance.now();
  const measureFrom = start + job.warmupMs;
  const deadline = measureFrom + job.durationMs;
  let lastEnd = measureFrom;
  let measured = 0;

  async function worker(): Promise<void> {
    for (;;) {
      const began = performance.now();
      if (began >= deadline || measured >= job.maxRequests) return;
      const counts = began >= measureFrom;
      if (counts) measured++;
      try {
        await client.once();
        const ended = performance.now();
        if (counts) {
          samples.latenciesMs.push(ended - began);
          lastEnd = Math.max(lastEnd, ended);
        }
      } catch (error) {
        if (counts) failed(samples, error);
        // A refusing proxy must not turn the run into a busy loop.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  await Promise.all(Array.from({ length: job.concurrency }, worker));
  client.close();
  samples.elapsedMs = lastEnd - measureFrom;
  return samples;
}

/** Strictly one request at a time: each fresh host once, each followed by the warm host. */
async function firstHost(job: FirstHostJob): Promise<{ fresh: Samples; warm: Samples }> {
  const fresh = emptySamples();
  const warm = emptySamples();
  const timed = async (target: Target, into: Samples) => {
    const client = createClient(target, job.route, job.path, job.upstreamCaPem, false);
    const began = performance.now();
    try {
      await client.once();
      into.latenciesMs.push(performance.now() - began);
    } catch (error) {
      failed(into, error);
    } finally {
      client.close();
    }
    into.elapsedMs += performance.now() - began;
  };
  // A few untimed requests, so the warm host really is warm.
  for (let i = 0; i < 5; i++) await timed(job.warm, emptySamples());
  for (const target of job.fresh) {
    await timed(target, fresh);
    await timed(job.warm, warm);
  }
  return { fresh, warm };
}

async function run(job: ParentMessage & { type: 'run' }): Promise<LoadResult> {
  if (job.job.kind === 'throughput') {
    return { kind: 'throughput', ...(await throughput(job.job)) };
  }
  return { kind: 'first-host', ...(await firstHost(job.job)) };
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'exit') process.exit(0);
  if (message.type !== 'run') return;
  run(message).then(
    (result) => {
      const reply: ChildReply = { id: message.id, type: 'result', result };
      process.send?.(reply);
    },
    (error: unknown) => {
      const reply: ChildReply = { id: message.id, type: 'error', message: String(error) };
      process.send?.(reply);
    },
  );
});
process.on('disconnect', () => process.exit(0));
