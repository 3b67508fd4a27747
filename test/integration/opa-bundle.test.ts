/**
 * The Rego bundle in policies/opa decides as the shipped JSON policies in policies/*.json: the
 * same requests go through both providers, and the decisions (effect, reason, policy, rule,
 * risk) are equal, and so is what the real gateway answers (status and VEC_ code).
 *
 * WHICH OPA: a real `opa` binary when one is on PATH (or named by VECTRA_OPA_BIN). Where there
 * is none, and none can be installed on this project's machines (no npm or Debian package ships
 * OPA), OPA is played by a STAND-IN (test/helpers/opa-bundle.ts) that speaks OPA's Data API and
 * restates the Rego rule by rule. Against the stand-in this test proves the gateway's side and
 * the logic the Rego spells out, not that OPA evaluates the .rego files as written; the suite's
 * title says which one ran.
 *
 * Requests whose decision is Allow are sent through the gateway only to the loopback upstream
 * (an allowed request to api.prod.example.com would go out to the network); their decisions
 * are still compared at the engine level.
 */
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { silentLogger } from '../../src/observability/types';
import { describedRequestInput } from '../../src/policy/input';
import { createInternalEngine } from '../../src/policy/internal-engine';
import { createOpaEngine } from '../../src/policy/opa-engine';
import type { PolicyEffect, PolicyEngine } from '../../src/policy/types';
import { REPO_ROOT, startTestGateway } from '../helpers/gateway';
import { BUNDLE_PATH, opaBinary, opaForBundle, type BundleOpa } from '../helpers/opa-bundle';
import { answerTo, type ProxyAnswer } from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import cases from '../fixtures/policy-decision-cases.json';

/** `UPSTREAM` stands for the loopback upstream (127.0.0.1:<its port>). */
const UPSTREAM = 'upstream';

interface Case {
  method: string;
  host: string;
  /** Path and query, sent as written (the gateway normalises it before any policy sees it). */
  target: string;
  expected: PolicyEffect;
  /** A body that is not JSON, as text/plain. */
  text?: string;
  /** Why the group of cases it starts is there. */
  why?: string;
}

/**
 * The shared requests (test/fixtures/policy-decision-cases.json): every method, production hosts
 * and near misses, /export in any case and in spellings the gateway normalises. `why` notes a
 * group's reason; host `upstream` stands for the loopback upstream.
 */
const CASES = cases as Case[];

const VAULT = 'bundle';
const NOW = Date.UTC(2030, 0, 7, 9);

const label = (c: Case) => `${c.method} ${c.host}${c.target}${c.text ? ' (text body)' : ''}`;

const bundle = opaBinary() ? 'a real opa binary' : 'the OPA stand-in (no opa binary here)';

describe(`the Rego bundle in policies/opa, served by ${bundle}, decides as policies/*.json`, () => {
  let opa: BundleOpa;
  let upstream: TestUpstream;
  let internal: PolicyEngine;
  let rego: PolicyEngine;
  const hostOf = (c: Case) =>
    c.host === UPSTREAM ? `127.0.0.1:${new URL(upstream.httpUrl).port}` : c.host;
  const urlOf = (c: Case) => `http://${hostOf(c)}${c.target}`;

  beforeAll(async () => {
    [opa, upstream] = await Promise.all([opaForBundle(), startUpstream()]);
    internal = await createInternalEngine({
      directory: join(REPO_ROOT, 'policies'),
      logger: silentLogger,
      watch: false,
    });
    rego = createOpaEngine({
      baseUrl: opa.url,
      path: BUNDLE_PATH,
      timeoutMs: 10_000,
      failOpen: false,
      unreadableBody: 'AskOpa',
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await internal?.close();
    await rego?.close();
    await opa?.close();
    await upstream?.close();
  });

  it('has varied cases: every method, both production globs, each effect', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    const methods = new Set(CASES.map((c) => c.method));
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(methods).toContain(m);
    }
    expect(new Set(CASES.map((c) => c.expected))).toEqual(new Set(['Allow', 'Deny', 'Hitl']));
  });

  it.each(CASES.map((c) => [label(c), c] as const))(
    'decides %s alike: effect, reason, policy, rule and risk',
    async (_name, c) => {
      const input = describedRequestInput({
        agent: 'bot',
        vault: VAULT,
        method: c.method,
        url: urlOf(c),
        body: c.text ? { size: c.text.length, unreadable: 'not-json' } : { size: 0 },
        now: NOW,
      });
      const expected = await internal.evaluate(input);
      expect(expected.effect).toBe(c.expected);
      expect(await rego.evaluate(input)).toEqual(expected);
    },
  );

  describe('through the real gateway (forward proxy, absolute-form)', () => {
    let json: Gateway;
    let viaOpa: Gateway;
    const tokens = new Map<Gateway, string>();

    const gatewayFor = async (env: NodeJS.ProcessEnv): Promise<Gateway> => {
      const gateway = await startTestGateway({
        System__Proxy__NetworkAllowlist: '127.0.0.0/8',
        System__RateLimit__DefaultRequestsPerMinute: '1000',
        HumanInTheLoop__MaxPendingPerAgent: String(CASES.length),
        ...env,
      });
      await gateway.vaults.createVault({ name: VAULT, unmatchedHosts: 'passthrough' });
      const { token } = await gateway.identity.createAgent({ name: 'bot', vaults: [VAULT] });
      tokens.set(gateway, token);
      return gateway;
    };

    beforeAll(async () => {
      json = await gatewayFor({
        Policy__DefaultProvider: 'Internal',
        Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
      });
      viaOpa = await gatewayFor({
        Policy__DefaultProvider: 'Opa',
        Policy__Providers__Opa__BaseUrl: opa.url,
        Policy__Providers__Opa__Path: BUNDLE_PATH,
        Policy__Providers__Opa__UnreadableBody: 'AskOpa',
      });
    });
    afterAll(async () => {
      await json?.close();
      await viaOpa?.close();
    });

    /** One request through `gateway`'s forward proxy: its status and X-Vectra-Error. */
    const send = (gateway: Gateway, c: Case): Promise<ProxyAnswer> => {
      const proxy = new URL(gateway.urls.proxy);
      const auth = Buffer.from(`${tokens.get(gateway)}:${VAULT}`).toString('base64');
      const req = httpRequest({
        host: proxy.hostname,
        port: Number(proxy.port),
        method: c.method,
        path: urlOf(c),
        headers: {
          host: hostOf(c),
          'proxy-authorization': `Basic ${auth}`,
          ...(c.text ? { 'content-type': 'text/plain' } : {}),
        },
      });
      return answerTo(req, c.text);
    };

    const ANSWER: Record<PolicyEffect, ProxyAnswer> = {
      Allow: { status: 200, code: undefined },
      Deny: { status: 403, code: 'VEC_POLICY_DENIED' },
      // testEnv holds approvals for 0 s: a Hitl decision is answered pending at once.
      Hitl: { status: 403, code: 'VEC_APPROVAL_PENDING' },
    };
    const sendable = CASES.filter((c) => c.host === UPSTREAM || c.expected !== 'Allow');

    it.each(sendable.map((c) => [label(c), c] as const))('answers %s alike', async (_name, c) => {
      const before = upstream.received.length;
      const answers = [await send(json, c), await send(viaOpa, c)];
      expect(answers).toEqual([ANSWER[c.expected], ANSWER[c.expected]]);
      expect(upstream.received.length - before).toBe(c.expected === 'Allow' ? 2 : 0);
    });
  });
});
