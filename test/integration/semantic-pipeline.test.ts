/**
 * Risk scoring and the approval gate in the real pipeline runner, with the real vault of a test
 * gateway, a real upstream on port 0 and the stages ordered by STAGE_ORDER. The policy stage is
 * another issue's work: a stand-in named `policy` denies `/forbidden` and marks `/export` Hitl,
 * and the runner is wrapped with the recordDenial hook exactly as the gateway is to wire it.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../../src/errors';
import type { Gateway } from '../../src/gateway';
import { createAgentAuthenticator } from '../../src/identity/agent-auth';
import { silentLogger } from '../../src/observability/types';
import { testContext } from '../helpers/context';
import { createPipeline, type Pipeline } from '../../src/pipeline/runner';
import { STAGE_ORDER } from '../../src/pipeline/stages';
import { createApprovalStage, type PolicyVerdict } from '../../src/pipeline/stages/approval';
import { createAuthenticateStage } from '../../src/pipeline/stages/authenticate';
import { createForwardStage } from '../../src/pipeline/stages/forward';
import { createInjectStage } from '../../src/pipeline/stages/inject';
import { createResolveServiceStage } from '../../src/pipeline/stages/resolve-service';
import { createSemanticStage, riskOf } from '../../src/pipeline/stages/semantic';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../../src/pipeline/types';
import { type HeaderMap } from '../../src/http/types';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { agentOf, countsAsDenial, createDenialHistory } from '../../src/semantic/denials';
import { createRiskScorer } from '../../src/semantic/scorer';
import { startTestGateway } from '../helpers/gateway';

const nodeHttpUpstream: UpstreamClient = {
  send: (request) =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ ...request, agent: false, headers: request.headers }, (res) =>
        resolve({ status: res.statusCode ?? 502, headers: res.headers as HeaderMap, body: res }),
      );
      req.on('error', reject);
      req.end();
    }),
  upgrade: () => Promise.reject(new Error('no upgrades in this test')),
  close: async () => undefined,
};

describe('semantic and approval stages in the pipeline', () => {
  let gateway: Gateway;
  let pipeline: Pipeline;
  let token: string;
  let port: number;
  let clock = 1_000_000;
  const received: string[] = [];
  const upstream = createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  const denials = createDenialHistory({ now: () => clock });

  // Stand-in for the policy stage: it leaves its verdict on the request, as the real one does.
  const policy = async function policy(ctx: RequestContext): Promise<Decision> {
    if (ctx.request.path.startsWith('/forbidden')) {
      return { kind: 'deny', error: new GatewayError('VEC_POLICY_DENIED', 'No forbidden paths.') };
    }
    const hitl = ctx.request.path.startsWith('/export');
    const decision: PolicyVerdict = hitl
      ? { effect: 'Hitl', reason: 'Exports need approval.' }
      : { effect: 'Allow' };
    ctx.policy = { decision, input: {} } as unknown as RequestContext['policy'];
    return CONTINUE;
  } as Stage;

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    port = (upstream.address() as AddressInfo).port;
    gateway = await startTestGateway({ Semantic__Enabled: 'true' });
    const { vaults, config } = gateway;
    await vaults.createVault({ name: 'ops', unmatchedHosts: 'deny' });
    await vaults.createService('ops', {
      name: 'api',
      host: `127.0.0.1:${port}`,
      scheme: 'http',
      auth: { type: 'passthrough' },
    });
    token = (await gateway.identity.createAgent({ name: 'ops-bot', vaults: ['ops'] })).token;
    const authenticator = createAgentAuthenticator(config.Security.AgentAuth, gateway.identity);
    // Built one by one rather than by buildStages, whose dependencies grow as issue 5 lands.
    const scorer = createRiskScorer(config.Semantic, { logger: silentLogger, denials });
    const stages = [
      createAuthenticateStage({}, { authenticator }),
      createResolveServiceStage({}, { vaults }),
      createInjectStage({}, { secrets: gateway.secrets }),
      createForwardStage({}, { upstream: nodeHttpUpstream }),
      policy,
      // The wiring the lead adds to buildStages, from the gateway's config slices.
      createSemanticStage({}, { scorer }),
      createApprovalStage({
        enabled: config.HumanInTheLoop.Enabled,
        threshold: config.HumanInTheLoop.Threshold,
      }),
    ];
    const order = (s: Stage) => STAGE_ORDER.indexOf(s.name as (typeof STAGE_ORDER)[number]);
    const run = createPipeline(
      stages.sort((a, b) => order(a) - order(b)),
      { logger: silentLogger },
    );
    // The recordDenial hook, as the gateway wraps its pipeline.
    pipeline = async (ctx) => {
      const decision = await run(ctx);
      const agent = agentOf(ctx);
      if (decision.kind === 'deny' && agent && countsAsDenial(decision.error)) {
        denials.recordDenial(agent);
      }
      return decision;
    };
  });

  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await gateway?.close();
  });

  beforeEach(() => (received.length = 0));

  function context(method: string, path: string): RequestContext {
    return testContext({
      credentials: { token, vault: 'ops' },
      request: { method, scheme: 'http', host: '127.0.0.1', port, path },
      now: () => clock,
    });
  }

  it('GET /repos/x/y is scored low and forwarded', async () => {
    const ctx = context('GET', '/repos/x/y');
    expect(await pipeline(ctx)).toEqual({ kind: 'continue' });
    expect(riskOf(ctx)?.score).toBeLessThan(0.3);
    expect(received).toEqual(['GET /repos/x/y']);
    expect(ctx.audit.decision).toBe('allow');
  });

  it('DELETE /admin/users/all is held: 403 VEC_APPROVAL_REQUIRED, nothing sent upstream', async () => {
    const ctx = context('DELETE', '/admin/users/all');
    const decision = await pipeline(ctx);
    expect(decision.kind).toBe('deny');
    const error = (decision as { error: GatewayError }).error;
    expect(error.toJSON()).toMatchObject({
      code: 'VEC_APPROVAL_REQUIRED',
      statusCode: 403,
      risk: 0.86,
    });
    expect(error.message).toMatch(/^A human must approve this request: its risk score 0\.86 /);
    expect(received).toEqual([]);
    // The same sentence is the audit row's reason; a hold is not counted as a refusal.
    expect(ctx.audit).toEqual({
      decision: 'deny',
      errorCode: 'VEC_APPROVAL_REQUIRED',
      reason: error.message,
    });
    expect(denials.recentDenials('ops-bot')).toBe(0);
  });

  it('a Hitl policy verdict is held with the policy reason', async () => {
    const ctx = context('GET', '/export/report');
    const decision = (await pipeline(ctx)) as { error: GatewayError };
    expect(decision.error.message).toBe(
      'A human must approve this request: the policy asks for review (Exports need approval).',
    );
    expect(received).toEqual([]);
  });

  it("an agent's refusals raise its next scores until they age out", async () => {
    const borderline = () => context('DELETE', '/users/7');
    const first = borderline();
    expect(await pipeline(first)).toEqual({ kind: 'continue' });
    expect(riskOf(first)?.score).toBe(0.7);

    for (let i = 0; i < 3; i++) {
      const probe = await pipeline(context('GET', '/forbidden/x'));
      expect((probe as { error: GatewayError }).error.code).toBe('VEC_POLICY_DENIED');
    }
    expect(denials.recentDenials('ops-bot')).toBe(3);

    const held = borderline();
    const decision = (await pipeline(held)) as { error: GatewayError };
    expect(decision.error.code).toBe('VEC_APPROVAL_REQUIRED');
    expect(decision.error.message).toContain(
      'the agent was refused 3 times in the last 10 minutes',
    );

    clock += 10 * 60_000;
    expect(await pipeline(borderline())).toEqual({ kind: 'continue' });
  });
});
