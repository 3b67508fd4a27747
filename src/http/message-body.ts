/** What decides how a response body is handled, in one place for every reader of bodies. */

/** A response that has no body whatever its headers say (RFC 9110 §6.4.1): to HEAD, a 204, a 304. */
export function responseHasNoBody(method: string, status: number | undefined): boolean {
  return method === 'HEAD' || status === 204 || status === 304;
}

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;

/** Whether a Content-Type names server-sent events: flushed as they come, never read whole. */
export function isEventStream(contentType: unknown): boolean {
  return EVENT_STREAM.test(String(contentType ?? ''));
}
