import { GatewayError } from '../../src/errors';
import { testContext, testService } from '../helpers/context';
import { createInjectStage } from '../../src/pipeline/stages/inject';
import type { RequestContext } from '../../src/pipeline/types';
import type { AuthScheme } from '../../src/vault/types';

const store: Record<string, string> = { GH: 'ghp_secretvalue', USER: 'alice', PASS: 'hunter22' };
const resolved: Array<{ vault: string; keys: readonly string[] }> = [];
const stage = createInjectStage(
  {},
  {
    secrets: {
      async resolve(vault, keys) {
        resolved.push({ vault, keys });
        const missing = keys.find((key) => store[key] === undefined);
        if (missing) throw new GatewayError('VEC_CREDENTIAL_NOT_FOUND', `no ${missing}`);
        return new Map(keys.map((key) => [key, store[key]]));
      },
    },
  },
);

function context(auth?: AuthScheme): RequestContext {
  const ctx = testContext({
    request: { path: '/user', headers: { Authorization: 'Bearer agent-own-token', accept: '*/*' } },
    vault: 'prod',
  });
  if (auth) {
    ctx.service = testService({ id: 's', name: 'gh', auth });
  }
  return ctx;
}

beforeEach(() => (resolved.length = 0));

describe('inject stage', () => {
  it('resolves the keys the scheme names and overwrites the agent header', async () => {
    const ctx = context({ type: 'basic', username: 'USER', password: 'PASS' });
    expect(stage.name).toBe('inject');
    expect(await stage(ctx)).toEqual({ kind: 'continue' });
    expect(resolved).toEqual([{ vault: 'prod', keys: ['USER', 'PASS'] }]);
    const encoded = Buffer.from('alice:hunter22').toString('base64');
    expect(ctx.request.headers).toEqual({ authorization: `Basic ${encoded}`, accept: '*/*' });
    expect(ctx.injectedSecrets).toEqual(['alice', 'hunter22', encoded]);
  });

  it('injects nothing, and resolves nothing, for an unmatched passthrough host', async () => {
    const ctx = context();
    ctx.unmatched = 'passthrough';
    await stage(ctx);
    expect(resolved).toEqual([]);
    expect(ctx.request.headers.Authorization).toBe('Bearer agent-own-token');
    expect(ctx.injectedSecrets).toEqual([]);
  });

  it('the passthrough scheme resolves nothing and leaves the headers', async () => {
    const ctx = context({ type: 'passthrough' });
    await stage(ctx);
    expect(resolved).toEqual([]);
    expect(ctx.request.headers.Authorization).toBe('Bearer agent-own-token');
  });

  it("a provider refusal propagates as the runner's deny", async () => {
    await expect(stage(context({ type: 'bearer', credential: 'MISSING' }))).rejects.toMatchObject({
      code: 'VEC_CREDENTIAL_NOT_FOUND',
    });
  });

  it.each([
    ['plain HTTP', { scheme: 'http' as const }],
    ['another port', { port: 8443 }],
  ])('injects nothing, and resolves nothing, for %s than the service names', async (_, change) => {
    const ctx = context({ type: 'bearer', credential: 'GH' });
    Object.assign(ctx.request, change);
    await expect(stage(ctx)).rejects.toThrow(/does not serve this request's scheme and port/);
    expect(resolved).toEqual([]);
    expect(ctx.request.headers.Authorization).toBe('Bearer agent-own-token');
  });

  it('fails closed when no service was resolved before it', async () => {
    await expect(stage(context())).rejects.toThrow(/before resolveService/);
  });
});
