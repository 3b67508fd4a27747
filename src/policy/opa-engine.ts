/**
 * The OPA provider: `POST {BaseUrl}/v1/data/{Path}` with `{"input": PolicyInput}` (OPA's Data
 * API). The decision document may be:
 *
 * - `true` / `false`: Allow / Deny;
 * - an object with `effect` ("Allow" | "Deny" | "Hitl", any case) or else `allow` (boolean),
 *   and optionally `reason` (one sentence), `risk` (0..1), `policy` and `rule` (names).
 *
 * OPA answers `{}` without `result` when the path holds no decision (the package is not loaded,
 * or no rule produced a value): that, a non-2xx answer, an unreadable one and a timeout are
 * failures to decide. They refuse the request with VEC_POLICY_UNAVAILABLE (fail closed), unless
 * Policy.Providers.Opa.FailOpen is set: then the request is allowed and a warning is logged every
 * time.
 *
 * OPA cannot say whether its policy reads `input.request.body`, so the stage always reads the
 * body (up to Policy.MaxBodyBytes), and a body that cannot be judged (too large, not JSON) is
 * refused without asking OPA (VEC_POLICY_BODY_UNREADABLE), unless
 * Policy.Providers.Opa.UnreadableBody is `AskOpa`: then OPA decides, seeing
 * `input.request.bodyUnreadable`.
 */
import { GatewayError } from '../errors';
import type { Logger } from '../observability/types';
import { POLICY_EFFECTS, type PolicyDecision, type PolicyEffect, type PolicyEngine } from './types';
import { unreadableBodyText } from './unreadable-body';

export interface OpaEngineOptions {
  /** Policy.Providers.Opa.BaseUrl */
  baseUrl: string;
  /** Policy.Providers.Opa.Path, e.g. `vectra/authz`. */
  path: string;
  timeoutMs: number;
  failOpen: boolean;
  /** Policy.Providers.Opa.UnreadableBody: `Refuse` (default) or `AskOpa`. */
  unreadableBody?: 'Refuse' | 'AskOpa';
  logger: Logger;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

const MAX_REASON = 1000;

export function createOpaEngine(options: OpaEngineOptions): PolicyEngine {
  const { timeoutMs, failOpen } = options;
  const url = decisionUrl(options.baseUrl, options.path);
  const dataPath = `data.${options.path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .join('.')}`;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw invalidConfig('TimeoutMilliseconds', 'must be a positive whole number of milliseconds');
  }
  const doFetch = options.fetch ?? fetch;
  const log = options.logger.child({ component: 'policy', provider: 'Opa' });

  /** A failure to decide: a refusal, or an allow when fail-open is configured. */
  function undecided(why: string): PolicyDecision {
    if (!failOpen) {
      throw new GatewayError(
        'VEC_POLICY_UNAVAILABLE',
        `OPA could not decide (${why}); the request is refused (fail closed).`,
        { context: { provider: 'Opa' } },
      );
    }
    const reason = `OPA could not decide (${why}), and Policy.Providers.Opa.FailOpen allows the request.`;
    log.warn(`policy fail-open: ${reason}`, { code: 'VEC_POLICY_UNAVAILABLE' });
    return { effect: 'Allow', reason, policy: dataPath };
  }

  const refuseUnreadable = options.unreadableBody !== 'AskOpa';

