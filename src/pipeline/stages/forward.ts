/**
 * forward: the request goes upstream, and the answer's head comes back into `ctx.response`
 * for the adapter to stream to the client. What never reaches the upstream: hop-by-hop
 * headers, Proxy-Authorization, Vectra's own headers (`x-vectra-*`, the reverse route's
 * `x-vault`), and on the reverse route the agent's own Authorization (its Vectra token) unless
 * `inject` put a credential there. The Host header is the request's authority, so a credential
 * chosen for one host cannot be routed to another virtual host. When a secret was injected, the
 * response is redacted of it (./redact-response.ts: a small plain body is read here, whole, and
 * keeps a Content-Length; others stream); otherwise the body passes untouched.
 */
import { GatewayError } from '../../errors';
import { hostHeader } from '../../http/authority';
import { stripHopByHop } from '../../http/hop-by-hop';
import type { UpstreamClient } from '../../http/upstream-client';
import {
  MAX_BUFFERED_REDACTION_BYTES,
  redactHeaders,
  redactUpstreamResponse,
  redactionSecrets,
} from '../redact-response';
import { setHeader } from '../injection';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../types';
import { type HeaderMap, type UpstreamResponse, type UpstreamUpgrade } from '../../http/types';
import { checkDependency, checkOptions, configInvalid } from './options';

export interface ForwardStageOptions {
  /**
   * The runner's time budget for this stage. Default: none, because the upstream client
   * enforces System.Proxy.UpstreamTimeoutSeconds itself and answers VEC_UPSTREAM_TIMEOUT.
   */
  timeoutMs?: number;
}

export interface ForwardStageDeps {
  upstream: Pick<UpstreamClient, 'send' | 'upgrade'>;
}

export function createForwardStage(options: ForwardStageOptions, deps: ForwardStageDeps): Stage {
  checkOptions('forward', options, ['timeoutMs']);
  checkDependency('forward', deps, 'upstream', ['send', 'upgrade']);
  const { timeoutMs = Infinity } = options;
  if (timeoutMs !== Infinity && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw configInvalid('forward', 'timeoutMs', 'must be a positive whole number of milliseconds');
  }
  const { upstream } = deps;

  async function forward(ctx: RequestContext) {
    const request = ctx.request;
    const secrets = redactionSecrets(ctx.injectedSecrets);
    request.headers = upstreamHeaders(ctx);
    // A compressed echo would hide a secret from redaction: ask for the body as is.
    if (secrets.length > 0) setHeader(request.headers, 'accept-encoding', 'identity');

    // Traced: the upstream call's span, whose context the upstream receives as `traceparent`.
    const span = ctx.trace?.call('upstream');
    span?.inject(request.headers);

    let answer: UpstreamResponse | UpstreamUpgrade;
    const sentAt = performance.now();
    try {
      answer = request.upgrade
        ? await upstream.upgrade(request, { vault: ctx.vault })
        : await upstream.send(
            request,
            // Given up when the client goes away first. A small plain body is read whole when
            // it will be redacted: one buffer, no chain of streams. The vault picks the circuit.
            secrets.length > 0
              ? {
                  signal: ctx.cancellation,
                  bufferUpTo: MAX_BUFFERED_REDACTION_BYTES,
                  vault: ctx.vault,
                }
              : { signal: ctx.cancellation, vault: ctx.vault },
          );
    } catch (err) {
      span?.end({ code: err instanceof GatewayError ? err.code : 'other' }, true);
      if (ctx.cancellation.aborted) return CLIENT_GONE;
      throw err;
    } finally {
      // A failed call (timeout, refused connection) spent its time upstream too.
      ctx.upstreamMs = performance.now() - sentAt;
    }
    span?.end({ status: answer.status });
    ctx.response =
      secrets.length === 0 ? clean(answer) : await redacted(clean(answer), secrets, ctx);
    return CONTINUE;
  }
  return Object.assign(forward, { timeoutMs });
}

/** Nobody is left to answer. */
const CLIENT_GONE: Decision = {
  kind: 'abort',
  reason: 'the client closed its connection before the answer (VEC_CLIENT_CLOSED)',
};

/** The request headers as they may go upstream. */
function upstreamHeaders(ctx: RequestContext): HeaderMap {
  const { request } = ctx;
  const headers = stripHopByHop(request.headers, { upgrade: request.upgrade });
  delete headers['x-vault'];
  if (ctx.entry === 'reverse' && headers.authorization !== undefined) {
    const values = [headers.authorization].flat();
    const injected = values.every((value) =>
      ctx.injectedSecrets.some((secret) => secret !== '' && value.includes(secret)),
    );
    if (!injected) delete headers.authorization;
  }
  headers.host = hostHeader(request);
  return headers;
}

/** The answer without hop-by-hop headers, nor `x-vectra-*` ones an upstream could forge. */
function clean<T extends UpstreamResponse | UpstreamUpgrade>(answer: T): T {
  return { ...answer, headers: stripHopByHop(answer.headers, { upgrade: answer.status === 101 }) };
}

async function redacted(
  answer: UpstreamResponse | UpstreamUpgrade,
  secrets: readonly string[],
  ctx: RequestContext,
): Promise<UpstreamResponse | UpstreamUpgrade> {
  // The bytes of an upgraded connection (WebSocket frames) are not inspected; its head is.
  if ('socket' in answer) return { ...answer, headers: redactHeaders(answer.headers, secrets) };
  return redactUpstreamResponse(answer, secrets, ctx.request.method);
}
