/**
 * Reading the admin API's server-sent event streams (`/v1/vaults/:vault/logs/stream`,
 * `/v1/approvals/events`) with the CLI's error rules: a refusal is an `ApiError`, no answer is
 * VEC_CLI_UNREACHABLE. `vectra logs --follow` and `vectra approvals watch` share it.
 */
import { GatewayError, type ErrorBody } from '../errors';
import { ApiError, unreachable } from './api-client';

/** One server-sent event: its name (`message` when unnamed) and its joined `data:` lines. */
export interface ServerEvent {
  name: string;
  data: string;
}

export interface StreamOptions {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Ends the stream (Ctrl-C); a request aborted by it rejects with the abort. */
  signal: AbortSignal;
  /** Told the server's `retry:` delay, in milliseconds, whenever the stream sends one. */
  onRetry?: (ms: number) => void;
}

/** GETs `path` with the admin token; a refusal or no answer throws the CLI's error. */
export async function adminGet(
  addr: string,
  token: string,
  path: string,
  accept: string,
  doFetch: typeof fetch = fetch,
  signal?: AbortSignal,
): Promise<Response> {
  let res: Response;
  try {
    res = await doFetch(`${addr}${path}`, {
      headers: { accept, authorization: `Bearer ${token}` },
      // A redirect would carry the admin token elsewhere; the API never sends one.
      redirect: 'manual',
      signal: signal ?? AbortSignal.timeout(30_000),
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw unreachable(addr, err);
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => undefined)) as Partial<ErrorBody> | undefined;
  if (typeof body?.code === 'string' && typeof body.message === 'string') {
    throw new ApiError(res.status, body as ErrorBody);
  }
  throw new GatewayError(
    'VEC_CLI_UNREACHABLE',
    `${addr} answered GET ${path} with HTTP ${res.status} and no Vectra error; is it a Vectra gateway?`,
    { statusCode: res.status },
  );
}

/**
 * Calls `onEvent` for each event of the stream at `path` until the server ends it (resolves) or
 * `options.signal` aborts (rejects). A connection lost midway is VEC_CLI_UNREACHABLE.
 */
export async function readEventStream(
  addr: string,
  token: string,
  path: string,
  options: StreamOptions,
  onEvent: (event: ServerEvent) => void | Promise<void>,
): Promise<void> {
  const res = await adminGet(addr, token, path, 'text/event-stream', options.fetch, options.signal);
  if (!res.body) return;
  const chunks = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (err) {
        if (options.signal.aborted) throw err;
        throw unreachable(addr, err);
      }
      if (next.done) return;
      buffered += decoder.decode(next.value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = parseEvent(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        if (block.retry !== undefined) options.onRetry?.(block.retry);
        if (block.data !== undefined) await onEvent({ name: block.name, data: block.data });
      }
    }
  } finally {
    // Ends the request when a handler throws; a no-op once the stream has ended.
    await chunks.return?.().catch(() => undefined);
  }
}

/** One event block: `event:`, `data:` and `retry:` lines; comments are ignored. */
function parseEvent(block: string): { name: string; data?: string; retry?: number } {
  let name = 'message';
  let retry: number | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  return { name, retry, data: data.length > 0 ? data.join('\n') : undefined };
}
