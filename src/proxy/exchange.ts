/**
 * One proxied exchange, whatever the entry point: build the RequestContext from the client's
 * request, run the pipeline, write the decision back (the upstream's response, or a coded
 * refusal), and record one audit row when the exchange ends. Upgrade requests run in ./upgrade.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished, type Duplex } from 'node:stream';
import { GatewayError } from '../errors';
import type { Logger } from '../observability/types';
import { createRequestContext } from '../pipeline/context';
import type { Pipeline } from '../pipeline/runner';
import type { Decision, EntryPoint, RequestContext } from '../pipeline/types';
import type { HeaderMap, ProxyRequest, UpstreamResponse } from '../http/types';
import type { AuditEntry } from '../audit/audit-log';
import { entryFromContext } from '../pipeline/audit-entry';
import { rateLimitHeaders } from '../pipeline/response-headers';
import { isEventStream } from '../http/message-body';
import { codeLabel, type ProxyMetrics } from '../observability/proxy-metrics';
import type { Tracing } from '../observability/tracing';
import { outcomeLabels } from '../pipeline/outcome';

export interface ExchangeDeps {
  pipeline: Pipeline;
  logger: Logger;
  audit?: { record(entry: AuditEntry): void };
  /** Absent when Observability.Metrics.Enabled is false: the exchange then measures nothing. */
  metrics?: ProxyMetrics;
  /** Absent when Observability.Tracing.Enabled is false: the exchange then traces nothing. */
  tracing?: Tracing;
  now?: () => number;
}

/** What the metrics and the trace need of an exchange besides its context: the decision and when it came. */
export interface ExchangeTiming {
  /** `performance.now()` when the exchange began. */
  readonly startedAt: number;
  decision?: Decision;
  /** Milliseconds from the start to the pipeline's decision. */
  decidedMs?: number;
}

/** A timing for `deps`, or undefined when nothing is measured (metrics and tracing off). */
export function startTiming(
  deps: Pick<ExchangeDeps, 'metrics' | 'tracing'>,
): ExchangeTiming | undefined {
  return deps.metrics || deps.tracing ? { startedAt: performance.now() } : undefined;
}

/**
 * Starts the exchange's trace when tracing is on: its span is a child of the agent's
 * `traceparent`, if it sent one, and the pipeline's stages and upstream call are its children.
 */
export function startTrace(
  deps: Pick<ExchangeDeps, 'tracing'>,
  ctx: RequestContext,
  req: IncomingMessage,
): void {
  if (!deps.tracing) return;
  ctx.trace = deps.tracing.startRequest(`proxy ${ctx.request.method}`, req.headers, {
    entry: ctx.entry,
  });
}

/** Notes the pipeline's decision in `timing` (a no-op when nothing is measured). */
export function decided(timing: ExchangeTiming | undefined, decision: Decision): void {
  if (!timing) return;
  timing.decision = decision;
  timing.decidedMs = performance.now() - timing.startedAt;
}

export interface ExchangeInit {
  entry: EntryPoint;
  credentials: { token?: string; vault?: string };
  request: ProxyRequest;
  tunnelAuthority?: string;
  requestId?: string;
}

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

/** The client's headers as a mutable lower-case map (Node already lower-cases names). */
export function headerMap(req: IncomingMessage): HeaderMap {
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return !BODYLESS.has(req.method ?? 'GET');
}

export function contentLengthOf(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
}

/** Writes a gateway refusal: status, `X-Vectra-Error`, the JSON wire body. */
export function writeRefusal(
  res: ServerResponse,
  error: GatewayError,
  entry: EntryPoint,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {
    ...extraHeaders,
    'content-type': 'application/json',
    'x-vectra-error': error.code,
    'cache-control': 'no-store',
  };
  if (error.statusCode === 407) headers['proxy-authenticate'] = 'Basic realm="vectra"';
  if (error.statusCode === 401 && entry === 'reverse')
    headers['www-authenticate'] = 'Bearer realm="vectra"';
  const retryAfter = error.context.retryAfter;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(Math.ceil(retryAfter));
  const body = JSON.stringify(error.toJSON());
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(error.statusCode, headers);
  res.end(body);
}

