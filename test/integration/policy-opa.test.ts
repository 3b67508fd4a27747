/**
 * The OPA provider against a local HTTP server that answers as OPA's REST API documents
 * (https://www.openpolicyagent.org/docs/latest/rest-api/#get-a-document-with-input):
 * `POST /v1/data/<path>` with `{"input": …}` → `200 {"result": …}`, `200 {}` when the document is
 * undefined, `4xx/5xx {"code", "message"}` on errors, `GET /health` → `200 {}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPipeline } from '../../src/pipeline/runner';
import { createPolicyStage } from '../../src/pipeline/stages/policy';
import { policyHealthCheck } from '../../src/policy/directory-health';
import { describedRequestInput } from '../../src/policy/input';
import { createOpaEngine } from '../../src/policy/opa-engine';
import type { PolicyEngine } from '../../src/policy/types';
import { agentPrincipal, testContext } from '../helpers/context';
import { testConfig } from '../helpers/gateway';
import { recordingLogger, type LogLine } from '../helpers/waiting-and-processes';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: any;
}

type Answer = { status?: number; body?: unknown } | 'hang';

/** A fake OPA: answers every decision query with `answer()`; records what it was asked. */
async function startOpa(answer: () => Answer) {
  const seen: Seen[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: text ? JSON.parse(text) : undefined,
      });
      const reply = answer();
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      res
        .writeHead(reply.status ?? 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const input = (method = 'DELETE') =>
  describedRequestInput({
    agent: 'bot',
    vault: 'team',
    method,
    url: 'https://api.prod.example.com/v1/users/7?force=true',
    headers: { authorization: 'Bearer secret-value', 'x-env': 'prod' },
    body: { size: 0 },
    now: Date.UTC(2030, 0, 1, 9),
  });

describe('the OPA provider', () => {
  let opa: Awaited<ReturnType<typeof startOpa>>;
  let reply: Answer;
  let lines: LogLine[];
  let engine: PolicyEngine;

  const build = (options: { failOpen?: boolean; baseUrl?: string; timeoutMs?: number } = {}) =>
    createOpaEngine({
      baseUrl: options.baseUrl ?? opa.url,
      path: 'vectra/authz',
      timeoutMs: options.timeoutMs ?? 2000,
      failOpen: options.failOpen ?? false,
      logger: recordingLogger(lines),
    });

  beforeEach(async () => {
    reply = { body: { result: true } };
    lines = [];
    opa = await startOpa(() => reply);
    engine = build();
  });
  afterEach(async () => {
    await engine.close();
    await opa.close();
  });

  it('POSTs the PolicyInput as {"input": …} to /v1/data/<path>', async () => {
    await engine.evaluate(input());
    expect(opa.seen).toEqual([
      {
        method: 'POST',
        url: '/v1/data/vectra/authz',
        contentType: 'application/json',
        body: { input: input() },
      },
    ]);
    expect(opa.seen[0].body.input.request.headers.authorization).toBe('[REDACTED]');
    expect(JSON.stringify(opa.seen)).not.toContain('secret-value');
  });

  it('keeps a path prefix of the base URL', async () => {
    const prefixed = build({ baseUrl: `${opa.url}/opa/` });
    await prefixed.evaluate(input());
    expect(opa.seen[0].url).toBe('/opa/v1/data/vectra/authz');
  });

  it('reads true and false', async () => {
    expect(await engine.evaluate(input())).toEqual({
      effect: 'Allow',
      reason: 'OPA allowed the request (data.vectra.authz).',
      policy: 'data.vectra.authz',
    });
    reply = { body: { result: false, decision_id: 'd1' } };
    expect(await engine.evaluate(input())).toEqual({
      effect: 'Deny',
      reason: 'OPA denied the request (data.vectra.authz is false).',
      policy: 'data.vectra.authz',
    });
  });

  it('reads an object with allow, reason and risk', async () => {
    reply = { body: { result: { allow: false, reason: 'No deletes on production.', risk: 0.9 } } };
    expect(await engine.evaluate(input())).toEqual({
      effect: 'Deny',
      reason: 'No deletes on production.',
      policy: 'data.vectra.authz',
      risk: 0.9,
    });
  });

  it('reads an object with an effect (any case), policy and rule', async () => {
    reply = {
      body: { result: { effect: 'hitl', reason: 'Needs a human.', policy: 'prod', rule: 'r1' } },
    };
    expect(await engine.evaluate(input())).toEqual({
      effect: 'Hitl',
      reason: 'Needs a human.',
      policy: 'prod',
      rule: 'r1',
    });
  });

  describe('fails closed', () => {
    const refusal = (message: RegExp) =>
      expect(engine.evaluate(input())).rejects.toMatchObject({
        code: 'VEC_POLICY_UNAVAILABLE',
        statusCode: 503,
        message: expect.stringMatching(message),
      });

    it('on an undefined decision ({} without result)', async () => {
      reply = { body: {} };
      await refusal(
        /^OPA could not decide \(OPA has no decision at data\.vectra\.authz; the document is undefined/,
      );
    });
    it('on a non-2xx answer, with OPA’s message', async () => {
      reply = { status: 500, body: { code: 'internal_error', message: 'eval_conflict_error' } };
      await refusal(
        /OPA answered HTTP 500: eval_conflict_error\); the request is refused \(fail closed\)\.$/,
      );
      reply = { status: 404, body: 'not json at all' };
      await refusal(/OPA answered HTTP 404/);
    });
    it('on a timeout', async () => {
      engine = build({ timeoutMs: 50 });
      reply = 'hang';
      await refusal(/no answer within 50 ms/);
    });
    it('when OPA is not there', async () => {
      await opa.close();
      await refusal(/cannot reach OPA at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      opa = await startOpa(() => reply); // for afterEach
    });
    it('on a decision it cannot read', async () => {
      reply = { body: { result: 'yes' } };
      await refusal(/neither true, false nor an object/);
      reply = { body: { result: { effect: 'Maybe' } } };
      await refusal(/effect "Maybe", not one of Allow, Deny, Hitl/);
      reply = { body: { result: { reason: 'no verdict' } } };
      await refusal(/neither a boolean allow nor an effect/);
    });
  });

  it('fails open only when configured, and logs every time', async () => {
    engine = build({ failOpen: true });
    reply = { body: {} };
    for (let i = 0; i < 2; i++) {
      expect(await engine.evaluate(input())).toMatchObject({
        effect: 'Allow',
        reason: expect.stringMatching(
          /^OPA could not decide \(.*\), and Policy\.Providers\.Opa\.FailOpen allows the request\.$/,
        ),
      });
    }
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({
      message: expect.stringMatching(/^policy fail-open: /),
      meta: expect.objectContaining({ code: 'VEC_POLICY_UNAVAILABLE', provider: 'Opa' }),
    });
  });

  it('refuses a bad configuration at construction', () => {
    expect(() => build({ baseUrl: '' })).toThrow(/Policy\.Providers\.Opa\.BaseUrl/);
    expect(() => build({ timeoutMs: 0 })).toThrow(/TimeoutMilliseconds/);
  });

  describe('in the pipeline', () => {
    const context = () =>
      testContext({
        request: { method: 'DELETE', host: 'api.prod.example.com', path: '/v1/users/7' },
        principal: agentPrincipal('team'),
        vault: 'team',
      });
    const pipeline = () =>
      createPipeline([createPolicyStage({}, { engine, bodyLimit: 65536 })], {
        logger: recordingLogger(lines),
      });

    it('a Deny from OPA is VEC_POLICY_DENIED with OPA’s reason', async () => {
      reply = { body: { result: { allow: false, reason: 'No deletes on production.' } } };
      const ctx = context();
      const decision = await pipeline()(ctx);
      expect(decision).toMatchObject({
        kind: 'deny',
        error: { code: 'VEC_POLICY_DENIED', message: 'No deletes on production.' },
      });
      expect(ctx.audit).toEqual({
        decision: 'deny',
        errorCode: 'VEC_POLICY_DENIED',
        reason: 'No deletes on production.',
      });
    });

    it('an undefined decision refuses the request with 503 VEC_POLICY_UNAVAILABLE', async () => {
      reply = { body: {} };
      const decision = await pipeline()(context());
      expect(decision).toMatchObject({
        kind: 'deny',
        error: { code: 'VEC_POLICY_UNAVAILABLE', statusCode: 503 },
      });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          meta: expect.objectContaining({ code: 'VEC_POLICY_UNAVAILABLE' }),
        }),
      );
    });
  });

  it('the policies health check asks OPA’s /health', async () => {
    const config = testConfig({
      Policy__DefaultProvider: 'Opa',
      Policy__Providers__Opa__BaseUrl: opa.url,
    });
    expect(await policyHealthCheck(config.Policy).run()).toEqual({
      status: 'Healthy',
      description: `OPA at ${opa.url}`,
    });
  });
});
