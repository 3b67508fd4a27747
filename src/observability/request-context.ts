/**
 * The request id of the work in progress, carried across awaits by AsyncLocalStorage so that
 * every log line written while handling a request carries it without threading it by hand.
 *
 * Cost: on Node 20 an enabled AsyncLocalStorage installs promise hooks for the whole process,
 * which made every promise of every proxied request dearer (about 100 µs of CPU per request in
 * `npm run bench`). So the storage is enabled only while a scope is open (an admin API request,
 * a `runWithRequestId` call) and disabled again when the last one closes; the proxy's hot path,
 * which threads `ctx.requestId` explicitly, then runs without hooks. See ./async-scope.ts.
 */
import { randomBytes } from 'node:crypto';
import { createAsyncScope } from './async-scope';

export interface RequestScope {
  readonly requestId: string;
}

const scope = createAsyncScope<RequestScope>();

/** An incoming id is reused only when it is this safe to echo into logs and headers. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Runs `fn` (and everything it awaits or schedules) with `requestId` as the current id. The scope
 * stays open until `fn` returns or, when it returns a promise, until that promise settles.
 */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return scope.run({ requestId }, fn);
}

/**
 * Opens a scope with `requestId` for `fn` and keeps it open until the returned function is
 * called (express: `next()` returns long before the response is written; close on 'close').
 */
export function openRequestScope(requestId: string, fn: () => void): () => void {
  return scope.open({ requestId }, fn);
}

/** Scopes open now (tests: a long-lived response must not keep the hooks installed). */
export function openRequestScopes(): number {
  return scope.openScopes;
}

/** The id of the request being handled, or undefined outside one. */
export function currentRequestId(): string | undefined {
  return scope.current()?.requestId;
}

/**
 * Request ids: 16 hex characters, short enough to read in a log line. A random 32-bit prefix
 * per process (renewed when the counter wraps) and a counter: unique within a process, and
 * unlikely to collide between replicas, without asking the CSPRNG on every request. The id is
 * a correlation handle, never a secret.
 */
let prefix = '';
let counter = 0x1_0000_0000;

export function newRequestId(): string {
  if (counter >= 0x1_0000_0000) {
    const random = randomBytes(8);
    prefix = random.subarray(0, 4).toString('hex');
    // A random start too: two processes that drew the same prefix still count apart.
    counter = random.readUInt32BE(4) >>> 1;
  }
  const id = prefix + (0x1_0000_0000 + counter).toString(16).slice(1);
  counter += 1;
  return id;
}

/**
 * The id to use for a request that arrived with this `X-Request-Id` header: the caller's own id
 * when it is well-formed (so traces line up across services), a fresh one otherwise (so a
 * client cannot inject line breaks or megabytes into our logs). A repeated header is refused.
 */
export function acceptRequestId(header: string | string[] | undefined): string {
  if (typeof header === 'string' && ACCEPTABLE_REQUEST_ID.test(header)) return header;
  return newRequestId();
}
