import { Readable } from 'node:stream';
import { agentPrincipal, testContext } from '../helpers/context';
import { createSemanticStage, riskInputOf, riskOf } from '../../src/pipeline/stages/semantic';
import type { RequestContext } from '../../src/pipeline/types';
import type { ProxyRequest } from '../../src/http/types';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import type { RiskInput, RiskScorer } from '../../src/semantic/types';
import { recordingLogger } from '../helpers/waiting-and-processes';

function context(request: Partial<ProxyRequest> = {}): RequestContext {
  return testContext({
    request: { method: 'DELETE', host: 'api.example.com', path: '/admin/users/all', ...request },
    principal: agentPrincipal(),
  });
}

describe('semantic stage', () => {
  const internal = createInternalScorer();

  it('is named semantic, continues, and stores the assessment for approval', async () => {
    const stage = createSemanticStage({}, { scorer: internal });
    expect(stage.name).toBe('semantic');
    expect(stage.timeoutMs).toBeUndefined();
    const ctx = context();
    expect(riskOf(ctx)).toBeUndefined();
    expect(await stage(ctx)).toEqual({ kind: 'continue' });
    expect(riskOf(ctx)).toMatchObject({ score: 0.86, provider: 'Internal' });
    expect(riskOf(context())).toBeUndefined(); // per context
  });

  it('scores the body only when an earlier stage read it, and never reads the stream', async () => {
    const stream = Readable.from(['DROP TABLE users']);
    const read = jest.spyOn(stream, 'read');
    const request = {
      method: 'POST',
      path: '/sql',
      body: stream,
      contentLength: 16,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    };
    const without = context(request);
    await createSemanticStage({}, { scorer: internal })(without);
    expect(riskOf(without)?.factors.map((f) => f.name)).toEqual(['method']);

    const withBody = context(request);
    const bodyOf = (ctx: RequestContext) => (ctx === withBody ? 'DROP TABLE users' : undefined);
    await createSemanticStage({}, { scorer: internal, bodyOf })(withBody);
    expect(riskOf(withBody)?.score).toBe(0.83);
    expect(read).not.toHaveBeenCalled();
    expect(stream.readableFlowing).toBeNull();
  });

  it.each([
    ['text', 'DROP TABLE users'],
    ['bytes', Buffer.from('DROP TABLE users')],
    ['parsed JSON (what the policy stage keeps)', { sql: 'DROP TABLE users', n: 1 }],
  ])('scores a body handed over as %s', async (_kind, body) => {
    const ctx = context({ method: 'POST', path: '/sql' });
    await createSemanticStage({}, { scorer: internal, bodyOf: () => body })(ctx);
    expect(riskOf(ctx)?.factors[0].name).toBe('body.sql');
  });

  it('a body that is not JSON-shaped is scored without it', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const ctx = context({ method: 'POST', path: '/sql' });
    await createSemanticStage({}, { scorer: internal, bodyOf: () => cyclic })(ctx);
    expect(riskOf(ctx)?.factors.map((f) => f.name)).toEqual(['method']);
  });

  it('hands the scorer what it needs, and no credentials', () => {
    const ctx = context({
      method: 'POST',
      scheme: 'http',
      port: 8080,
      path: '/x?y=1',
      headers: { 'Content-Type': 'Application/JSON', authorization: 'Bearer secret' },
    });
    expect(riskInputOf(ctx, '{"a":1}')).toEqual({
      method: 'POST',
      host: 'api.example.com:8080',
      path: '/x?y=1',
      contentType: 'application/json',
      bodySize: 7,
      bodyText: '{"a":1}',
      agent: 'bot',
    });
    const plain = context({ contentLength: 99 });
    plain.principal = undefined;
    expect(riskInputOf(plain, undefined)).toEqual({
      method: 'DELETE',
      host: 'api.example.com',
      path: '/admin/users/all',
      bodySize: 99,
    });
  });

  it("widens its time budget to the scorer's deadline, so the fallback wins the race", () => {
    const slow: RiskScorer = { provider: 'OpenAi', timeoutMs: 20_000, score: internal.score };
    expect(createSemanticStage({}, { scorer: slow }).timeoutMs).toBe(21_000);
  });

  it('logs the sentence at debug with the request id', async () => {
    const logger = recordingLogger();
    const ctx = context();
    await createSemanticStage({}, { scorer: internal, logger })(ctx);
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        message: riskOf(ctx)?.explanation,
        meta: expect.objectContaining({
          component: 'semantic',
          requestId: ctx.requestId,
          risk: 0.86,
        }),
      }),
    ]);
  });

  it('a scorer failure propagates, so the runner refuses (fail closed)', async () => {
    const broken: RiskScorer = {
      provider: 'Internal',
      score: (_: RiskInput) => Promise.reject(new Error('boom')),
    };
    await expect(createSemanticStage({}, { scorer: broken })(context())).rejects.toThrow('boom');
  });

  it.each([
    [{ unknown: 1 }, { scorer: internal }, 'unknown is not an option'],
    [{}, {}, 'scorer must provide score()'],
    [{}, { scorer: internal, bodyOf: 'x' }, 'bodyOf must be a function'],
  ])('refuses a bad construction %j %j', (options, deps, message) => {
    expect(() => createSemanticStage(options as any, deps as any)).toThrow(message);
  });
});
