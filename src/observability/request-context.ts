/**
 * The request id of the work in progress, carried across awaits by AsyncLocalStorage so that
 * every log line written while handling a request carries it without threading it by hand.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

export interface RequestScope {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** An incoming id is reused only when it is this safe to echo into logs and headers. */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Runs `fn` (and everything it awaits or schedules) with `requestId` as the current id. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The id of the request being handled, or undefined outside one. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** A fresh id: 16 hex characters (64 random bits), short enough to read in a log line. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex');
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
