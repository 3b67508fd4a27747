import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loginFile, readLogin, removeLogin, saveLogin } from '../../src/client/login-store';
import { tempDir } from '../helpers/temp-dir';

const modeOf = (path: string) => statSync(path).mode & 0o777;
const tempHome = () => tempDir('vectra-home-');
const login = { addr: 'http://127.0.0.1:7080', token: 'vec_adm_x' };

describe('saved login store', () => {
  it('saves ~/.vectra/login.json with the directory 0700 and the file 0600', () => {
    const home = tempHome();
    const env = { HOME: home };
    const file = saveLogin(env, login);
    expect(file).toBe(join(home, '.vectra', 'login.json'));
    expect(modeOf(join(home, '.vectra'))).toBe(0o700);
    expect(modeOf(file)).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(login);
    expect(readLogin(env)).toEqual(login);
  });

  it('keeps 0600 even with a permissive umask', () => {
    const previous = process.umask(0);
    try {
      const env = { HOME: tempHome() };
      const file = saveLogin(env, login);
      expect(modeOf(file)).toBe(0o600);
      expect(modeOf(join(env.HOME, '.vectra'))).toBe(0o700);
    } finally {
      process.umask(previous);
    }
  });

  it('tightens an existing ~/.vectra that others could read', () => {
    const home = tempHome();
    mkdirSync(join(home, '.vectra'));
    chmodSync(join(home, '.vectra'), 0o755);
    saveLogin({ HOME: home }, login);
    expect(modeOf(join(home, '.vectra'))).toBe(0o700);
  });

  it('replaces an existing file, still 0600', () => {
    const env = { HOME: tempHome() };
    saveLogin(env, login);
    chmodSync(loginFile(env), 0o644);
    saveLogin(env, { ...login, token: 'vec_adm_y' });
    expect(modeOf(loginFile(env))).toBe(0o600);
    expect(readLogin(env)?.token).toBe('vec_adm_y');
  });

  it('VECTRA_CONFIG_HOME replaces ~/.vectra', () => {
    const home = tempHome();
    const dir = join(home, 'elsewhere');
    const env = { HOME: home, VECTRA_CONFIG_HOME: dir };
    expect(saveLogin(env, login)).toBe(join(dir, 'login.json'));
    expect(modeOf(dir)).toBe(0o700);
    expect(readLogin({ HOME: home })).toBeUndefined();
    expect(readLogin(env)).toEqual(login);
  });

  it('no file: no login; a damaged file: an error naming it and the way out', () => {
    const env = { HOME: tempHome() };
    expect(readLogin(env)).toBeUndefined();
    mkdirSync(join(env.HOME, '.vectra'));
    writeFileSync(loginFile(env), '{"addr": 1');
    expect(() => readLogin(env)).toThrow(
      `${loginFile(env)} is damaged; run \`vectra auth logout\``,
    );
  });

  it('logout removes the file, and says whether there was one', () => {
    const env = { HOME: tempHome() };
    saveLogin(env, login);
    expect(removeLogin(env)).toBe(true);
    expect(readLogin(env)).toBeUndefined();
    expect(removeLogin(env)).toBe(false);
  });
});
