import { stripHopByHop } from '../../src/http/hop-by-hop';

describe('stripHopByHop', () => {
  it('drops hop-by-hop headers, the ones Connection names, and x-vectra-*', () => {
    const out = stripHopByHop({
      connection: 'keep-alive, X-Trace',
      'keep-alive': 'timeout=5',
      'x-trace': '1',
      'proxy-authorization': 'Basic abc',
      'transfer-encoding': 'chunked',
      'x-vectra-error': 'VEC_FORGED',
      accept: 'application/json',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(out).toEqual({ accept: 'application/json', 'set-cookie': ['a=1', 'b=2'] });
  });

  it('reads every Connection value, also repeated ones and odd-cased names', () => {
    const out = stripHopByHop({ Connection: ['close', 'X-One'], 'X-One': '1', 'X-Two': '2' });
    expect(out).toEqual({ 'x-two': '2' });
  });

  it('keeps Upgrade for an upgrade and answers it with Connection: Upgrade', () => {
    const out = stripHopByHop(
      { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' },
      { upgrade: true },
    );
    expect(out).toEqual({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' });
  });

  it('copies, and never lets a header named __proto__ replace the prototype', () => {
    const input = JSON.parse('{"__proto__": "x", "accept": "*/*"}') as Record<string, string>;
    const out = stripHopByHop(input);
    expect(out).not.toBe(input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['accept']);
  });
});
