import type { LookupAddress } from 'node:dns';
import { ConfigError } from '../../src/errors';
import { createSsrfGuard, METADATA_ADDRESSES, type HostLookup } from '../../src/proxy/ssrf-guard';
import { rejection as refusal } from '../helpers/errors';

/** A DNS that answers from a table and counts its calls. */
function fakeDns(table: Record<string, string[]>): HostLookup & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (host: string): Promise<LookupAddress[]> => {
    calls.push(host);
    const answer = table[host];
    if (!answer)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
}

describe('SSRF guard: which addresses are blocked', () => {
  const guard = createSsrfGuard({ allowlist: '' });

  it.each([
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.170.2', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['168.63.129.16', 'cloud metadata'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::a9fe:a9fe', 'cloud metadata'],
    ['2002:a9fe:a9fe::', 'cloud metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fd12:3456::1', 'private (unique local)'],
    ['fc00::1', 'private (unique local)'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'CGNAT (shared)'],
    ['100.127.255.255', 'CGNAT (shared)'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved or broadcast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['198.18.0.1', 'reserved (benchmarking)'],
    ['192.0.2.1', 'reserved (documentation)'],
    ['2001:db8::1', 'reserved (documentation)'],
    ['::127.0.0.1', 'IPv4-compatible IPv6 carrying a loopback IPv4'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated IPv6 carrying a private IPv4'],
    ['64:ff9b::7f00:1', 'NAT64 IPv6 carrying a loopback IPv4'],
    ['64:ff9b:1::1', 'private (local-use NAT64)'],
    ['2002:c0a8:0101::1', '6to4 IPv6 carrying a private IPv4'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo IPv6 carrying a loopback IPv4'],
  ])('%s is blocked (%s)', (address, kind) => {
    expect(guard.check(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is a public address and may be dialled', (address) => {
    expect(guard.check(address)).toBeUndefined();
  });

  it('lists every metadata address it blocks', () => {
    for (const address of METADATA_ADDRESSES) expect(guard.check(address)).toBe('cloud metadata');
  });
});

describe('SSRF guard: the allow-list', () => {
  it('lets allow-listed ranges through, including their IPv4-mapped form', () => {
    const guard = createSsrfGuard({ allowlist: '127.0.0.0/8, 10.0.0.0/8,fd00::/8' });
    expect(guard.check('127.0.0.1')).toBeUndefined();
    expect(guard.check('::ffff:127.0.0.1')).toBeUndefined();
    expect(guard.check('10.9.8.7')).toBeUndefined();
    expect(guard.check('fd12::1')).toBeUndefined();
    expect(guard.check('192.168.0.1')).toBe('private');
    expect(guard.check('::1')).toBe('loopback');
  });

  it('never opens a metadata address, even inside an allowed range', () => {
    const guard = createSsrfGuard({
      allowlist: '169.254.0.0/16,100.64.0.0/10,fd00::/8,::/0,0.0.0.0/0',
    });
    expect(guard.check('169.254.1.1')).toBeUndefined();
    for (const address of METADATA_ADDRESSES) expect(guard.check(address)).toBe('cloud metadata');
    expect(guard.check('::ffff:169.254.169.254')).toBe('cloud metadata');
    expect(guard.check('64:ff9b::169.254.169.254')).toBe('cloud metadata');
  });

  it('needs an IPv6 CIDR to open an IPv6 form that carries an allowed IPv4 address', () => {
    const v4only = createSsrfGuard({ allowlist: '127.0.0.0/8' });
    expect(v4only.check('2002:7f00:1::')).toBe('6to4 IPv6 carrying a loopback IPv4');
    expect(v4only.check('::127.0.0.1')).toBe('IPv4-compatible IPv6 carrying a loopback IPv4');
    const withV6 = createSsrfGuard({ allowlist: '127.0.0.0/8,2002:7f00::/24' });
    expect(withV6.check('2002:7f00:1::')).toBeUndefined();
  });

  it.each(['10.0.0.0/33', 'localhost', '10.0.0.0/8,,banana', '::/200'])(
    'refuses a bad allow-list %j as invalid configuration naming the key',
    (allowlist) => {
      let error: unknown;
      try {
        createSsrfGuard({ allowlist });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('VEC_CONFIG_INVALID');
      expect((error as ConfigError).problems[0].key).toBe('System.Proxy.NetworkAllowlist');
      expect((error as ConfigError).message).toContain('System__Proxy__NetworkAllowlist');
    },
  );

  it('accepts an empty allow-list and stray commas', () => {
    expect(() => createSsrfGuard({ allowlist: '' })).not.toThrow();
    expect(createSsrfGuard({ allowlist: ' , 10.0.0.0/8, ' }).check('10.0.0.1')).toBeUndefined();
  });
});

describe('SSRF guard: resolve', () => {
  it('returns every address of a host once all of them are checked', async () => {
    const dns = fakeDns({
      'api.example.test': ['93.184.216.34', '2606:2800:220:1::1', '93.184.216.34'],
    });
    const guard = createSsrfGuard({ allowlist: '', lookup: dns });
    await expect(guard.resolve('api.example.test')).resolves.toEqual([
      '93.184.216.34',
      '2606:2800:220:1::1',
    ]);
    expect(dns.calls).toEqual(['api.example.test']);
  });

  it('blocks the host when ANY address is blocked (DNS rebinding with a mixed answer)', async () => {
    const dns = fakeDns({ 'rebind.test': ['93.184.216.34', '127.0.0.1'] });
    const error = await refusal(
      createSsrfGuard({ allowlist: '', lookup: dns }).resolve('rebind.test'),
    );
    expect(error.code).toBe('VEC_UPSTREAM_BLOCKED');
    expect(error.statusCode).toBe(403);
    expect(error.message).toContain('rebind.test');
    expect(error.message).toContain('loopback');
    expect(error.message).not.toContain('127.0.0.1');
    expect(error.message).toContain('System.Proxy.NetworkAllowlist');
  });

  it('does not suggest the allow-list for a metadata address', async () => {
    const dns = fakeDns({ 'meta.test': ['169.254.169.254'] });
    const guard = createSsrfGuard({ allowlist: '169.254.0.0/16', lookup: dns });
    const error = await refusal(guard.resolve('meta.test'));
    expect(error.code).toBe('VEC_UPSTREAM_BLOCKED');
    expect(error.message).toContain('cloud metadata');
    expect(error.message).not.toContain('NetworkAllowlist');
  });

  it('checks IP literals without asking DNS (brackets allowed)', async () => {
    const dns = fakeDns({});
    const guard = createSsrfGuard({ allowlist: '', lookup: dns });
    await expect(guard.resolve('8.8.8.8')).resolves.toEqual(['8.8.8.8']);
    await expect(guard.resolve('[2606:4700::1111]')).resolves.toEqual(['2606:4700::1111']);
    expect((await refusal(guard.resolve('::ffff:127.0.0.1'))).code).toBe('VEC_UPSTREAM_BLOCKED');
    expect((await refusal(guard.resolve('[::1]'))).code).toBe('VEC_UPSTREAM_BLOCKED');
    expect(dns.calls).toEqual([]);
  });

  it('checks what DNS makes of a non-canonical literal (127.1, 2130706433)', async () => {
    const dns = fakeDns({ '127.1': ['127.0.0.1'], '2130706433': ['127.0.0.1'] });
    const guard = createSsrfGuard({ allowlist: '', lookup: dns });
    expect((await refusal(guard.resolve('127.1'))).code).toBe('VEC_UPSTREAM_BLOCKED');
    expect((await refusal(guard.resolve('2130706433'))).code).toBe('VEC_UPSTREAM_BLOCKED');
  });

  it('reports a DNS failure or an empty answer as unreachable', async () => {
    const empty: HostLookup = async () => [];
    const failing = createSsrfGuard({ allowlist: '', lookup: fakeDns({}) });
    const failure = await refusal(failing.resolve('nowhere.test'));
    expect(failure.code).toBe('VEC_UPSTREAM_UNREACHABLE');
    expect(failure.message).toContain('ENOTFOUND');
    const none = await refusal(createSsrfGuard({ allowlist: '', lookup: empty }).resolve('x.test'));
    expect(none.code).toBe('VEC_UPSTREAM_UNREACHABLE');
  });
});
