/**
 * The `policy` stage on RequestContexts: what the PolicyInput holds (credential headers
 * redacted, path normalised, query, time), Deny / Hitl / Allow, and the JSON body: read and
 * parsed within the limit and handed back byte for byte, never read when no policy needs it.
 */
import { Readable } from 'node:stream';
import { GatewayError } from '../../src/errors';
import { agentPrincipal, testContext } from '../helpers/context';
import {
  createPolicyStage,
  policyDecisionOf,
  policyInputOf,
} from '../../src/pipeline/stages/policy';
import type { Decision, RequestContext } from '../../src/pipeline/types';
import type { ProxyRequest } from '../../src/http/types';
import type { PolicyDecision, PolicyInput } from '../../src/policy/types';
import { readText as text } from '../helpers/streams';

/** An engine that records its inputs and answers `decision`. */
function engine(decision: PolicyDecision, needsBody = true) {
  const inputs: PolicyInput[] = [];
  return {
    inputs,
    engine: {
      async evaluate(input: PolicyInput) {
        inputs.push(input);
        return decision;
      },
      needsBody: () => needsBody,
    },
  };
}

const ALLOW: PolicyDecision = {
  effect: 'Allow',
  reason: 'Policy p (rule r): Fine.',
  policy: 'p',
  rule: 'r',
};

function context(request: Partial<ProxyRequest> = {}): RequestContext {
  const ctx = testContext({
    request: {
      method: 'post',
      host: 'API.Example.com',
      port: 8443,
      path: '/v1/admin/items?page=2&tag=a&tag=b&q=a%20b',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer upstream-secret',
        cookie: 'session=abc',
        'x-api-key': 'k',
        'x-custom-token': 't',
        accept: ['a', 'b'],
        'x-env': 'prod',
      },
      ...request,
    },
    principal: agentPrincipal('team', { agentId: 'agt_1' }),
    vault: 'team',
  });
  ctx.service = {
    id: 's',
    vault: 'team',
    name: 'github',
    host: 'api.example.com',
    auth: { type: 'passthrough' },
    enabled: true,
    position: 0,
    createdAt: '',
    updatedAt: '',
  } as RequestContext['service'];
  return ctx;
}

const NOW = Date.UTC(2030, 0, 5, 13, 30); // a Saturday

async function run(
  ctx: RequestContext,
  decision: PolicyDecision = ALLOW,
  options: {
    deferHitl?: boolean;
    alwaysReadBody?: boolean;
    bodyLimit?: number;
    needsBody?: boolean;
  } = {},
) {
  const recorded = engine(decision, options.needsBody ?? true);
  const stageOptions = { deferHitl: options.deferHitl, alwaysReadBody: options.alwaysReadBody };
  const stage = createPolicyStage(stageOptions, {
    engine: recorded.engine,
    bodyLimit: options.bodyLimit ?? 1024,
    now: () => NOW,
  });
  const result: Decision = await stage(ctx);
  return { result, input: recorded.inputs[0] };
}

/** A body stream that yields `parts` one by one and counts how far it was read. */
function streamed(parts: string[]) {
  const state = { pulled: 0 };
  const body = Readable.from(
    (async function* () {
      for (const part of parts) {
        state.pulled++;
        yield Buffer.from(part);
      }
    })(),
    { objectMode: false },
  );
  return { body, state };
}

