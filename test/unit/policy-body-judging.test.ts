/**
 * How a body is judged for `request.body.*` conditions: JSON found by its content (a UTF-8 BOM
 * and white space skipped, then `{` or `[`) or by its Content-Type, and a body that cannot be
 * judged (over the limit, not JSON) refusing a rule that reads it unless the rule says
 * `"onUnreadableBody": "ignore"` — in the hot path, in the traced walk of dry runs, and in OPA.
 */
import { evaluatePolicies, policySet } from '../../src/policy/evaluate';
import { describedRequestInput, type BodyInfo } from '../../src/policy/input';
import {
  bodyFromBytes,
  bodyFromJson,
  judgeBytes,
  repeatsKey,
  sniffBody,
} from '../../src/policy/json-body';
import { createOpaEngine } from '../../src/policy/opa-engine';
import { compilePolicyDocument, type CompiledPolicy } from '../../src/policy/policy-file';
import type { PolicyInput, PolicyTrace } from '../../src/policy/types';
import { silentLogger } from '../../src/observability/types';
import {
  policyDocument,
  rankedRule,
  rule,
  when,
  type RuleDocument,
} from '../helpers/policy-documents';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const bom = (text: string) => Buffer.concat([BOM, Buffer.from(text)]);

describe('sniffing a body', () => {
  it.each([
    ['{"a":1}', 'json'],
    ['[1]', 'json'],
    [' \t\r\n{', 'json'],
    ['"text"', 'other'],
    ['a=1', 'other'],
    ['', 'blank'],
    [' \n ', 'blank'],
    ['\u00a0{', 'other'], // not JSON white space
  ])('%j is %s', (text, kind) => expect(sniffBody(Buffer.from(text))).toBe(kind));

  it('skips a UTF-8 BOM, only at the start', () => {
    expect(sniffBody(bom('{"a":1}'))).toBe('json');
    expect(sniffBody(bom(' \n[1]'))).toBe('json');
    expect(sniffBody(BOM)).toBe('blank');
    expect(sniffBody(Buffer.concat([Buffer.from(' '), bom('{}')]))).toBe('other');
    expect(sniffBody(Buffer.from([0xef, 0xbb]))).toBe('other');
  });
});

describe('judging a whole body', () => {
  it('parses JSON found by its content, whatever the Content-Type says', () => {
    for (const type of [undefined, 'text/plain', 'application/octet-stream', 'application/json']) {
      expect(judgeBytes(Buffer.from(' {"action":"drop"}'), type)).toEqual({
        size: 18,
        json: { action: 'drop' },
      });
    }
  });

  it('strips a BOM before parsing, and counts it in the size', () => {
    expect(judgeBytes(bom('{"a":[1]}'), 'text/plain')).toEqual({ size: 12, json: { a: [1] } });
    expect(judgeBytes(bom('"s"'), 'application/json')).toEqual({ size: 6, json: 's' });
  });

  it('parses any JSON value when the Content-Type says JSON', () => {
    expect(judgeBytes(Buffer.from('"drop"'), 'application/json')).toEqual({
      size: 6,
      json: 'drop',
    });
    expect(judgeBytes(Buffer.from('true'), 'application/merge-patch+json')).toEqual({
      size: 4,
      json: true,
    });
  });

  it('marks what is not JSON', () => {
    expect(judgeBytes(Buffer.from('action=drop'), 'text/plain')).toEqual({
      size: 11,
      unreadable: 'not-json',
    });
    expect(judgeBytes(Buffer.from('"drop"'), 'text/plain')).toMatchObject({
      unreadable: 'not-json',
    });
    expect(judgeBytes(Buffer.from('{"a":'), 'application/json')).toMatchObject({
      unreadable: 'not-json',
    });
    // Two BOMs: the second is not white space.
    expect(judgeBytes(bom('\uFEFF{}'), 'application/json')).toMatchObject({
      unreadable: 'not-json',
    });
  });

  it('refuses bytes that are not UTF-8 rather than guessing what the upstream decodes', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"action":"dr'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    expect(judgeBytes(bytes, 'application/json')).toMatchObject({ unreadable: 'not-json' });
  });

  it('has nothing to judge in a blank body', () => {
    expect(judgeBytes(Buffer.alloc(0), 'application/json')).toEqual({ size: 0 });
    expect(judgeBytes(bom(' \n'), 'text/plain')).toEqual({ size: 5 });
  });

  it('in dry runs: bytes and JSON values over the limit are too large', () => {
    expect(bodyFromBytes(bom('{"a":1}'), 'text/plain', 100)).toEqual({ size: 10, json: { a: 1 } });
    expect(bodyFromBytes(Buffer.from('{"a":1}'), undefined, 3)).toEqual({
      size: 7,
      unreadable: 'too-large',
    });
    expect(bodyFromJson({ a: 'x'.repeat(10) }, 5)).toMatchObject({ unreadable: 'too-large' });
  });
});

function policy(doc: object): CompiledPolicy {
  const { policy: compiled, problems } = compilePolicyDocument('p.json', doc);
  expect(problems).toEqual([]);
  return compiled!;
}

const drops = (extra: Record<string, unknown> = {}) =>
  rule(
    'no-drops',
    'Deny',
    'No drops',
    [when('method', 'eq', 'POST'), when('body.action', 'eq', 'drop')],
    extra,
  );

function input(body: BodyInfo, method = 'POST'): PolicyInput {
  return describedRequestInput({
    agent: 'bot',
    vault: 'team',
    method,
    url: 'https://api.example.com/items',
    body,
    now: 0,
  });
}

