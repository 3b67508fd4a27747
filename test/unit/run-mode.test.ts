import { DEFAULT_TTL_SECONDS, resolveRunMode, RunError } from '../../src/isolation/run-mode';
import type { SavedLogin } from '../../src/client/login-store';
import { thrownBy } from '../helpers/errors';

const ADDR = 'http://gw.example:7080';
const noLogin = () => undefined;
const savedLogin =
  (login: SavedLogin = { addr: ADDR, token: 'vec_adm_saved' }) =>
  () =>
    login;

const refusal = (fn: () => unknown) => thrownBy(fn, RunError);

describe('vectra run: agent mode', () => {
  const agentEnv = { VECTRA_TOKEN: 'vec_agt_x', VECTRA_ADDR: ADDR, VECTRA_VAULT: 'shop' };

  it('uses the supplied token, address and vault, and never reads the saved login', () => {
    const readLogin = jest.fn(savedLogin());
    expect(resolveRunMode({}, agentEnv, readLogin)).toEqual({
      kind: 'agent',
      addr: ADDR,
      vault: 'shop',
      token: 'vec_agt_x',
    });
    expect(readLogin).not.toHaveBeenCalled();
  });

  it('accepts the AGENT_VAULT_* aliases', () => {
    const env = {
      AGENT_VAULT_TOKEN: 'vec_sess_y',
      AGENT_VAULT_ADDR: 'http://alias:7080/',
      AGENT_VAULT_VAULT: 'team',
    };
    expect(resolveRunMode({}, env, noLogin)).toEqual({
      kind: 'agent',
      addr: 'http://alias:7080',
      vault: 'team',
      token: 'vec_sess_y',
    });
  });

  it('prefers VECTRA_* to the aliases, and flags to both', () => {
    const env = {
      ...agentEnv,
      AGENT_VAULT_TOKEN: 'alias-token',
      AGENT_VAULT_ADDR: 'http://alias:1',
      AGENT_VAULT_VAULT: 'alias-vault',
    };
    expect(resolveRunMode({}, env, noLogin)).toMatchObject({
      token: 'vec_agt_x',
      addr: ADDR,
      vault: 'shop',
    });
    expect(
      resolveRunMode({ vault: 'flag-vault', addr: 'http://flag:2' }, env, noLogin),
    ).toMatchObject({ vault: 'flag-vault', addr: 'http://flag:2' });
  });

  it('a blank VECTRA_TOKEN does not count as supplied', () => {
    const mode = resolveRunMode({}, { VECTRA_TOKEN: '  ' }, savedLogin());
    expect(mode.kind).toBe('local');
  });

  it('refuses a missing vault: "vault is required in agent mode" (exit 2)', () => {
    const err = refusal(() =>
      resolveRunMode({}, { VECTRA_TOKEN: 't', VECTRA_ADDR: ADDR }, noLogin),
    );
    expect(err.message).toBe('vault is required in agent mode');
    expect(err.exitCode).toBe(2);
    expect(err.hint).toBe('pass --vault or set VECTRA_VAULT');
  });

  it('refuses a missing vault with the alias token too', () => {
    const err = refusal(() =>
      resolveRunMode({}, { AGENT_VAULT_TOKEN: 't', AGENT_VAULT_ADDR: ADDR }, noLogin),
    );
    expect(err.message).toBe('vault is required in agent mode');
  });

  it('does not fall back to the "default" vault in agent mode', () => {
    expect(() =>
      resolveRunMode({ vault: ' ' }, { VECTRA_TOKEN: 't', VECTRA_ADDR: ADDR }, noLogin),
    ).toThrow('vault is required in agent mode');
  });

  it('refuses --ttl: "--ttl has no effect when VECTRA_TOKEN is supplied" (exit 2)', () => {
    const err = refusal(() => resolveRunMode({ ttl: 3600 }, agentEnv, noLogin));
    expect(err.message).toBe('--ttl has no effect when VECTRA_TOKEN is supplied');
    expect(err.exitCode).toBe(2);
    const alias = refusal(() =>
      resolveRunMode(
        { ttl: 3600 },
        { AGENT_VAULT_TOKEN: 't', AGENT_VAULT_ADDR: ADDR, AGENT_VAULT_VAULT: 'v' },
        noLogin,
      ),
    );
    expect(alias.message).toBe('--ttl has no effect when VECTRA_TOKEN is supplied');
  });

  it('requires an address (exit 2) instead of guessing one', () => {
    const err = refusal(() =>
      resolveRunMode({}, { VECTRA_TOKEN: 't', VECTRA_VAULT: 'v' }, savedLogin()),
    );
    expect(err.message).toBe('the gateway address is required in agent mode');
    expect(err.exitCode).toBe(2);
  });

  it('refuses an address that is not an http(s) URL, naming where it came from but not echoing it', () => {
    const err = refusal(() =>
      resolveRunMode({}, { ...agentEnv, VECTRA_ADDR: 'http://user:secret@gw:7080' }, noLogin),
    );
    expect(err.message).toContain('from VECTRA_ADDR');
    expect(err.message).not.toContain('secret');
    expect(err.exitCode).toBe(2);
    expect(() => resolveRunMode({ addr: 'ftp://gw' }, agentEnv, noLogin)).toThrow(
      'the gateway address from --addr must be an http(s) URL',
    );
  });
});

describe('vectra run: local mode', () => {
  it('uses the saved login, the "default" vault and a 24h session', () => {
    expect(resolveRunMode({}, {}, savedLogin())).toEqual({
      kind: 'local',
      addr: ADDR,
      vault: 'default',
      ttlSeconds: DEFAULT_TTL_SECONDS,
      adminToken: 'vec_adm_saved',
    });
    expect(DEFAULT_TTL_SECONDS).toBe(86400);
  });

  it('takes --vault, --ttl and VECTRA_VAULT', () => {
    expect(resolveRunMode({ vault: 'v', ttl: 300 }, {}, savedLogin())).toMatchObject({
      vault: 'v',
      ttlSeconds: 300,
    });
    expect(resolveRunMode({}, { VECTRA_VAULT: 'env-vault' }, savedLogin())).toMatchObject({
      vault: 'env-vault',
    });
  });

  it('takes the admin token from VECTRA_ADMIN_TOKEN', () => {
    const env = { VECTRA_ADDR: 'http://other:7080', VECTRA_ADMIN_TOKEN: 'vec_adm_env' };
    expect(resolveRunMode({}, env, noLogin)).toMatchObject({
      addr: 'http://other:7080',
      adminToken: 'vec_adm_env',
    });
  });

  it('never sends the saved token to another address (exit 2)', () => {
    const err = refusal(() => resolveRunMode({ addr: 'http://elsewhere:7080' }, {}, savedLogin()));
    expect(err.message).toContain('no admin token for http://elsewhere:7080');
    expect(err.exitCode).toBe(2);
  });

  it('needs an address: flag, env or saved login (exit 2)', () => {
    const err = refusal(() => resolveRunMode({}, {}, noLogin));
    expect(err.message).toBe('no gateway address');
    expect(err.hint).toBe('pass --addr, set VECTRA_ADDR, or run `vectra auth login --addr URL`');
    expect(err.exitCode).toBe(2);
  });
});
