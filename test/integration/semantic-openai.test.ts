/**
 * The OpenAi risk provider against a local HTTP server on port 0 that speaks the
 * chat-completions API (POST /v1/chat/completions, Bearer key, JSON answer in
 * `choices[0].message.content`): OpenAI itself cannot be reached from this machine (nor from CI),
 * and a real model's answers are not reproducible anyway.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Timers } from '../../src/timers';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import { createOpenAiScorer, SYSTEM_PROMPT } from '../../src/semantic/openai-scorer';
import { createRiskScorer } from '../../src/semantic/scorer';
import type { RiskInput } from '../../src/semantic/types';
import { recordingLogger, type LogLine } from '../helpers/waiting-and-processes';

const API_KEY = 'sk-test-PLANTED-4f1c9e2b7d';
const BODY_SECRET = 'body-only-text-8d1e';

interface Call {
  url: string;
  headers: IncomingMessage['headers'];
  body: any;
}

type Handler = (res: ServerResponse, call: Call) => void;

const chat = (content: unknown) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      finish_reason: 'stop',
      message: {
        role: 'assistant',
        content: typeof content === 'string' ? content : JSON.stringify(content),
      },
    },
  ],
});

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

describe('OpenAi risk provider against a local chat-completions server', () => {
  const calls: Call[] = [];
  let handler: Handler = (res) => answer(res, 500, {});
  let baseUrl: string;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const call = { url: req.url ?? '', headers: req.headers, body: JSON.parse(text || 'null') };
      calls.push(call);
      handler(res, call);
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  let lines: LogLine[];
  beforeEach(() => {
    calls.length = 0;
    lines = [];
  });

  const internal = createInternalScorer();
  function scorer(timers?: Timers) {
    return createOpenAiScorer(
      { apiKey: API_KEY, model: 'gpt-4o-mini', baseUrl, timeoutMs: 5000 },
      { fallback: internal, logger: recordingLogger(lines), timers },
    );
  }

  const input: RiskInput = {
    method: 'DELETE',
    host: 'api.example.com',
    path: '/admin/users/all?confirm=yes',
    contentType: 'application/json',
    bodyText: `{"note":"${BODY_SECRET}"}`,
    bodySize: 30,
  };

  function expectNoSecretsLogged(): void {
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain(API_KEY);
    expect(logged).not.toContain(BODY_SECRET);
  }

  it('a good answer: one call with the key, the model and a JSON response format', async () => {
    handler = (res) =>
      answer(
        res,
        200,
        chat({ intent: 'wipe all users', confidence: 0.8, risk: 0.97, reasons: ['bulk delete'] }),
      );
    const risk = await scorer().score(input);

    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call.url).toBe('/v1/chat/completions');
    expect(call.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(call.body.model).toBe('gpt-4o-mini');
    expect(call.body.response_format).toEqual({ type: 'json_object' });
    expect(call.body.messages[0]).toEqual({ role: 'system', content: SYSTEM_PROMPT });
    const described = JSON.parse(call.body.messages[1].content);
    expect(described.url).toBe('api.example.com/admin/users/all?confirm=…');
    expect(described.method).toBe('DELETE');

    expect(risk.provider).toBe('OpenAi');
    expect(risk.score).toBe(0.97);
    expect(risk.factors[0]).toMatchObject({ name: 'model', weight: 0.97 });
    expect(risk.explanation).toMatch(
      /^Risk 0\.97 because the model reads the intent as "wipe all users" \(risk 0\.97, confidence 0\.80: bulk delete\), DELETE removes data, .*\.$/,
    );
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a low model risk does not lower the Internal score', async () => {
    handler = (res) =>
      answer(res, 200, chat({ intent: 'read', confidence: 1, risk: 0.01, reasons: [] }));
    const risk = await scorer().score(input);
    expect(risk.score).toBe(internal.assess(input).score);
    expect(risk.score).toBeGreaterThan(0.8);
  });

  it.each<[string, Handler, string]>([
    [
      'malformed JSON content',
      (res) => answer(res, 200, chat('{"intent": "x", "risk": ')),
      'the model did not answer with JSON',
    ],
    [
      'an answer missing risk',
      (res) => answer(res, 200, chat({ intent: 'x', confidence: 1, reasons: [] })),
      `the model's "risk" is not a number from 0 to 1`,
    ],
    [
      'HTTP 500',
      (res) => answer(res, 500, { error: { message: 'server error' } }),
      'the API answered HTTP 500',
    ],
    [
      // OpenAI's real 401 body quotes part of the key: it must never reach the log.
      'HTTP 401 quoting the key',
      (res) => answer(res, 401, { error: { message: `Incorrect API key provided: ${API_KEY}` } }),
      'the API answered HTTP 401',
    ],
    [
      'a redirect elsewhere',
      (res) => res.writeHead(307, { location: 'http://127.0.0.1:9/steal' }).end(),
      'the API request failed',
    ],
  ])('%s: falls back to the Internal score and logs why', async (_name, serve, reason) => {
    handler = serve;
    const risk = await scorer().score(input);
    expect(risk).toEqual(internal.assess(input));
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toBe(
      `OpenAI risk scoring failed (${reason}); the Internal score is used`,
    );
    expect(warnings[0].meta).toMatchObject({
      component: 'semantic',
      provider: 'OpenAi',
      model: 'gpt-4o-mini',
      reason,
    });
    expectNoSecretsLogged();
  });

  it('a timeout: falls back once the deadline fires (injected timer, no sleeping)', async () => {
    let fire: (() => void) | undefined;
    let armedMs: number | undefined;
    const timers: Timers = {
      setTimeout: (callback, ms) => {
        fire = callback;
        armedMs = ms;
        return 1;
      },
      clearTimeout: () => undefined,
    };
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => (received = resolve));
    handler = () => received(); // never answers
    const pending = scorer(timers).score(input);
    await arrived;
    expect(armedMs).toBe(5000);
    fire?.();
    const risk = await pending;
    expect(risk).toEqual(internal.assess(input));
    expect(lines.find((l) => l.level === 'warn')?.meta.reason).toBe('no answer within 5000 ms');
    expectNoSecretsLogged();
  });

  it('an unreachable API: falls back and names the socket error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = createOpenAiScorer(
      { apiKey: API_KEY, model: 'm', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 5000 },
      { fallback: internal, logger: recordingLogger(lines) },
    );
    expect(await unreachable.score(input)).toEqual(internal.assess(input));
    expect(lines[0].meta.reason).toBe('the API could not be reached (ECONNREFUSED)');
    expectNoSecretsLogged();
  });

  it('createRiskScorer picks the provider Semantic.DefaultProvider names', async () => {
    const config = {
      Enabled: true,
      DefaultProvider: 'OpenAi' as const,
      Providers: {
        OpenAi: {
          ApiKey: API_KEY,
          Model: 'gpt-4o-mini',
          BaseUrl: baseUrl,
          TimeoutMilliseconds: 5000,
        },
      },
    };
    handler = (res) =>
      answer(res, 200, chat({ intent: 'x', confidence: 1, risk: 0.5, reasons: [] }));
    const openAi = createRiskScorer(config, { logger: recordingLogger(lines) });
    expect(openAi.provider).toBe('OpenAi');
    expect(openAi.timeoutMs).toBe(5000);
    expect((await openAi.score({ method: 'GET', host: 'h', path: '/' })).score).toBe(0.5);
    const rules = createRiskScorer(
      { ...config, DefaultProvider: 'Internal' },
      { logger: recordingLogger(lines) },
    );
    expect(rules.provider).toBe('Internal');
    expect(rules.timeoutMs).toBeUndefined();
  });
});
