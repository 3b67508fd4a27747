import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import type { SecretManagementConfig } from '../../src/config/schema';
import { ConfigError, GatewayError } from '../../src/errors';
import {
  createAzureCredential,
  createSecretProvider,
  environmentVariableNames,
  keyVaultSecretName,
} from '../../src/secrets';
import { rejection } from '../helpers/errors';

type AzureSettings = SecretManagementConfig['Providers']['AzureKeyVault'];

function config(
  provider: SecretManagementConfig['DefaultProvider'],
  azure: Partial<AzureSettings> = {},
  prefix = 'VECTRA_SECRET_',
): SecretManagementConfig {
  return {
    DefaultProvider: provider,
    Providers: {
      Environment: { Prefix: prefix },
      AzureKeyVault: { VaultUri: '', TenantId: '', ClientId: '', ClientSecret: '', ...azure },
    },
  };
}

const noVaultService = {
  resolveCredentials: async (): Promise<Map<string, string>> => {
    throw new Error('the Internal store must not be asked');
  },
};

describe('Internal secret provider', () => {
  it('delegates to the vault service', async () => {
    const calls: Array<[string, readonly string[]]> = [];
    const provider = createSecretProvider(config('Internal'), {
      vaultService: {
        resolveCredentials: async (vault, keys) => {
          calls.push([vault, keys]);
          return new Map([['API_KEY', 'from-store']]);
        },
      },
    });
    expect(provider.name).toBe('Internal');
    expect(await provider.resolve('team-a', ['API_KEY'])).toEqual(
      new Map([['API_KEY', 'from-store']]),
    );
    expect(calls).toEqual([['team-a', ['API_KEY']]]);
  });

  it('passes the store errors through unchanged', async () => {
    const missing = new GatewayError('VEC_CREDENTIAL_NOT_FOUND');
    const provider = createSecretProvider(config('Internal'), {
      vaultService: { resolveCredentials: () => Promise.reject(missing) },
    });
    await expect(provider.resolve('default', ['X'])).rejects.toBe(missing);
  });
});

describe('Environment secret provider', () => {
  const env = {
    VECTRA_SECRET_TEAM_A__STRIPE_KEY: 'team-a-stripe',
    VECTRA_SECRET_STRIPE_KEY: 'shared-stripe',
    VECTRA_SECRET_MY_VAULT_V1__API_KEY: 'dotted-vault',
    VECTRA_SECRET_EMPTY: '',
    UNRELATED_PASSWORD: 'not-under-the-prefix',
  };
  const provider = () =>
    createSecretProvider(config('Environment'), { vaultService: noVaultService, env });

  it('names variables <Prefix><VAULT>__<KEY>, then <Prefix><KEY>, upper-cased, - and . as _', () => {
    expect(environmentVariableNames('VECTRA_SECRET_', 'my-vault.v1', 'api_key')).toEqual([
      'VECTRA_SECRET_MY_VAULT_V1__API_KEY',
      'VECTRA_SECRET_API_KEY',
    ]);
  });

  it("prefers the vault's own variable over the shared one", async () => {
    const values = await provider().resolve('team-a', ['STRIPE_KEY']);
    expect(values.get('STRIPE_KEY')).toBe('team-a-stripe');
  });

  it('falls back to the shared variable for any vault', async () => {
    const values = await provider().resolve('team-b', ['STRIPE_KEY']);
    expect(values.get('STRIPE_KEY')).toBe('shared-stripe');
  });

  it('maps - and . in vault names', async () => {
    const values = await provider().resolve('my-vault.v1', ['API_KEY', 'STRIPE_KEY']);
    expect(values).toEqual(
      new Map([
        ['API_KEY', 'dotted-vault'],
        ['STRIPE_KEY', 'shared-stripe'],
      ]),
    );
  });

  it('refuses a missing key naming the variable it looked for, never a value', async () => {
    const error = await rejection(provider().resolve('team-a', ['STRIPE_KEY', 'GITHUB_TOKEN']));
    expect(error.code).toBe('VEC_CREDENTIAL_NOT_FOUND');
    expect(error.message).toContain('VECTRA_SECRET_TEAM_A__GITHUB_TOKEN');
    expect(error.message).toContain('VECTRA_SECRET_GITHUB_TOKEN');
    expect(error.context).toMatchObject({ vault: 'team-a', key: 'GITHUB_TOKEN' });
    const wire = JSON.stringify(error.toJSON());
    for (const value of Object.values(env).filter(Boolean)) expect(wire).not.toContain(value);
  });

  it('treats an empty variable as unset', async () => {
    const error = await rejection(provider().resolve('default', ['EMPTY']));
    expect(error.code).toBe('VEC_CREDENTIAL_NOT_FOUND');
  });

  it('reads the environment once, at construction', async () => {
    const live: NodeJS.ProcessEnv = { VECTRA_SECRET_TOKEN: 'at-start' };
    const secrets = createSecretProvider(config('Environment'), {
      vaultService: noVaultService,
      env: live,
    });
    live.VECTRA_SECRET_TOKEN = 'changed-later';
    live.VECTRA_SECRET_NEW = 'added-later';
    expect((await secrets.resolve('default', ['TOKEN'])).get('TOKEN')).toBe('at-start');
    await expect(secrets.resolve('default', ['NEW'])).rejects.toMatchObject({
      code: 'VEC_CREDENTIAL_NOT_FOUND',
    });
  });

  it('uses the configured prefix, and says how many variables it holds', async () => {
    const secrets = createSecretProvider(config('Environment', {}, 'ACME_'), {
      vaultService: noVaultService,
      env: { ACME_DEFAULT__TOKEN: 't', VECTRA_SECRET_TOKEN: 'other' },
    });
    expect((await secrets.resolve('default', ['TOKEN'])).get('TOKEN')).toBe('t');
    expect(await secrets.health!()).toEqual({
      status: 'Healthy',
      description: '1 environment variable(s) with prefix ACME_.',
    });
  });
});

