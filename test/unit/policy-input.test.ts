import { fieldReader, readField, resolveField } from '../../src/policy/fields';
import { buildPolicyInput } from '../../src/policy/input';

const parts = () => ({
  agent: { name: 'bot', id: 'a-1' },
  vault: 'prod',
  method: 'get',
  scheme: 'https' as const,
  host: 'API.Example.com.',
  port: 443,
  target: '/v1/items?page=2&tag=a&tag=b',
  headers: { Accept: 'application/json', authorization: 'Bearer sk_live_planted' },
  body: { size: 0 },
  service: 'api',
  now: Date.UTC(2026, 10, 23, 14, 5),
});

describe('policy input', () => {
  it('holds the normalised request, query and redacted headers as plain data', () => {
    const input = buildPolicyInput(parts());
    const json = JSON.parse(JSON.stringify(input)) as typeof input;
    expect(json.request).toEqual({
      method: 'GET',
      scheme: 'https',
      host: 'api.example.com',
      port: 443,
      path: '/v1/items',
      bodySize: 0,
      query: { page: '2', tag: ['a', 'b'] },
      headers: { accept: 'application/json', authorization: '[REDACTED]' },
    });
    expect({ ...input.request }.query).toEqual({ page: '2', tag: ['a', 'b'] });
    expect(Object.keys(input.request)).toEqual(expect.arrayContaining(['query', 'headers']));
    expect(JSON.stringify(input)).not.toContain('sk_live_planted');
    expect(input.time).toEqual({ hour: 14, weekday: 'Monday' });
  });

  it('keeps query names that Object.prototype also has as plain values', () => {
    const input = buildPolicyInput({
      ...parts(),
      target: '/x?constructor=1&toString=a&toString=b&__proto__=p&__proto__=q',
    });
    expect(input.request.query).toEqual({ constructor: '1', toString: ['a', 'b'] });
    expect(Object.getPrototypeOf(input.request.query)).toBe(Object.prototype);
  });
});

describe('field readers', () => {
  const fields = [
    'agent.name',
    'agent.id',
    'vault',
    'request.method',
    'request.scheme',
    'request.host',
    'request.port',
    'request.path',
    'request.bodySize',
    'request.body',
    'request.body.items.0.id',
    'request.headers.accept',
    'request.headers.constructor',
    'request.query.tag',
    'request.query.__proto__',
    'service.name',
    'time.hour',
    'time.weekday',
  ];

  it('read exactly what the generic walker reads, also for absent and inherited names', () => {
    const withBody = buildPolicyInput({
      ...parts(),
      body: { size: 20, json: { items: [{ id: 7 }] } },
    });
    const anonymous = buildPolicyInput({
      ...parts(),
      agent: { name: null, id: null },
      vault: null,
      service: null,
    });
    for (const input of [buildPolicyInput(parts()), withBody, anonymous]) {
      for (const name of fields) {
        const field = resolveField(name);
        if (typeof field === 'string') throw new Error(field);
        expect([name, fieldReader(field.segments)(input)]).toEqual([
          name,
          readField(input, field.segments),
        ]);
      }
    }
    const input = buildPolicyInput(parts());
    const header = resolveField('request.headers.constructor');
    if (typeof header === 'string') throw new Error(header);
    expect(fieldReader(header.segments)(input)).toBeUndefined();
  });
});