describe('the policy stage', () => {
  it('is named policy and validates its options and dependencies', () => {
    const { engine: e } = engine(ALLOW);
    expect(createPolicyStage({}, { engine: e, bodyLimit: 0 }).name).toBe('policy');
    expect(() => createPolicyStage({ nope: 1 } as never, { engine: e, bodyLimit: 0 })).toThrow(
      /not an option/,
    );
    expect(() => createPolicyStage({}, { engine: {} as never, bodyLimit: 0 })).toThrow(
      /engine must provide evaluate/,
    );
    expect(() => createPolicyStage({}, { engine: e, bodyLimit: -1 })).toThrow(/bodyLimit/);
    expect(() =>
      createPolicyStage({ alwaysReadBody: 'yes' } as never, { engine: e, bodyLimit: 0 }),
    ).toThrow(/alwaysReadBody must be true or false/);
  });

  it('builds the PolicyInput both providers see', async () => {
    const ctx = context({ body: Readable.from([Buffer.from('{"a":1}')]), contentLength: 7 });
    const { input } = await run(ctx);
    expect(input).toEqual({
      agent: { name: 'bot', id: 'agt_1' },
      vault: 'team',
      request: {
        method: 'POST',
        scheme: 'https',
        host: 'api.example.com',
        port: 8443,
        path: '/v1/admin/items',
        query: { page: '2', tag: ['a', 'b'], q: 'a b' },
        headers: {
          'content-type': 'application/json',
          authorization: '[REDACTED]',
          cookie: '[REDACTED]',
          'x-api-key': '[REDACTED]',
          'x-custom-token': '[REDACTED]',
          accept: 'a, b',
          'x-env': 'prod',
        },
        body: { a: 1 },
        bodySize: 7,
      },
      service: { name: 'github' },
      time: { hour: 13, weekday: 'Saturday' },
    });
    expect(policyInputOf(ctx)).toBe(input);
  });

  it('names a session agent without an id, and no service when none matched', async () => {
    const ctx = context();
    ctx.principal = {
      kind: 'session',
      sessionId: 's1',
      agentName: null,
      vault: 'team',
      expiresAt: '',
    };
    ctx.service = undefined;
    const { input } = await run(ctx);
    expect(input.agent).toEqual({ name: null, id: null });
    expect(input.service).toBeNull();
    expect(input.request.bodySize).toBe(0);
  });

  it('continues on Allow and keeps the decision on the request', async () => {
    const ctx = context();
    const { result } = await run(ctx);
    expect(result).toEqual({ kind: 'continue' });
    expect(policyDecisionOf(ctx)).toEqual(ALLOW);
  });

  it('refuses Deny with VEC_POLICY_DENIED and the reason', async () => {
    const deny: PolicyDecision = {
      effect: 'Deny',
      reason: 'Policy prod (rule no-delete): DELETE is never allowed on production hosts.',
      policy: 'prod',
      rule: 'no-delete',
      risk: 1,
    };
    const { result } = await run(context(), deny);
    expect(result.kind).toBe('deny');
    const error = (result as { error: GatewayError }).error;
    expect(error.toJSON()).toEqual({
      error: 'Denied by policy',
      code: 'VEC_POLICY_DENIED',
      statusCode: 403,
      message: deny.reason,
      policy: 'prod',
      rule: 'no-delete',
      risk: 1,
    });
  });

  it('refuses Hitl with VEC_APPROVAL_REQUIRED unless an approval stage follows', async () => {
    const hitl: PolicyDecision = {
      effect: 'Hitl',
      reason: 'Policy p (no rule matched): Writes need approval.',
      policy: 'p',
    };
    const alone = await run(context(), hitl);
    expect((alone.result as { error: GatewayError }).error).toMatchObject({
      code: 'VEC_APPROVAL_REQUIRED',
      message: hitl.reason,
    });
    const ctx = context();
    const deferred = await run(ctx, hitl, { deferHitl: true });
    expect(deferred.result).toEqual({ kind: 'continue' });
    expect(policyDecisionOf(ctx)).toEqual(hitl);
  });

  it('lets an engine failure through for the runner to refuse (fail closed)', async () => {
    const failing = {
      evaluate: async () => {
        throw new GatewayError('VEC_POLICY_UNAVAILABLE', 'OPA could not decide.');
      },
    };
    const stage = createPolicyStage({}, { engine: failing, bodyLimit: 0 });
    await expect(stage(context())).rejects.toMatchObject({ code: 'VEC_POLICY_UNAVAILABLE' });
  });
});