describe('AzureKeyVault secret provider: names and configuration', () => {
  it('maps vault V key K to the secret V--K with _ and . as -', () => {
    expect(keyVaultSecretName('team.a', 'STRIPE_KEY')).toBe('team-a--STRIPE-KEY');
    expect(keyVaultSecretName('default', 'token')).toBe('default--token');
  });

  it('refuses a credential whose secret name would be too long for Key Vault', async () => {
    const provider = createSecretProvider(config('AzureKeyVault', { VaultUri: 'https://v.test' }), {
      vaultService: noVaultService,
      azure: { credential: { getToken: async () => null } },
    });
    const error = await rejection(provider.resolve('default', ['K'.repeat(128)]));
    expect(error.code).toBe('VEC_CREDENTIAL_NOT_FOUND');
    expect(error.message).toContain('cannot be named in Azure Key Vault');
  });

  it('requires an https VaultUri', () => {
    const build = (uri: string) => () =>
      createSecretProvider(config('AzureKeyVault', { VaultUri: uri }), {
        vaultService: noVaultService,
      });
    expect(build('')).toThrow(ConfigError);
    expect(build('')).toThrow(/SecretManagement\.Providers\.AzureKeyVault\.VaultUri.*required/);
    expect(build('http://vault.test')).toThrow(/must be an https:\/\/ URL/);
  });

  it('requires TenantId, ClientId and ClientSecret together, naming the missing ones', () => {
    let error: ConfigError | undefined;
    try {
      createSecretProvider(
        config('AzureKeyVault', { VaultUri: 'https://v.vault.azure.net', ClientId: 'id' }),
        { vaultService: noVaultService },
      );
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems.map((p) => p.envVar)).toEqual([
      'SecretManagement__Providers__AzureKeyVault__TenantId',
      'SecretManagement__Providers__AzureKeyVault__ClientSecret',
    ]);
  });

  it('uses a service principal when it is configured, else DefaultAzureCredential', async () => {
    const base = {
      VaultUri: 'https://v.vault.azure.net',
      TenantId: '',
      ClientId: '',
      ClientSecret: '',
    };
    expect(
      await createAzureCredential({ ...base, TenantId: 't', ClientId: 'c', ClientSecret: 's' }),
    ).toBeInstanceOf(ClientSecretCredential);
    expect(await createAzureCredential(base)).toBeInstanceOf(DefaultAzureCredential);
  });
});
