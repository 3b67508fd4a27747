import { parseTtl } from '../../src/cli/vault-command';

describe('vault token --ttl parsing', () => {
  it.each([
    ['300', 300],
    ['300s', 300],
    ['5m', 300],
    ['90m', 5400],
    ['1h', 3600],
    ['24h', 86400],
    ['7d', 604800],
    [' 2h ', 7200],
  ])('%j is %i seconds', (text, seconds) => {
    expect(parseTtl(text)).toBe(seconds);
  });

  it.each(['', 'h', '1x', '1.5h', '-5m', '5 m', '1h30m', 'abc'])('%j is not a duration', (text) => {
    expect(() => parseTtl(text)).toThrow(/not a duration; use seconds \(300\) or 5m, 1h, 7d/);
  });

  it.each(['299', '4m', '8d', '169h'])('%j is outside 5 minutes to 7 days', (text) => {
    expect(() => parseTtl(text)).toThrow('outside the allowed 5 minutes to 7 days');
  });
});