/** The decision both ways (hot path and traced walk), which must agree. */
function decide(policies: CompiledPolicy[], request: PolicyInput) {
  const set = policySet(policies);
  const trace: PolicyTrace[] = [];
  const walked = evaluatePolicies(set, request, trace);
  expect(evaluatePolicies(set, request)).toEqual(walked);
  return { decision: walked, trace };
}

describe('a rule that reads the body', () => {
  const guard = policy(policyDocument('guard', 'Allow', [drops()]));

  it('refuses a body it cannot judge, saying why', () => {
    for (const why of ['too-large', 'not-json'] as const) {
      const { decision, trace } = decide([guard], input({ size: 10, unreadable: why }));
      expect(decision).toMatchObject({
        effect: 'Deny',
        policy: 'guard',
        rule: 'no-drops',
        unreadableBody: why,
      });
      expect(decision.reason).toMatch(/could not be judged \(the request body is/);
      expect(trace[0].rules?.[0]).toMatchObject({ matched: false, failed: expect.any(String) });
    }
  });

  it('is not refused when a condition before it already fails', () => {
    const { decision } = decide([guard], input({ size: 10, unreadable: 'not-json' }, 'PUT'));
    expect(decision).toMatchObject({ effect: 'Allow' });
    expect(decision.unreadableBody).toBeUndefined();
  });

  it('judges a readable body, and no body at all, as before', () => {
    expect(decide([guard], input({ size: 17, json: { action: 'drop' } })).decision.effect).toBe(
      'Deny',
    );
    const none = decide([guard], input({ size: 0 })).decision;
    expect(none.effect).toBe('Allow');
  });

  it('with "onUnreadableBody": "ignore", judges it as absent', () => {
    const lenient = policy(
      policyDocument('lenient', 'Allow', [drops({ onUnreadableBody: 'ignore' })]),
    );
    const { decision } = decide([lenient], input({ size: 10, unreadable: 'too-large' }));
    expect(decision.effect).toBe('Allow');
  });

  it('a higher rule that decides first leaves the body unjudged', () => {
    const ordered = policy(
      policyDocument('ordered', 'Deny', [
        rankedRule(10, 'uploads', 'Allow', 'Uploads are fine', [when('path', 'eq', '/items')]),
        drops(),
      ]),
    );
    const { decision } = decide([ordered], input({ size: 10, unreadable: 'not-json' }));
    expect(decision).toMatchObject({ effect: 'Allow', rule: 'uploads' });
  });

  it('onUnreadableBody is checked when the policy loads', () => {
    const problems = (ruleDoc: RuleDocument) =>
      compilePolicyDocument('p.json', policyDocument('p', 'Allow', [ruleDoc])).problems.map(
        (p) => `${p.path}: ${p.message}`,
      );
    expect(problems(drops({ onUnreadableBody: 'allow' }))).toEqual([
      'rules[0].onUnreadableBody: must be one of refuse, ignore',
    ]);
    expect(
      problems(rule('r', 'Deny', 'x', [when('path', 'eq', '/')], { onUnreadableBody: 'ignore' })),
    ).toEqual(['rules[0].onUnreadableBody: applies only to a rule with a request.body condition']);
    expect(problems(drops({ onUnreadableBody: 'refuse' }))).toEqual([]);
  });
});

describe('OPA and a body it cannot judge', () => {
  function opa(unreadableBody?: 'Refuse' | 'AskOpa') {
    const asked: unknown[] = [];
    const engine = createOpaEngine({
      baseUrl: 'http://opa.test:8181',
      path: 'vectra/authz',
      timeoutMs: 1000,
      failOpen: false,
      unreadableBody,
      logger: silentLogger,
      fetch: (async (_url: string, init: RequestInit) => {
        asked.push(JSON.parse(String(init.body)));
        return new Response('{"result":true}', { status: 200 });
      }) as typeof fetch,
    });
    return { engine, asked };
  }

  it('refuses it without asking OPA by default', async () => {
    const { engine, asked } = opa();
    const decision = await engine.evaluate(input({ size: null, unreadable: 'too-large' }));
    expect(decision).toMatchObject({ effect: 'Deny', unreadableBody: 'too-large' });
    expect(decision.reason).toMatch(/^The request body is larger than Policy.MaxBodyBytes/);
    expect(asked).toHaveLength(0);
    expect((await engine.evaluate(input({ size: 3, json: [1] }))).effect).toBe('Allow');
  });

  it('asks OPA, which sees why, with UnreadableBody AskOpa', async () => {
    const { engine, asked } = opa('AskOpa');
    const decision = await engine.evaluate(input({ size: 3, unreadable: 'not-json' }));
    expect(decision.effect).toBe('Allow');
    expect(asked).toMatchObject([{ input: { request: { bodyUnreadable: 'not-json' } } }]);
  });
});

describe('repeatsKey: an object naming a key twice', () => {
  it.each([
    ['{"a":1,"a":2}'],
    ['{"a":1,"\\u0061":2}'],
    ['[{"x":{"a":1}},{"b":[1,{"c":1,"c":1}]}]'],
    [' { "a" : "}" , "a" : "{" } '],
  ])('finds it in %s', (text) => {
    expect(repeatsKey(text)).toBe(true);
    expect(judgeBytes(Buffer.from(text), 'application/json')).toMatchObject({
      unreadable: 'repeated-key',
    });
  });

  it.each([
    ['{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}'],
    ['{"a":"\\"a\\"","\\"a\\"":"a"}'],
    ['{"a,":1,"a":",a"}'],
    ['["a","a",{"a":"a"}]'],
    ['"a"'],
  ])('finds none in %s', (text) => {
    expect(repeatsKey(text)).toBe(false);
  });
});
