import {
  NO_ADDRESS,
  normalizeAddress,
  resolveAddress,
  resolveToken,
  UsageError,
} from '../../src/client/api-client';

const saved = { addr: 'http://saved.example:7080', token: 'vec_adm_saved' };

describe('gateway address: --addr, then VECTRA_ADDR, then the saved login', () => {
  it('--addr wins over everything', () => {
    expect(resolveAddress('http://flag:1', { VECTRA_ADDR: 'http://env:2' }, saved)).toBe(
      'http://flag:1',
    );
  });

  it('VECTRA_ADDR comes next', () => {
    expect(resolveAddress(undefined, { VECTRA_ADDR: 'http://env:2' }, saved)).toBe('http://env:2');
  });

  it('then the saved login', () => {
    expect(resolveAddress(undefined, {}, saved)).toBe('http://saved.example:7080');
  });

  it('none of them: a usage error that says what to do', () => {
    expect(() => resolveAddress(undefined, {}, undefined)).toThrow(UsageError);
    expect(() => resolveAddress(undefined, {}, undefined)).toThrow(NO_ADDRESS);
    expect(NO_ADDRESS).toBe(
      'no gateway address: pass --addr or run `vectra auth login --addr URL`',
    );
  });

  it('is normalized: no trailing slash, a path prefix kept', () => {
    expect(normalizeAddress('http://127.0.0.1:7080/')).toBe('http://127.0.0.1:7080');
    expect(normalizeAddress('https://gw.example/vectra/')).toBe('https://gw.example/vectra');
  });

  it.each(['127.0.0.1:7080', 'localhost:7080', 'ftp://gw', 'not a url', 'http://u:p@gw'])(
    '%j is refused',
    (addr) => {
      expect(() => normalizeAddress(addr)).toThrow(UsageError);
    },
  );
});

describe('admin token: VECTRA_ADMIN_TOKEN, then the saved login', () => {
  it('VECTRA_ADMIN_TOKEN wins', () => {
    expect(resolveToken(saved.addr, { VECTRA_ADMIN_TOKEN: 'vec_adm_env' }, saved)).toBe(
      'vec_adm_env',
    );
  });

  it('then the saved login, for its own address', () => {
    expect(resolveToken('http://saved.example:7080', {}, saved)).toBe('vec_adm_saved');
  });

  it('the saved token never goes to another address', () => {
    expect(() => resolveToken('http://elsewhere:7080', {}, saved)).toThrow(
      /no admin token for http:\/\/elsewhere:7080 \(the saved login is for http:\/\/saved.example:7080\)/,
    );
  });

  it('none: a usage error naming both ways to give one', () => {
    expect(() => resolveToken('http://gw:1', {}, undefined)).toThrow(
      'no admin token for http://gw:1: run `vectra auth login --addr http://gw:1 --token-stdin` or set VECTRA_ADMIN_TOKEN',
    );
  });
});
