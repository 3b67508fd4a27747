import { createDenialHistory } from '../../src/semantic/denials';
import { combine, describeFactors, explain } from '../../src/semantic/explain';
import {
  bodyFactors,
  bodySizeFactor,
  methodFactor,
  pathFactors,
  pathWords,
  WEIGHTS,
} from '../../src/semantic/factors';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import type { RiskInput } from '../../src/semantic/types';

const scorer = createInternalScorer();
const assess = (input: Partial<RiskInput>) =>
  scorer.assess({ method: 'GET', host: 'api.example.com', path: '/', ...input });
const names = (input: Partial<RiskInput>) => assess(input).factors.map((f) => f.name);

describe('Internal risk scorer: the pinned scores (issue 5)', () => {
  it('DELETE /admin/users/all scores above the default threshold 0.8', () => {
    const risk = assess({ method: 'DELETE', path: '/admin/users/all' });
    expect(risk.score).toBeGreaterThan(0.8);
    expect(risk.score).toBe(0.86);
    expect(risk.provider).toBe('Internal');
    expect(risk.explanation).toBe(
      'Risk 0.86 because DELETE removes data, the path names an admin area ("admin"), ' +
        'the path targets many things at once ("all") and the path names sensitive data ("users").',
    );
  });

  it('GET /repos/x/y stays below 0.3', () => {
    const risk = assess({ method: 'GET', path: '/repos/x/y' });
    expect(risk.score).toBeLessThan(0.3);
    expect(risk.explanation).toBe('Risk 0.05 because GET only reads.');
    expect(risk.factors).toEqual([{ name: 'method', weight: 0.05, detail: 'GET only reads' }]);
  });
});

