import { testContext, testService } from '../helpers/context';
import { createResolveServiceStage } from '../../src/pipeline/stages/resolve-service';
import type { HeaderMap } from '../../src/http/types';
import type { Decision, EntryPoint } from '../../src/pipeline/types';
import type { UnmatchedHostPolicy, Vault } from '../../src/vault/types';

const service = testService();

function vaults(unmatchedHosts: UnmatchedHostPolicy) {
  const calls = { match: [] as unknown[], getVault: 0 };
  return {
    calls,
    vaults: {
      async matchService(
        vault: string,
        request: { scheme: 'http' | 'https'; host: string; port: number; path: string },
      ) {
        calls.match.push({ vault, ...request });
        return request.host === 'api.github.com' ? service : undefined;
      },
      async getVault(name: string): Promise<Vault> {
        calls.getVault++;
        return { id: 'v', name, unmatchedHosts, createdAt: '', updatedAt: '' };
      },
    },
  };
}

function context(
  entry: EntryPoint,
  target: { host: string; port: number; headers?: HeaderMap },
  tunnelAuthority?: string,
) {
  return testContext({
    entry,
    tunnelAuthority,
    request: { ...target, path: '/repos/x?page=1', headers: target.headers ?? {} },
    vault: 'prod',
  });
}

const errorOf = (decision: Decision) => (decision.kind === 'deny' ? decision.error : undefined);

describe('resolveService stage', () => {
  it('sets the matched service and reads the vault only on a miss', async () => {
    const { vaults: deps, calls } = vaults('deny');
    const stage = createResolveServiceStage({}, { vaults: deps });
    expect(stage.name).toBe('resolveService');
    const ctx = context('forward', { host: 'api.github.com', port: 443 });
    expect(await stage(ctx)).toEqual({ kind: 'continue' });
    expect(ctx.service).toBe(service);
    expect(calls).toEqual({
      match: [
        {
          vault: 'prod',
          scheme: 'https',
          host: 'api.github.com',
          port: 443,
          path: '/repos/x?page=1',
        },
      ],
      getVault: 0,
    });
  });

  it('unmatched host with the vault set to deny: VEC_UNMATCHED_HOST_DENIED (403)', async () => {
    const { vaults: deps, calls } = vaults('deny');
    const ctx = context('forward', { host: 'evil.example', port: 443 });
    const error = errorOf(await createResolveServiceStage({}, { vaults: deps })(ctx));
    expect(error).toMatchObject({ code: 'VEC_UNMATCHED_HOST_DENIED', statusCode: 403 });
    expect(error?.message).toContain('https://evil.example:443');
    expect(error?.context).toMatchObject({ scheme: 'https', host: 'evil.example', port: 443 });
    expect(calls.getVault).toBe(1);
  });

  it('unmatched host with the vault set to passthrough: continues, marked unmatched', async () => {
    const ctx = context('forward', { host: 'other.example', port: 443 });
    const decision = await createResolveServiceStage(
      {},
      { vaults: vaults('passthrough').vaults },
    )(ctx);
    expect(decision).toEqual({ kind: 'continue' });
    expect(ctx.unmatched).toBe('passthrough');
    expect(ctx.service).toBeUndefined();
  });

  describe('inside a tunnel', () => {
    const stage = createResolveServiceStage({}, { vaults: vaults('passthrough').vaults });

    it.each<[string, { host: string; port: number; headers?: HeaderMap }, string | undefined]>([
      ['another host', { host: 'evil.example', port: 443 }, 'api.github.com:443'],
      ['another port', { host: 'api.github.com', port: 8443 }, 'api.github.com:443'],
      [
        'a Host header naming another host',
        { host: 'api.github.com', port: 443, headers: { host: 'evil.example' } },
        'api.github.com:443',
      ],
      ['no tunnel authority at all', { host: 'api.github.com', port: 443 }, undefined],
    ])('refuses %s: VEC_TUNNEL_HOST_MISMATCH (421)', async (_, target, authority) => {
      const ctx = context('tunnel', target, authority);
      expect(errorOf(await stage(ctx))).toMatchObject({
        code: 'VEC_TUNNEL_HOST_MISMATCH',
        statusCode: 421,
      });
      expect(ctx.service).toBeUndefined();
    });

    it.each<[string, { host: string; port: number; headers?: HeaderMap }, string]>([
      ['the same authority', { host: 'api.github.com', port: 443 }, 'api.github.com:443'],
      [
        'a Host header without the default port, in other letters',
        { host: 'api.github.com', port: 443, headers: { host: 'API.GitHub.com.' } },
        'api.github.com:443',
      ],
      [
        'an IPv6 literal',
        { host: '::1', port: 8443, headers: { host: '[::1]:8443' } },
        '[::1]:8443',
      ],
    ])('accepts %s', async (_, target, authority) => {
      expect(await stage(context('tunnel', target, authority))).toEqual({ kind: 'continue' });
    });
  });

  it('fails closed (throws) when no vault was chosen before it', async () => {
    const ctx = context('forward', { host: 'api.github.com', port: 443 });
    ctx.vault = undefined;
    await expect(
      createResolveServiceStage({}, { vaults: vaults('deny').vaults })(ctx),
    ).rejects.toThrow(/before authenticate/);
  });
});