describe('the JSON body', () => {
  const json = '{"query":"mutation { deleteUser }","n":[1,2]}';

  it('is parsed when it fits the limit, and re-streamed byte for byte', async () => {
    const original = Readable.from([Buffer.from(json.slice(0, 10)), Buffer.from(json.slice(10))]);
    const ctx = context({ body: original, contentLength: json.length });
    const { input } = await run(ctx);
    expect(input.request.body).toEqual({ query: 'mutation { deleteUser }', n: [1, 2] });
    expect(ctx.request.body).not.toBe(original);
    expect(ctx.request.body!.readableObjectMode).toBe(false);
    expect(await text(ctx.request.body)).toBe(json);
  });

  it('is parsed without a Content-Length (chunked) when it fits', async () => {
    const { body } = streamed([json.slice(0, 5), json.slice(5)]);
    const ctx = context({ body });
    const { input } = await run(ctx);
    expect(input.request).toMatchObject({ bodySize: json.length, body: { n: [1, 2] } });
    expect(await text(ctx.request.body)).toBe(json);
  });

  it('is never read when Content-Length is over the limit', async () => {
    const { body, state } = streamed([json]);
    const ctx = context({ body, contentLength: 5000 });
    const { input } = await run(ctx, ALLOW, { bodyLimit: 100 });
    expect(state.pulled).toBe(0);
    expect(ctx.request.body).toBe(body);
    expect(input.request).toEqual(
      expect.objectContaining({ bodySize: 5000, bodyUnreadable: 'too-large' }),
    );
    expect(input.request.body).toBeUndefined();
  });

  it('when chunked and over the limit: read up to it, handed back whole, not parsed', async () => {
    const parts = ['{"a":"', ...Array.from({ length: 200 }, () => 'x'.repeat(1024)), '"}'];
    const { body, state } = streamed(parts);
    const ctx = context({ body });
    const { input } = await run(ctx, ALLOW, { bodyLimit: 2048 });
    // Stopped near the limit (plus what the stream buffers ahead), far from the 202 chunks.
    expect(state.pulled).toBeLessThan(40);
    expect(input.request.body).toBeUndefined();
    expect(input.request.bodySize).toBeNull();
    expect(input.request.bodyUnreadable).toBe('too-large');
    expect(await text(ctx.request.body)).toBe(parts.join(''));
    expect(state.pulled).toBe(parts.length);
  });

  it('when it is not JSON: read, handed back, and marked as not judgeable', async () => {
    const { body } = streamed(['a=1']);
    const ctx = context({
      body,
      contentLength: 3,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const { input } = await run(ctx);
    expect(input.request).toMatchObject({ bodySize: 3, bodyUnreadable: 'not-json' });
    expect(input.request.body).toBeUndefined();
    expect(await text(ctx.request.body)).toBe('a=1');
  });

  it('is JSON by its content after a BOM, whatever the Content-Type; the BOM goes upstream', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(' [1, {"a":2}]')]);
    const ctx = context({
      body: Readable.from([bytes.subarray(0, 2), bytes.subarray(2)]),
      headers: { 'content-type': 'text/plain' },
    });
    const { input } = await run(ctx);
    expect(input.request).toMatchObject({ bodySize: bytes.length, body: [1, { a: 2 }] });
    expect(input.request.bodyUnreadable).toBeUndefined();
    const forwarded: Buffer[] = [];
    for await (const chunk of ctx.request.body!) forwarded.push(chunk as Buffer);
    expect(Buffer.concat(forwarded).equals(bytes)).toBe(true);
  });

  it('refuses a Deny made on a body it could not judge with VEC_POLICY_BODY_UNREADABLE', async () => {
    const deny = (why: 'too-large' | 'not-json'): PolicyDecision => ({
      effect: 'Deny',
      reason: 'Policy p (rule r): the rule could not be judged (…), so the request is refused.',
      policy: 'p',
      rule: 'r',
      unreadableBody: why,
    });
    for (const [why, status] of [
      ['too-large', 413],
      ['not-json', 400],
    ] as const) {
      const { result } = await run(context(), deny(why));
      expect((result as { error: GatewayError }).error.toJSON()).toMatchObject({
        code: 'VEC_POLICY_BODY_UNREADABLE',
        statusCode: status,
        policy: 'p',
        rule: 'r',
      });
    }
  });

  it('is never read when no policy reads it', async () => {
    const { body, state } = streamed([json]);
    const ctx = context({ body, contentLength: json.length });
    const { input } = await run(ctx, ALLOW, { needsBody: false });
    expect(state.pulled).toBe(0);
    expect(input.request).toMatchObject({ bodySize: json.length });
    expect(input.request.body).toBeUndefined();
  });

  it('is read for later stages when asked, even if no policy reads it', async () => {
    const ctx = context({ body: Readable.from([Buffer.from(json)]), contentLength: json.length });
    await run(ctx, ALLOW, { needsBody: false, alwaysReadBody: true });
    expect(policyInputOf(ctx)?.request.body).toEqual({
      query: 'mutation { deleteUser }',
      n: [1, 2],
    });
    expect(await text(ctx.request.body)).toBe(json);
  });

  it('for later stages alone, only when declared JSON: other bodies stream on unread', async () => {
    const { body, state } = streamed(['{"a":1}']);
    const ctx = context({ body, contentLength: 7, headers: { 'content-type': 'text/plain' } });
    await run(ctx, ALLOW, { needsBody: false, alwaysReadBody: true });
    expect(state.pulled).toBe(0);
    expect(ctx.request.body).toBe(body);
  });

  it('is handed back even when it is not valid JSON (and not parsed)', async () => {
    const ctx = context({ body: Readable.from([Buffer.from('{nope')]), contentLength: 5 });
    const { input } = await run(ctx);
    expect(input.request.body).toBeUndefined();
    expect(input.request.bodyUnreadable).toBe('not-json');
    expect(await text(ctx.request.body)).toBe('{nope');
  });

  it('understands application/*+json', async () => {
    const ctx = context({
      body: Readable.from([Buffer.from('{"a":true}')]),
      headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
    });
    expect((await run(ctx)).input.request.body).toEqual({ a: true });
  });

  it('a body the client abandons is a bad request, not a gateway fault', async () => {
    const body = new Readable({
      read() {
        this.destroy(new Error('aborted'));
      },
    });
    const stage = createPolicyStage({}, { engine: engine(ALLOW).engine, bodyLimit: 100 });
    await expect(stage(context({ body }))).rejects.toMatchObject({ code: 'VEC_REQUEST_MALFORMED' });
  });
});

