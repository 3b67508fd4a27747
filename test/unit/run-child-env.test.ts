import {
  BUNDLE_VARIABLES,
  buildChildEnv,
  isWithheld,
  type ChildEnvOptions,
} from '../../src/isolation/host-run';
import {
  noProxyList,
  proxyUrlWithToken,
  resolveProxyBase,
  bareHost,
} from '../../src/isolation/proxy-url';
import { RunError } from '../../src/isolation/run-mode';

const OPTS: ChildEnvOptions = {
  addr: 'http://gw.example:7080',
  token: 'vec_agt_new',
  vault: 'shop',
  proxyUrl: 'http://vec_agt_new:shop@gw.example:7081',
  noProxy: 'localhost,127.0.0.1,::1,gw.example',
  vectraCaFile: '/tmp/vectra-run-x/vectra-ca.pem',
  bundleFile: '/tmp/vectra-run-x/ca-bundle.pem',
};

describe('vectra run: the child environment', () => {
  it('sets the proxy in both cases, NO_PROXY, the CA variables and VECTRA_*', () => {
    const env = buildChildEnv({ PATH: '/usr/bin', HOME: '/home/me' }, OPTS);
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      HTTPS_PROXY: OPTS.proxyUrl,
      https_proxy: OPTS.proxyUrl,
      HTTP_PROXY: OPTS.proxyUrl,
      http_proxy: OPTS.proxyUrl,
      NO_PROXY: OPTS.noProxy,
      no_proxy: OPTS.noProxy,
      NODE_USE_ENV_PROXY: '1',
      SSL_CERT_FILE: OPTS.bundleFile,
      REQUESTS_CA_BUNDLE: OPTS.bundleFile,
      CURL_CA_BUNDLE: OPTS.bundleFile,
      GIT_SSL_CAINFO: OPTS.bundleFile,
      AWS_CA_BUNDLE: OPTS.bundleFile,
      DENO_CERT: OPTS.bundleFile,
      NODE_EXTRA_CA_CERTS: OPTS.vectraCaFile,
      VECTRA_ADDR: OPTS.addr,
      VECTRA_TOKEN: OPTS.token,
      VECTRA_VAULT: OPTS.vault,
    });
  });

  it('removes stale copies in any case before setting its own', () => {
    const stale: NodeJS.ProcessEnv = {
      HTTPS_PROXY: 'http://old:1',
      https_proxy: 'http://old:1',
      Http_Proxy: 'http://old:1',
      no_proxy: '*',
      NO_PROXY: '*',
      NODE_USE_ENV_PROXY: '0',
      NODE_EXTRA_CA_CERTS: '/old/ca.pem',
      ssl_cert_file: '/old/bundle.pem',
      ...Object.fromEntries(BUNDLE_VARIABLES.map((name) => [name, '/old/bundle.pem'])),
      VECTRA_ADDR: 'http://old:7080',
      VECTRA_TOKEN: 'vec_agt_old',
      VECTRA_VAULT: 'old',
    };
    const env = buildChildEnv(stale, OPTS);
    expect(Object.values(env).join('\n')).not.toMatch(/old/);
    expect(env.Http_Proxy).toBeUndefined();
    expect(env.ssl_cert_file).toBeUndefined();
    expect(env.HTTPS_PROXY).toBe(OPTS.proxyUrl);
    expect(env.NO_PROXY).toBe(OPTS.noProxy);
  });

  it('drops the seed aliases: AGENT_VAULT_TOKEN, AGENT_VAULT_ADDR, AGENT_VAULT_VAULT', () => {
    const env = buildChildEnv(
      {
        AGENT_VAULT_TOKEN: 'vec_agt_alias',
        AGENT_VAULT_ADDR: 'http://alias:7080',
        AGENT_VAULT_VAULT: 'alias',
      },
      OPTS,
    );
    expect(Object.keys(env).filter((k) => k.startsWith('AGENT_VAULT_'))).toEqual([]);
    expect(JSON.stringify(env)).not.toContain('alias');
    expect(env.VECTRA_TOKEN).toBe('vec_agt_new');
  });

  it('never passes the admin token, credential values or gateway configuration', () => {
    const env = buildChildEnv(
      {
        VECTRA_ADMIN_TOKEN: 'vec_adm_secret',
        VECTRA_SECRET_STRIPE_KEY: 'sk_live_secret',
        VECTRA_CREDENTIAL_VALUE: 'secret-value',
        VECTRA_CONFIG_HOME: '/home/me/.vectra',
        VECTRA_PROXY: 'http://gw:7081',
        Security__Admin__BootstrapToken: 'vec_adm_bootstrap_secret',
        SecretManagement__Providers__AzureKeyVault__ClientSecret: 'azure-secret',
        ConnectionStrings__Default: 'kept: not a Vectra section',
        EDITOR: 'vi',
      },
      OPTS,
    );
    expect(JSON.stringify(env)).not.toMatch(/secret|vec_adm|\.vectra|VECTRA_PROXY/);
    expect(env.VECTRA_ADMIN_TOKEN).toBeUndefined();
    expect(env.ConnectionStrings__Default).toBe('kept: not a Vectra section');
    expect(env.EDITOR).toBe('vi');
  });

  it('does not modify the environment it was given', () => {
    const base = { HTTPS_PROXY: 'http://old:1', VECTRA_ADMIN_TOKEN: 'vec_adm_x' };
    buildChildEnv(base, OPTS);
    expect(base).toEqual({ HTTPS_PROXY: 'http://old:1', VECTRA_ADMIN_TOKEN: 'vec_adm_x' });
  });

  it.each([
    ['HTTPS_PROXY', true],
    ['https_proxy', true],
    ['all_proxy', false],
    ['VECTRA_ANYTHING', true],
    ['vectra_token', true],
    ['AGENT_VAULT_ISOLATION', true],
    ['System__Proxy__Port', true],
    ['Logging__LogLevel__Default', false],
    ['PATH', false],
  ])('%s withheld: %s', (name, withheld) => {
    expect(isWithheld(name)).toBe(withheld);
  });
});

