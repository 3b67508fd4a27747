import {
  contains,
  embeddedIpv4,
  normalizeMapped,
  parseAddress,
  parseCidr,
  type IpAddress,
} from '../../src/http/cidr';

const parsed = (text: string): IpAddress => {
  const address = parseAddress(text);
  if (!address) throw new Error(`test address ${text} does not parse`);
  return address;
};

describe('parseAddress', () => {
  it.each([
    ['0.0.0.0', 4, 0n],
    ['127.0.0.1', 4, 0x7f000001n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['2001:db8::1', 6, 0x20010db8000000000000000000000001n],
    ['::ffff:127.0.0.1', 6, 0xffff7f000001n],
    ['::FFFF:7f00:1', 6, 0xffff7f000001n],
    ['fe80::1%eth0', 6, 0xfe800000000000000000000000000001n],
    ['1:2:3:4:5:6:7:8', 6, 0x00010002000300040005000600070008n],
  ])('%s → IPv%d %s', (text, family, value) => {
    expect(parseAddress(text)).toEqual({ family, value });
  });

  it.each(['', 'localhost', '127.1', '2130706433', '0x7f.0.0.1', '010.0.0.1', '1.2.3.4.5', ':::'])(
    'refuses %j (not a canonical literal)',
    (text) => {
      expect(parseAddress(text)).toBeUndefined();
    },
  );
});

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', 4, 0x0a000000n, 8],
    ['10.1.2.3/8', 4, 0x0a000000n, 8],
    ['192.168.1.7', 4, 0xc0a80107n, 32],
    [' 0.0.0.0/0 ', 4, 0n, 0],
    ['fc00::/7', 6, 0xfc000000000000000000000000000000n, 7],
    ['::1', 6, 1n, 128],
  ])('%j → IPv%d block', (text, family, value, prefix) => {
    expect(parseCidr(text)).toMatchObject({ family, value, prefix });
  });

  it.each([
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/x',
    '10.0.0/8',
    'example.com/8',
    '',
    'fe80::1%eth0/64',
  ])('refuses %j with a message naming it', (text) => {
    expect(() => parseCidr(text)).toThrow(RangeError);
    expect(() => parseCidr(text)).toThrow(JSON.stringify(text));
  });
});

describe('contains', () => {
  it.each([
    ['127.0.0.0/8', '127.255.0.1', true],
    ['127.0.0.0/8', '128.0.0.1', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['10.0.0.5', '10.0.0.5', true],
    ['10.0.0.5', '10.0.0.6', false],
    ['fc00::/7', 'fd12:3456::1', true],
    ['fc00::/7', 'fe80::1', false],
    ['fe80::/10', 'febf:ffff::1', true],
    ['::/0', '2001:db8::1', true],
    // IPv4-mapped addresses are the IPv4 address, whichever family the block has.
    ['127.0.0.0/8', '::ffff:127.0.0.1', true],
    ['127.0.0.0/8', '::ffff:7f00:1', true],
    ['::ffff:0:0/96', '10.1.2.3', true],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:10.0.0.0/104', '11.1.2.3', false],
    // Other embeddings are not the IPv4 address (see embeddedIpv4).
    ['127.0.0.0/8', '::127.0.0.1', false],
    ['127.0.0.0/8', '2002:7f00:1::', false],
    ['127.0.0.0/8', 'not an address', false],
  ])('%s ∋ %s: %s', (cidr, address, expected) => {
    expect(contains(cidr, address)).toBe(expected);
  });
});

describe('normalizeMapped', () => {
  it('turns ::ffff:a.b.c.d into a.b.c.d and leaves other addresses alone', () => {
    expect(normalizeMapped(parsed('::ffff:169.254.169.254'))).toEqual(parsed('169.254.169.254'));
    expect(normalizeMapped(parsed('::1'))).toEqual(parsed('::1'));
    expect(normalizeMapped(parsed('10.0.0.1'))).toEqual(parsed('10.0.0.1'));
  });
});

describe('embeddedIpv4', () => {
  it.each([
    ['::ffff:127.0.0.1', [['IPv4-mapped', '127.0.0.1']]],
    ['::ffff:0:10.0.0.1', [['IPv4-translated', '10.0.0.1']]],
    ['::127.0.0.1', [['IPv4-compatible', '127.0.0.1']]],
    ['::a9fe:a9fe', [['IPv4-compatible', '169.254.169.254']]],
    ['64:ff9b::169.254.169.254', [['NAT64', '169.254.169.254']]],
    ['64:ff9b::a00:1', [['NAT64', '10.0.0.1']]],
    ['2002:c0a8:0101::1', [['6to4', '192.168.1.1']]],
    ['2002:7f00:1::', [['6to4', '127.0.0.1']]],
    // Teredo: server 65.54.227.120, client 192.0.2.45 stored inverted (RFC 4380 example).
    [
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
      [
        ['Teredo', '65.54.227.120'],
        ['Teredo', '192.0.2.45'],
      ],
    ],
    ['::', []],
    ['::1', []],
    ['2001:db8::1', []],
    ['2606:4700::1111', []],
    ['127.0.0.1', []],
  ])('%s carries %j', (address, expected) => {
    expect(embeddedIpv4(parsed(address)).map((e) => [e.form, e.ipv4])).toEqual(expected);
  });
});