/**
 * Sends the upstream's answer: head, then the body with backpressure. The head goes out at once
 * only where the client may wait on it (server-sent events, a body of unknown length);
 * otherwise the first body write carries it. A failure on either side destroys both and is
 * reported once (`pipe` with `finished`: cheaper than stream.pipeline, same teardown).
 */
function writeResponse(
  res: ServerResponse,
  response: UpstreamResponse,
  onError: (err: Error) => void,
  /** Told the size of every body chunk written (the audit row's bytes out). */
  counted: (bytes: number) => void,
): void {
  const { body, headers, bytes } = response;
  res.writeHead(
    response.status,
    response.statusMessage,
    headers as Record<string, string | string[]>,
  );
  if (bytes !== undefined) {
    // Read whole already: head and body leave in one write.
    res.end(bytes);
    counted(bytes.length);
    return;
  }
  body.on('data', (chunk: Buffer | string) =>
    counted(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length),
  );
  if (headers['content-length'] === undefined || isEventStream(headers['content-type']))
    res.flushHeaders();
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    stopBody();
    stopRes();
    body.unpipe(res);
    body.destroy(err);
    res.destroy(err);
    onError(err);
  };
  const stopBody = finished(body, { writable: false }, (err) => err && fail(err));
  const stopRes = finished(res, (err) => {
    if (err) return fail(err);
    stopBody();
    stopRes();
  });
  body.pipe(res);
}