describe('vectra run: proxy URL and NO_PROXY', () => {
  it('derives the proxy from the API host and port 7081', () => {
    expect(resolveProxyBase('https://gw.example:7443', undefined, {}).href).toBe(
      'http://gw.example:7081/',
    );
    expect(resolveProxyBase('http://[::1]:7080', undefined, {}).host).toBe('[::1]:7081');
  });

  it("uses the port the gateway advertises, with the API address's host", () => {
    expect(resolveProxyBase('https://gw.example:7443', undefined, {}, { port: 9443 }).href).toBe(
      'http://gw.example:9443/',
    );
    expect(resolveProxyBase('http://[::1]:7080', undefined, {}, { port: 40123 }).host).toBe(
      '[::1]:40123',
    );
  });

  it.each([undefined, null, {}, { port: '9443' }, { port: 0 }, { port: 65536 }, { port: 1.5 }, 7])(
    'falls back to port 7081 when /discover advertises %j (older gateways: nothing)',
    (advertised) => {
      expect(resolveProxyBase('http://gw.example:7080', undefined, {}, advertised).host).toBe(
        'gw.example:7081',
      );
    },
  );

  it('prefers --proxy, then VECTRA_PROXY, to the advertised port', () => {
    const env = { VECTRA_PROXY: 'http://env-proxy:9000' };
    const advertised = { port: 9443 };
    expect(resolveProxyBase('http://gw:7080', 'http://flag-proxy:8000', env, advertised).host).toBe(
      'flag-proxy:8000',
    );
    expect(resolveProxyBase('http://gw:7080', undefined, env, advertised).host).toBe(
      'env-proxy:9000',
    );
  });

  it('prefers --proxy, then VECTRA_PROXY', () => {
    const env = { VECTRA_PROXY: 'http://env-proxy:9000' };
    expect(resolveProxyBase('http://gw:7080', 'http://flag-proxy:8000', env).host).toBe(
      'flag-proxy:8000',
    );
    expect(resolveProxyBase('http://gw:7080', undefined, env).host).toBe('env-proxy:9000');
  });

  it.each(['gw:7081', 'socks5://gw:1080', 'http://u:p@gw:7081', 'http://gw:7081/path'])(
    'refuses --proxy %s (exit 2) without echoing it',
    (value) => {
      let err: unknown;
      try {
        resolveProxyBase('http://gw:7080', value, {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RunError);
      expect((err as RunError).exitCode).toBe(2);
      expect((err as RunError).message).not.toContain(':p@');
    },
  );

  it('puts token and vault in the userinfo, URL-encoded', () => {
    const base = new URL('http://gw.example:7081');
    expect(proxyUrlWithToken(base, 'vec_agt_abc-_9', 'shop')).toBe(
      'http://vec_agt_abc-_9:shop@gw.example:7081',
    );
    const odd = proxyUrlWithToken(base, 'a:b@c', 'v/1 x');
    expect(odd).toBe('http://a%3Ab%40c:v%2F1%20x@gw.example:7081');
    const parsed = new URL(odd);
    expect(decodeURIComponent(parsed.username)).toBe('a:b@c');
    expect(decodeURIComponent(parsed.password)).toBe('v/1 x');
  });

  it('lists loopback and the gateway host, then --no-proxy entries, without duplicates', () => {
    expect(noProxyList('gw.example')).toBe('localhost,127.0.0.1,::1,gw.example');
    expect(noProxyList('127.0.0.1', ['internal.corp, .svc.local', 'gw.example,localhost'])).toBe(
      'localhost,127.0.0.1,::1,internal.corp,.svc.local,gw.example',
    );
    expect(bareHost(new URL('http://[::1]:7080'))).toBe('::1');
  });
});
