import { UsageError } from '../../src/client/api-client';
import { authFromFlags, describeAuth, parseHeaderTemplates } from '../../src/cli/service-command';

describe('service add: auth scheme from flags', () => {
  it.each([
    [
      { auth: 'bearer', credential: 'K' },
      { type: 'bearer', credential: 'K' },
    ],
    [
      { auth: 'basic', username: 'U', password: 'P' },
      { type: 'basic', username: 'U', password: 'P' },
    ],
    [
      { auth: 'api-key', header: 'X-Api-Key', credential: 'K' },
      { type: 'api-key', header: 'X-Api-Key', credential: 'K' },
    ],
    [
      { auth: 'api-key', header: 'Authorization', credential: 'K', prefix: 'Token ' },
      { type: 'api-key', header: 'Authorization', credential: 'K', prefix: 'Token ' },
    ],
    [
      { auth: 'custom', setHeader: ['X-Api-Key: {{ A }}', 'X-Org:org-{{ B }}'] },
      { type: 'custom', headers: { 'X-Api-Key': '{{ A }}', 'X-Org': 'org-{{ B }}' } },
    ],
    [
      { auth: 'query', param: 'key', credential: 'K' },
      { type: 'query', param: 'key', credential: 'K' },
    ],
    [{ auth: 'passthrough' }, { type: 'passthrough' }],
  ] as const)('%j', (flags, auth) => {
    expect(authFromFlags({ ...flags } as any)).toEqual(auth);
  });

  it.each([
    [{ auth: 'bearer' }, '--auth bearer needs --credential'],
    [{ auth: 'basic', username: 'U' }, '--auth basic needs --password'],
    [{ auth: 'api-key', credential: 'K' }, '--auth api-key needs --header'],
    [{ auth: 'custom' }, '--auth custom needs --set-header'],
    [{ auth: 'query', credential: 'K' }, '--auth query needs --param'],
    [{ auth: 'bearer', credential: 'K', prefix: 'x' }, '--prefix does not apply to --auth bearer'],
    [{ auth: 'passthrough', credential: 'K' }, '--credential does not apply to --auth passthrough'],
    [
      { auth: 'custom', setHeader: ['X: {{ A }}'], header: 'Y' },
      '--header does not apply to --auth custom',
    ],
  ] as const)('%j is refused: %s', (flags, message) => {
    expect(() => authFromFlags({ ...flags } as any)).toThrow(new UsageError(message));
  });

  it('a header template must be `Name: template`', () => {
    for (const bad of ['X-Api-Key', ': {{ A }}', 'X-Api-Key:  ']) {
      expect(() => parseHeaderTemplates([bad])).toThrow("--set-header wants 'Name: template'");
    }
  });

  it('describes each scheme by credential keys', () => {
    expect(describeAuth({ type: 'bearer', credential: 'K' })).toBe('bearer {{ K }}');
    expect(describeAuth({ type: 'api-key', header: 'X', credential: 'K', prefix: 'T ' })).toBe(
      'api-key X: T {{ K }}',
    );
    expect(describeAuth({ type: 'query', param: 'p', credential: 'K' })).toBe('query ?p={{ K }}');
  });
});