describe('encoded slashes', () => {
  /** Denies `/admin` and below; allows the rest. */
  const adminDenied = () => {
    const inputs: string[] = [];
    return {
      inputs,
      engine: {
        async evaluate(input: PolicyInput): Promise<PolicyDecision> {
          inputs.push(input.request.path);
          return input.request.path.startsWith('/admin')
            ? {
                effect: 'Deny',
                reason: 'Policy p (rule admin): No admin.',
                policy: 'p',
                rule: 'admin',
              }
            : ALLOW;
        },
        needsBody: () => false,
      },
    };
  };

  it('judges a path with %2F or %5C also with them decoded, and a Deny on the decoded view wins', async () => {
    for (const path of ['/files/..%2F..%2Fadmin/users', '/files/x%5C..%5C..%5Cadmin']) {
      const { inputs, engine } = adminDenied();
      const stage = createPolicyStage({}, { engine, bodyLimit: 0 });
      const ctx = context({ path, method: 'GET' });
      const decision = await stage(ctx);
      expect(decision).toMatchObject({ kind: 'deny', error: { code: 'VEC_POLICY_DENIED' } });
      expect((decision as { error: Error }).error.message).toContain('judged as /admin');
      expect(inputs[0]).toBe(path);
      // The input kept on the request is the path as sent upstream.
      expect(policyInputOf(ctx)?.request.path).toBe(path);
    }
  });

  it('keeps the decision on the path as sent when the decoded one is no stricter; other paths are judged once', async () => {
    const { inputs, engine } = adminDenied();
    const stage = createPolicyStage({}, { engine, bodyLimit: 0 });
    expect(await stage(context({ path: '/files/a%2Fb', method: 'GET' }))).toEqual({
      kind: 'continue',
    });
    expect(inputs).toEqual(['/files/a%2Fb', '/files/a/b']);
    inputs.length = 0;
    expect(await stage(context({ path: '/files/a%20b', method: 'GET' }))).toEqual({
      kind: 'continue',
    });
    expect(inputs).toEqual(['/files/a%20b']);
  });
});