/** A refusal written straight to a socket (CONNECT, upgrades, parser errors): status, code, JSON body. */
export function rawRefusal(error: GatewayError): string {
  const body = JSON.stringify(error.toJSON());
  return (
    `HTTP/1.1 ${error.statusCode} ${error.code}\r\n` +
    (error.statusCode === 407 ? 'Proxy-Authenticate: Basic realm="vectra"\r\n' : '') +
    `Content-Type: application/json\r\nX-Vectra-Error: ${error.code}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Parser-level refusals (oversized or broken headers) still carry a code. */
export function refuseRaw(socket: Duplex, err: NodeJS.ErrnoException): void {
  if (!socket.writable) return void socket.destroy();
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new GatewayError('VEC_HEADERS_TOO_LARGE')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new GatewayError('VEC_REQUEST_TIMEOUT')
        : new GatewayError('VEC_REQUEST_MALFORMED', 'The request could not be parsed as HTTP/1.1.');
  socket.end(rawRefusal(error));
}

/** The RequestContext of one exchange (or upgrade) from what its entry point parsed. */
export function exchangeContext(
  init: ExchangeInit,
  req: IncomingMessage,
  request: ProxyRequest,
): RequestContext {
  return createRequestContext({
    entry: init.entry,
    clientAddress: req.socket.remoteAddress ?? 'unknown',
    credentials: init.credentials,
    request,
    tunnelAuthority: init.tunnelAuthority,
    requestId: init.requestId,
  });
}

/** Records the audit row (and the metrics, and ends the trace) of an exchange (or upgrade) that ends now. */
export function recordExchange(
  deps: Pick<ExchangeDeps, 'audit' | 'metrics' | 'now'>,
  ctx: RequestContext,
  counts: { bytesIn: number; bytesOut: number; status: number | undefined },
  timing?: ExchangeTiming,
): void {
  const now = deps.now ?? Date.now;
  deps.audit?.record(
    entryFromContext(ctx, {
      at: new Date(ctx.startedAt),
      latencyMs: Math.max(0, Math.round(now() - ctx.startedAt)),
      ...counts,
    }),
  );
  if (!timing) return;
  const labels = outcomeLabels(ctx, timing.decision, codeLabel);
  if (ctx.trace) {
    const { status } = counts;
    ctx.trace.end(
      status === undefined ? { ...labels } : { ...labels, status },
      status === undefined ? labels.decision === 'abort' : status >= 500,
    );
  }
  if (deps.metrics) {
    const { decidedMs } = timing;
    deps.metrics.exchange(labels, {
      bytesIn: counts.bytesIn,
      bytesOut: counts.bytesOut,
      upstreamMs: ctx.upstreamMs,
      // The gateway's own share: neither the upstream's time nor a wait for a human.
      addedMs:
        decidedMs === undefined
          ? undefined
          : decidedMs - (ctx.upstreamMs ?? 0) - (ctx.pausedMs ?? 0),
    });
  }
}

/** Runs one exchange to completion. Never throws: every failure becomes a refusal or a drop. */
export async function runExchange(
  deps: ExchangeDeps,
  init: ExchangeInit,
  client: { req: IncomingMessage; res: ServerResponse },
): Promise<void> {
  const timing = startTiming(deps);
  const ctx = exchangeContext(init, client.req, init.request);
  startTrace(deps, ctx, client.req);
  let bytesIn = 0;
  if (init.request.body !== undefined) {
    client.req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    // A 'data' listener switches the body to flowing mode: pause it, so nothing is lost before a
    // stage reads it or forward pipes it (pipe resumes it).
    client.req.pause();
  }
  let bytesOut = 0;
  // Set when Vectra ends the connection itself (a drop, a failed stream): no client leaving.
  let dropped = false;
  client.res.once('close', () => {
    // Closed before its whole answer was written: the client went away, during the pipeline
    // or while the body streamed.
    const clientLeft = !client.res.writableFinished && !dropped;
    if (clientLeft) ctx.audit.errorCode ??= 'VEC_CLIENT_CLOSED';
    recordExchange(
      deps,
      ctx,
      {
        bytesIn,
        bytesOut,
        status: client.res.headersSent ? client.res.statusCode : undefined,
      },
      timing,
    );
    // Then give up what still runs for it upstream: the call, or the rest of a streamed body.
    if (clientLeft) ctx.cancellation.abort(new GatewayError('VEC_CLIENT_CLOSED'));
  });

  let decision: Decision;
  try {
    decision = await deps.pipeline(ctx);
  } catch (err) {
    deps.logger.error('pipeline failed outside a stage', { err, requestId: ctx.requestId });
    decision = { kind: 'deny', error: new GatewayError('VEC_PIPELINE_STAGE_FAILED') };
  }
  decided(timing, decision);
  if (decision.kind === 'deny') {
    // Unread request bodies must not wedge a keep-alive connection.
    client.req.resume();
    writeRefusal(client.res, decision.error, init.entry, rateLimitHeaders(ctx));
    return;
  }
  if (decision.kind === 'abort' || !ctx.response) {
    dropped = true;
    client.res.destroy();
    return;
  }
  if ('socket' in ctx.response) {
    // An upgrade answered through a plain request handler cannot be spliced; adapters route
    // upgrades through runUpgrade instead.
    ctx.response.socket.destroy();
    dropped = true;
    client.res.destroy();
    return;
  }
  // Vectra's RateLimit-* headers replace any the upstream sent: they describe the agent's budget.
  const response = {
    ...ctx.response,
    headers: { ...ctx.response.headers, ...rateLimitHeaders(ctx) },
  };
  writeResponse(
    client.res,
    response,
    (err) => {
      // The client leaving is recorded by the close handler; anything else is a failed stream.
      if (ctx.cancellation.aborted) return;
      ctx.audit.errorCode ??= (err as GatewayError).code;
      deps.logger.warn('response stream ended early', {
        ...outcomeLabels(ctx, decision),
        requestId: ctx.requestId,
      });
      dropped = true;
      client.res.destroy();
    },
    (bytes) => (bytesOut += bytes),
  );
}
