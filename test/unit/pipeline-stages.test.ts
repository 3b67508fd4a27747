import { ERROR_CODES } from '../../src/errors';
import { buildStages, STAGE_ORDER, STAGES } from '../../src/pipeline/stages';

const deps = {
  authenticator: { authenticate: async () => Promise.reject(new Error('unused')) },
  vaults: {
    matchService: async () => undefined,
    getVault: async () => Promise.reject(new Error()),
  },
  secrets: { resolve: async () => new Map<string, string>() },
  upstream: {
    send: async () => Promise.reject(new Error()),
    upgrade: async () => Promise.reject(new Error()),
  },
};

describe('pipeline declaration', () => {
  it('declares the stage order of DESIGN.md once', () => {
    expect(STAGE_ORDER).toEqual([
      'authenticate',
      'rateLimit',
      'resolveService',
      'policy',
      'semantic',
      'approval',
      'circuitBreaker',
      'inject',
      'forward',
    ]);
    expect(Object.keys(STAGES)).toEqual([...STAGE_ORDER]);
  });

  it('documents only codes the registry has', () => {
    for (const [name, stage] of Object.entries(STAGES)) {
      expect(stage.decides).not.toBe('');
      for (const code of stage.errors) expect([name, code in ERROR_CODES]).toEqual([name, true]);
    }
  });

  it('builds the stages present now, named and ordered as declared', () => {
    const stages = buildStages(deps);
    expect(stages.map((stage) => stage.name)).toEqual([
      'authenticate',
      'resolveService',
      'inject',
      'forward',
    ]);
    const positions = stages.map((stage) => STAGE_ORDER.indexOf(stage.name as never));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('passes stage options through, validated', () => {
    expect(buildStages(deps, { forward: { timeoutMs: 65_000 } }).at(-1)?.timeoutMs).toBe(65_000);
    expect(() => buildStages(deps, { forward: { timeout: 1 } as never })).toThrow(
      /forward: timeout is not an option/,
    );
  });
});