  return {
    provider: 'Opa',
    async evaluate(input) {
      const unreadable = input.request.bodyUnreadable;
      if (unreadable !== undefined && refuseUnreadable) {
        return {
          effect: 'Deny',
          reason: `${upperFirst(unreadableBodyText(unreadable))}, so OPA cannot judge it and the request is refused (Policy.Providers.Opa.UnreadableBody is Refuse).`,
          policy: dataPath,
          unreadableBody: unreadable,
        };
      }
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ input }),
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return undecided(fetchFailure(err, url, timeoutMs));
      }
      let body: unknown;
      try {
        const text = await res.text();
        body = text === '' ? undefined : JSON.parse(text);
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') {
          return undecided(`no complete answer within ${timeoutMs} ms`);
        }
        return undecided(`OPA answered HTTP ${res.status} with something that is not JSON`);
      }
      if (!res.ok) {
        const message = (body as { message?: unknown } | undefined)?.message;
        const detail = typeof message === 'string' ? `: ${oneLine(message).slice(0, 200)}` : '';
        return undecided(`OPA answered HTTP ${res.status}${detail}`);
      }
      if (typeof body !== 'object' || body === null || !('result' in body)) {
        return undecided(
          `OPA has no decision at ${dataPath}; the document is undefined, so check that the policy is loaded`,
        );
      }
      const decision = readDecision((body as { result: unknown }).result, dataPath);
      return typeof decision === 'string' ? undecided(decision) : decision;
    },
    async close() {
      // Nothing held: fetch's connection pool is shared.
    },
  };
}

/** The decision OPA's `result` describes, or what is wrong with it. */
function readDecision(result: unknown, dataPath: string): PolicyDecision | string {
  if (result === true)
    return { effect: 'Allow', reason: `OPA allowed the request (${dataPath}).`, policy: dataPath };
  if (result === false) {
    return {
      effect: 'Deny',
      reason: `OPA denied the request (${dataPath} is false).`,
      policy: dataPath,
    };
  }
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return `OPA's decision at ${dataPath} is neither true, false nor an object with allow or effect`;
  }
  const doc = result as Record<string, unknown>;
  let effect: PolicyEffect | undefined;
  if (doc.effect !== undefined) {
    effect = POLICY_EFFECTS.find(
      (e) => typeof doc.effect === 'string' && e.toLowerCase() === doc.effect.toLowerCase(),
    );
    if (!effect) {
      return `OPA's decision at ${dataPath} has effect ${JSON.stringify(doc.effect)}, not one of ${POLICY_EFFECTS.join(', ')}`;
    }
  } else if (typeof doc.allow === 'boolean') {
    effect = doc.allow ? 'Allow' : 'Deny';
  } else {
    return `OPA's decision at ${dataPath} has neither a boolean allow nor an effect`;
  }
  const risk =
    typeof doc.risk === 'number' && doc.risk >= 0 && doc.risk <= 1 ? doc.risk : undefined;
  const policy = typeof doc.policy === 'string' && doc.policy ? doc.policy : dataPath;
  const reason =
    typeof doc.reason === 'string' && doc.reason.trim()
      ? oneLine(doc.reason).slice(0, MAX_REASON)
      : `OPA decided ${effect} (${dataPath}).`;
  return {
    effect,
    reason,
    policy,
    ...(typeof doc.rule === 'string' && doc.rule ? { rule: doc.rule } : {}),
    ...(risk === undefined ? {} : { risk }),
  };
}

function decisionUrl(baseUrl: string, path: string): string {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw invalidConfig(
      'BaseUrl',
      `must be the URL of OPA (like http://opa:8181), not "${baseUrl}"`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw invalidConfig('BaseUrl', 'must start with http:// or https://');
  }
  const segments = path.split('/').filter(Boolean);
  if (segments.length === 0 || !segments.every((s) => /^[A-Za-z0-9_-]+$/.test(s))) {
    throw invalidConfig('Path', `must be a data path such as vectra/authz, not "${path}"`);
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}/v1/data/${segments.join('/')}`;
}

function fetchFailure(err: unknown, url: string, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return `no answer within ${timeoutMs} ms`;
  const why = e.cause?.code ?? e.cause?.message ?? (err as Error).message;
  return `cannot reach OPA at ${new URL(url).origin}: ${why}`;
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\s]+/gu, ' ').trim();
}

function invalidConfig(key: string, problem: string): GatewayError {
  return new GatewayError('VEC_CONFIG_INVALID', `Policy.Providers.Opa.${key} ${problem}.`, {
    context: { key: `Policy.Providers.Opa.${key}` },
  });
}