describe('Internal risk scorer: factor tables', () => {
  it.each([
    ['DELETE', 0.6, 'DELETE removes data'],
    ['delete', 0.6, 'DELETE removes data'],
    ['PUT', 0.2, 'PUT changes data'],
    ['PATCH', 0.2, 'PATCH changes data'],
    ['POST', 0.15, 'POST creates or changes data'],
    ['GET', 0.05, 'GET only reads'],
    ['HEAD', 0.05, 'HEAD only reads'],
    ['OPTIONS', 0.05, 'OPTIONS only reads'],
    ['PROPFIND', 0.2, 'PROPFIND is an uncommon method'],
    ['G E T', 0.2, 'an unparsable method is an uncommon method'],
  ])('method %s weighs %d', (method, weight, detail) => {
    expect(methodFactor(method)).toEqual({ name: 'method', weight, detail });
  });

  it.each([
    ['/v1/repos/delete', ['path.destructive']],
    ['/purge-cache', ['path.destructive']],
    ['/api/destroyEnvironment', ['path.destructive']],
    ['/admin', ['path.admin']],
    ['/v2/Administration/settings', ['path.admin']],
    ['/reports/export', ['path.export']],
    ['/db/dump.sql', ['path.export']],
    ['/items/bulk', ['path.bulk']],
    ['/items/*', ['path.bulk']],
    ['/all', ['path.bulk']],
    ['/billing/invoices', ['path.sensitive']],
    ['/orgs/x/secrets', ['path.sensitive']],
    ['/user/apiKeys', ['path.sensitive']],
    ['/%61dmin/x', ['path.admin']],
    ['/admin/users/all/delete', ['path.destructive', 'path.admin', 'path.bulk', 'path.sensitive']],
    // Whole words only, the path without its query, nothing for an ordinary path.
    ['/monkeys/keyboard/allowance', []],
    ['/search?q=delete+all+users', []],
    ['/repos/x/y', []],
  ])('path %s → %j', (path, expected) => {
    expect(pathFactors(path).map((f) => f.name)).toEqual(expected);
  });

  it('path words are decoded, camelCase-split and lower-case; a stray % is kept', () => {
    expect(pathWords('/v1/deleteAllUsers/%ZZ/snake_case?x=admin')).toEqual([
      'v1',
      'delete',
      'all',
      'users',
      'zz',
      'snake',
      'case',
    ]);
  });

  it('the path detail quotes the words it found, once each', () => {
    expect(pathFactors('/keys/secrets/keys')).toEqual([
      {
        name: 'path.sensitive',
        weight: WEIGHTS.path.sensitive,
        detail: 'the path names sensitive data ("keys", "secrets")',
      },
    ]);
  });

  it.each([
    [undefined, undefined],
    [1024 * 1024 - 1, undefined],
    [1024 * 1024, 0.1],
    [10 * 1024 * 1024, 0.2],
  ])('body size %s weighs %s', (size, weight) => {
    expect(bodySizeFactor(size)?.weight).toBe(weight);
  });

  it('a large declared body says how large', () => {
    expect(bodySizeFactor(12.5 * 1024 * 1024)?.detail).toBe('the body is large (12.5 MiB)');
  });

  it.each([
    ['{"sql":"DROP TABLE users"}', 'body.sql', 0.8, 'the body drops a table (SQL)'],
    ['drop database if exists prod;', 'body.sql', 0.8, 'the body drops a database (SQL)'],
    ['TRUNCATE TABLE audit', 'body.sql', 0.8, 'the body empties a table (SQL TRUNCATE)'],
    [
      '{"q":"DELETE FROM users"}',
      'body.sql',
      0.8,
      'the body deletes every row of a table (SQL DELETE without WHERE)',
    ],
    ['delete from users;', 'body.sql', 0.8, undefined],
    [
      'DELETE FROM users WHERE id = 7',
      'body.sql',
      0.5,
      'the body deletes rows (SQL DELETE … WHERE)',
    ],
    ['{"q":"DELETE FROM\\nusers\\nWHERE id = 7"}', 'body.sql', 0.5, undefined],
    ['ALTER TABLE users ADD x int', 'body.sql', 0.4, 'the body alters a table (SQL)'],
    [
      '{"query":"mutation { deleteRepository(input: {id: 1}) { clientMutationId } }"}',
      'body.graphql',
      0.6,
      'the body is a GraphQL mutation that deletes (deleteRepository)',
    ],
    [
      'mutation RemoveMember($id: ID!) { removeMember(id: $id) { ok } }',
      'body.graphql',
      0.6,
      'the body is a GraphQL mutation that deletes (RemoveMember)',
    ],
    [
      'mutation { addStar(input: {}) { x } }',
      'body.graphql',
      0.15,
      'the body is a GraphQL mutation',
    ],
    [
      '{"cmd":"rm -rf /var/lib"}',
      'body.shell',
      0.8,
      'the body runs a forced recursive delete (rm -rf)',
    ],
    ['rm -r -f build', 'body.shell', 0.8, undefined],
    ['rm --recursive --force build', 'body.shell', 0.8, undefined],
    ['rm -Rf build', 'body.shell', 0.8, undefined],
    ['rm -r build', 'body.shell', 0.5, 'the body runs a recursive delete (rm -r)'],
  ])('body %s → %s %d', (body, name, weight, detail) => {
    const [found] = bodyFactors(body);
    expect(found).toMatchObject({ name, weight, ...(detail ? { detail } : {}) });
  });

  it.each([
    'Please delete from the list every duplicate.',
    'We should drop the table tennis club and alter the plan.',
    'The mutation rate of the virus is high.',
    'Remove the file with rm file.txt',
    'truncate the text to 100 words',
    '{"name":"confirm -rf"}',
  ])('prose is not a statement: %s', (body) => {
    expect(bodyFactors(body)).toEqual([]);
  });

  it('only the first 64 KiB of a body are scanned', () => {
    expect(bodyFactors(`${' '.repeat(64 * 1024)}DROP TABLE users`)).toEqual([]);
  });

  it('scanning stays fast on hostile input', () => {
    const started = Date.now();
    bodyFactors(
      'mutation mutation '.repeat(4000) + 'rm -r'.repeat(5000) + 'delete from '.repeat(3000),
    );
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('Internal risk scorer: combination and explanation', () => {
  it('combines by noisy-OR, rounded to two decimals', () => {
    const f = (weight: number) => ({ name: 'x', weight, detail: 'x' });
    expect(combine([])).toBe(0);
    expect(combine([f(0.5), f(0.5)])).toBe(0.75);
    expect(combine([f(0.6), f(0.35), f(0.3), f(0.25)])).toBe(0.86);
    expect(combine([f(1), f(0.1)])).toBe(1);
    // Many weak factors add up but never pass 1.
    expect(combine(Array.from({ length: 50 }, () => f(0.2)))).toBe(1);
  });

  it('every factor only raises the score', () => {
    const base = assess({ method: 'POST', path: '/items' }).score;
    expect(assess({ method: 'POST', path: '/items/bulk' }).score).toBeGreaterThan(base);
    expect(assess({ method: 'POST', path: '/items', bodySize: 2e6 }).score).toBeGreaterThan(base);
  });

  it('the sentence lists factors heaviest first, with "and" before the last', () => {
    const f = (weight: number, detail: string) => ({ name: detail, weight, detail });
    expect(describeFactors([f(0.1, 'small'), f(0.9, 'big'), f(0.5, 'middle')])).toBe(
      'big, middle and small',
    );
    expect(explain(0, [])).toBe('Risk 0.00 because nothing in the request looks risky.');
  });

  it('uses the body only when given; otherwise the declared size', () => {
    const sql = '{"sql":"DROP TABLE users"}';
    expect(names({ method: 'POST', path: '/query', bodyText: sql })).toEqual([
      'body.sql',
      'method',
    ]);
    expect(names({ method: 'POST', path: '/query', bodySize: 50 * 1024 * 1024 })).toEqual([
      'body.size',
      'method',
    ]);
    const risk = assess({ method: 'POST', path: '/v1/sql', bodyText: sql });
    expect(risk.score).toBe(0.83);
    expect(risk.explanation).toBe(
      'Risk 0.83 because the body drops a table (SQL) and POST creates or changes data.',
    );
  });

  it('a GraphQL mutation that deletes, sent by POST, scores 0.66', () => {
    const bodyText = '{"query":"mutation { deleteRepository(input: {id: 1}) { x } }"}';
    expect(assess({ method: 'POST', path: '/graphql', bodyText }).score).toBe(0.66);
  });
});

describe("Internal risk scorer: the agent's recent refusals", () => {
  let clock = 1_000_000;
  const denials = createDenialHistory({ now: () => clock, windowMs: 10 * 60_000 });
  const withHistory = createInternalScorer({ denials });
  const input: RiskInput = { method: 'GET', host: 'h', path: '/repos/x/y', agent: 'bot' };

  it('each recent refusal raises the score, up to a cap, and says so', () => {
    expect(withHistory.assess(input).score).toBe(0.05);
    denials.recordDenial('bot');
    const once = withHistory.assess(input);
    expect(once.score).toBe(0.19);
    expect(once.factors[0]).toEqual({
      name: 'agent.recentDenials',
      weight: 0.15,
      detail: 'the agent was refused once in the last 10 minutes',
    });
    for (let i = 0; i < 9; i++) denials.recordDenial('bot');
    const many = withHistory.assess(input);
    expect(many.factors[0].weight).toBe(WEIGHTS.deniedMax);
    expect(many.score).toBe(0.62);
    expect(many.explanation).toBe(
      'Risk 0.62 because the agent was refused 10 times in the last 10 minutes and GET only reads.',
    );
  });

  it('another agent is not affected, and refusals age out of the window', () => {
    expect(withHistory.assess({ ...input, agent: 'other' }).score).toBe(0.05);
    expect(withHistory.assess({ ...input, agent: undefined }).score).toBe(0.05);
    clock += 10 * 60_000;
    expect(withHistory.assess(input).score).toBe(0.05);
  });

  it('recent refusals push a borderline request over the threshold', () => {
    const risky: RiskInput = { method: 'DELETE', host: 'h', path: '/users/7', agent: 'probe' };
    expect(withHistory.assess(risky).score).toBe(0.7);
    for (let i = 0; i < 3; i++) denials.recordDenial('probe');
    expect(withHistory.assess(risky).score).toBeGreaterThanOrEqual(0.8);
  });

  it('score() answers the same as assess()', async () => {
    await expect(withHistory.score(input)).resolves.toEqual(withHistory.assess(input));
  });
});
