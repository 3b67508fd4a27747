import { GatewayError } from '../../src/errors';
import { agentOf, countsAsDenial, createDenialHistory } from '../../src/semantic/denials';

describe('recent denials history', () => {
  it('counts refusals within the window, per agent', () => {
    let now = 0;
    const history = createDenialHistory({ now: () => now, windowMs: 1000 });
    history.recordDenial('a');
    now = 500;
    history.recordDenial('a');
    history.recordDenial('b');
    expect(history.recentDenials('a')).toBe(2);
    expect(history.recentDenials('b')).toBe(1);
    expect(history.recentDenials('nobody')).toBe(0);
    now = 1000; // the first one is exactly one window old: gone
    expect(history.recentDenials('a')).toBe(1);
    now = 1500;
    expect(history.recentDenials('a')).toBe(0);
  });

  it('is a ring: it remembers the last `perAgent` refusals', () => {
    let now = 0;
    const history = createDenialHistory({ now: () => now, perAgent: 3, windowMs: 100 });
    for (let i = 0; i < 10; i++) {
      now = i * 10;
      history.recordDenial('a');
    }
    // Ten refusals within the window, but the ring holds only the last three: 70, 80 and 90.
    expect(history.recentDenials('a')).toBe(3);
    now = 175; // the window starts after 75: only 80 and 90 remain
    expect(history.recentDenials('a')).toBe(2);
  });

  it('forgets the least recently refused agent beyond maxAgents', () => {
    const history = createDenialHistory({ now: () => 0, maxAgents: 2 });
    history.recordDenial('a');
    history.recordDenial('b');
    history.recordDenial('a'); // a is now the most recent
    history.recordDenial('c'); // b goes
    expect(['a', 'b', 'c'].map((x) => history.recentDenials(x))).toEqual([2, 0, 1]);
  });

  it.each([{ windowMs: 0 }, { perAgent: 1.5 }, { maxAgents: -1 }])(
    'refuses bad options %j at construction',
    (options) => {
      expect(() => createDenialHistory(options)).toThrow(
        expect.objectContaining({ code: 'VEC_CONFIG_INVALID' }),
      );
    },
  );

  it('keys by agent name: tokens and sessions of one agent share a history', () => {
    expect(
      agentOf({ principal: { kind: 'agent', agentId: 'id1', agentName: 'bot', vaults: [] } }),
    ).toBe('bot');
    const session = { kind: 'session', sessionId: 's1', vault: 'v', expiresAt: '' } as const;
    expect(agentOf({ principal: { ...session, agentName: 'bot' } })).toBe('bot');
    expect(agentOf({ principal: { ...session, agentName: null } })).toBe('session:s1');
    expect(agentOf({})).toBeUndefined();
  });

  it.each([
    ['VEC_POLICY_DENIED', true],
    ['VEC_UPSTREAM_BLOCKED', true],
    ['VEC_UNMATCHED_HOST_DENIED', true],
    ['VEC_TUNNEL_HOST_MISMATCH', true],
    ['VEC_APPROVAL_REQUIRED', false],
    ['VEC_RATE_LIMITED', false],
    ['VEC_PROXY_AUTH_REQUIRED', false],
    ['VEC_PIPELINE_STAGE_FAILED', false],
    ['VEC_POLICY_UNAVAILABLE', false],
  ] as const)('%s counts as a denial: %s', (code, counts) => {
    expect(countsAsDenial(new GatewayError(code))).toBe(counts);
  });
});
