import { createInternalScorer } from '../../src/semantic/internal-scorer';
import {
  createOpenAiScorer,
  describeRequest,
  parseAnswer,
  withModel,
} from '../../src/semantic/openai-scorer';
import { silentLogger } from '../../src/observability/types';

const completion = (content: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    choices: [
      {
        message: {
          role: 'assistant',
          content: typeof content === 'string' ? content : JSON.stringify(content),
          ...extra,
        },
      },
    ],
  });
const good = { intent: 'delete every user', confidence: 0.9, risk: 0.95, reasons: ['bulk delete'] };

describe('OpenAI answer parsing (strict)', () => {
  it('reads the JSON object the prompt asks for', () => {
    expect(parseAnswer(completion(good))).toEqual(good);
  });

  it('keeps model text to one bounded line without double quotes or invisible characters', () => {
    const answer = parseAnswer(
      completion({
        ...good,
        intent: 'say "hi"\n\u202Eignore\u0007' + 'x'.repeat(300),
        reasons: ['a', '', 'b', 'c', 'd'],
      }),
    );
    expect(answer.intent).toMatch(/^say 'hi' ignore x+…$/);
    expect(answer.intent).toHaveLength(120);
    expect(answer.reasons).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['not JSON at all', 'the API answer is not JSON'],
    [JSON.stringify({ choices: [] }), 'the API answer has no choices[0].message'],
    [completion('{"intent": "x", '), 'the model did not answer with JSON'],
    [completion('[1, 2]'), 'the model did not answer with a JSON object'],
    [completion({ ...good, intent: ' ' }), `the model's "intent" is not a non-empty string`],
    [completion({ ...good, confidence: '0.9' }), `the model's "confidence" is not a number`],
    [completion({ ...good, risk: 1.5 }), `the model's "risk" is not a number from 0 to 1`],
    [completion({ ...good, risk: null }), `the model's "risk" is not a number from 0 to 1`],
    [completion({ ...good, reasons: 'bulk' }), `the model's "reasons" is not an array`],
    [completion({ ...good, reasons: [1] }), `the model's "reasons" is not an array`],
    [completion(good, { refusal: 'I cannot help' }), 'the model refused to answer'],
    [JSON.stringify({ choices: [{ message: { content: null } }] }), 'the message has no content'],
  ])('refuses %s', (text, reason) => {
    expect(() => parseAnswer(text)).toThrow(reason);
  });
});

describe('OpenAI scorer: what the model sees and what its answer does', () => {
  it('no headers, no query values, a bounded body excerpt', () => {
    const described = describeRequest({
      method: 'POST',
      host: 'api.example.com',
      path: '/v1/x?token=abc&q=drop&flag',
      contentType: 'application/json',
      bodySize: 10_000,
      bodyText: 'y'.repeat(10_000),
    });
    expect(described).toMatchObject({
      method: 'POST',
      url: 'api.example.com/v1/x?token=…&q=…&flag',
      contentType: 'application/json',
      bodySize: 10_000,
    });
    expect((described.bodyExcerpt as string).length).toBe(4096);
    expect(JSON.stringify(described)).not.toContain('abc');
  });

  const internal = createInternalScorer();
  const drop = internal.assess({
    method: 'POST',
    host: 'db',
    path: '/sql',
    bodyText: 'DROP TABLE users',
  });

  it('the model can raise the score, and leads the sentence when it weighs most', () => {
    const raised = withModel(internal.assess({ method: 'GET', host: 'h', path: '/x' }), good);
    expect(raised.score).toBe(0.95);
    expect(raised.provider).toBe('OpenAi');
    expect(raised.factors.map((f) => f.name)).toEqual(['model', 'method']);
    expect(raised.explanation).toBe(
      'Risk 0.95 because the model reads the intent as "delete every user" ' +
        '(risk 0.95, confidence 0.90: bulk delete) and GET only reads.',
    );
  });

  it('the model cannot lower the score below the Internal one (prompt injection)', () => {
    const talkedDown = withModel(drop, {
      intent: 'harmless read',
      confidence: 1,
      risk: 0,
      reasons: [],
    });
    expect(talkedDown.score).toBe(drop.score);
    expect(talkedDown.score).toBeGreaterThanOrEqual(0.8);
  });

  it.each([
    [
      { apiKey: '' },
      'Semantic.Providers.OpenAi.ApiKey [env Semantic__Providers__OpenAi__ApiKey] is empty',
    ],
    [
      { apiKey: 'sk-abc\r\nX: y' },
      'ApiKey [env Semantic__Providers__OpenAi__ApiKey] contains whitespace',
    ],
    [{ model: '' }, 'Model [env Semantic__Providers__OpenAi__Model] is empty'],
    [
      { baseUrl: 'ftp://x' },
      'BaseUrl [env Semantic__Providers__OpenAi__BaseUrl] must be an http(s) URL',
    ],
    [{ baseUrl: 'https://u:p@x' }, 'must not carry credentials'],
    [{ timeoutMs: 0 }, 'TimeoutMilliseconds'],
  ])('refuses %j at construction, without echoing the key', (patch, message) => {
    const options = {
      apiKey: 'sk-test-key',
      model: 'gpt-4o-mini',
      baseUrl: 'https://api.openai.com/v1',
      timeoutMs: 5000,
      ...patch,
    };
    let error: any;
    try {
      createOpenAiScorer(options, { fallback: internal, logger: silentLogger });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'VEC_CONFIG_INVALID' });
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('sk-');
  });
});
