/**
 * Circuit breakers per upstream origin (src/guards/circuit-breaker.ts) against a scripted
 * upstream. Time is Jest's fake clock: opossum arms its reset timer with the global setTimeout
 * and the rolling window rotates on a global interval, so advancing the clock drives both.
 */
import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { GatewayError } from '../../src/errors';
import { createBreakingUpstream } from '../../src/guards/breaking-upstream';
import { circuitHealthCheck } from '../../src/guards/circuit-health';
import {
  createCircuitBreakers,
  isUpstreamFailure,
  MAX_CIRCUITS,
  originOf,
  type CircuitBreakers,
  type CircuitState,
} from '../../src/guards/circuit-breaker';
import type { CircuitBreakerConfig } from '../../src/config/schema';
import type { ProxyRequest, UpstreamResponse } from '../../src/http/types';
import type { SendOptions, UpstreamClient } from '../../src/http/upstream-client';
import { recordingLogger } from '../helpers/waiting-and-processes';

type Outcome = number | GatewayError | Error;

/** An upstream that answers each request with the next scripted outcome (a status, or an error). */
function scriptedUpstream() {
  const script: Outcome[] = [];
  const sent: ProxyRequest[] = [];
  let fallback: Outcome = 200;
  const answer = async (request: ProxyRequest): Promise<UpstreamResponse> => {
    sent.push(request);
    const outcome = script.length > 0 ? script.shift()! : fallback;
    if (typeof outcome !== 'number') throw outcome;
    return { status: outcome, headers: {}, body: Readable.from([]) };
  };
  const client: UpstreamClient = {
    send: jest.fn(answer),
    upgrade: jest.fn(answer),
    close: jest.fn(async () => undefined),
  };
  return {
    client,
    sent,
    then: (...outcomes: Outcome[]) => script.push(...outcomes),
    always: (outcome: Outcome) => (fallback = outcome),
  };
}

const CONFIG: CircuitBreakerConfig = {
  FailureThreshold: 3,
  WindowSeconds: 60,
  ResetTimeoutSeconds: 30,
  ErrorPercentage: 0,
  Scope: 'VaultOrigin',
};

function request(host = 'api.example.com', port = 443, scheme: 'http' | 'https' = 'https') {
  const req: ProxyRequest = {
    method: 'GET',
    scheme,
    host,
    port,
    path: '/x',
    headers: {},
    upgrade: false,
  };
  return req;
}

const timeout = () => new GatewayError('VEC_UPSTREAM_TIMEOUT');
const unreachable = () => new GatewayError('VEC_UPSTREAM_UNREACHABLE');

let breakers: CircuitBreakers;
let logger: ReturnType<typeof recordingLogger>;
let registry: Registry;
let upstream: ReturnType<typeof scriptedUpstream>;
let client: UpstreamClient;
let changes: Array<[string, CircuitState]>;

function setUp(config: Partial<CircuitBreakerConfig> = {}) {
  breakers?.close();
  logger = recordingLogger();
  registry = new Registry();
  breakers = createCircuitBreakers({ ...CONFIG, ...config }, { logger, registry });
  upstream = scriptedUpstream();
  client = createBreakingUpstream(upstream.client, breakers);
  changes = [];
  breakers.onStateChange((origin, state) => changes.push([origin, state]));
}

/** Sends one request; resolves with its status or the error code. */
async function send(req = request()): Promise<number | string> {
  try {
    return (await client.send(req)).status;
  } catch (error) {
    return error instanceof GatewayError ? error.code : String(error);
  }
}

const clientSend = (options: SendOptions) => client.send(request(), options);

async function sendAll(count: number, req = request()): Promise<Array<number | string>> {
  const results: Array<number | string> = [];
  for (let i = 0; i < count; i++) results.push(await send(req));
  return results;
}

const stateOf = (req = request()) =>
  breakers.snapshot().find((c) => c.origin === originOf(req))?.state;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  setUp();
});

afterEach(() => {
  breakers.close();
  jest.useRealTimers();
});

describe('what counts as a failure', () => {
  it.each([
    ['a 500 answer', 500],
    ['a 503 answer', 503],
    ['an upstream timeout', timeout()],
    ['a refused or reset connection', unreachable()],
    ['an upstream certificate that does not verify', new GatewayError('VEC_UPSTREAM_TLS_INVALID')],
  ])('%s is a failure', async (_name, outcome) => {
    upstream.always(outcome);
    await sendAll(2);
    expect(breakers.snapshot()[0]).toMatchObject({ failures: 2, requests: 2, state: 'closed' });
  });

  it.each([
    ['a 200 answer', 200],
    ['a 404 answer', 404],
    ['a 429 answer', 429],
    ['a redirect', 302],
    ['an SSRF refusal', new GatewayError('VEC_UPSTREAM_BLOCKED')],
    ['a body over the limit', new GatewayError('VEC_REQUEST_TOO_LARGE')],
    ['a malformed request', new GatewayError('VEC_REQUEST_MALFORMED')],
    ['a client abort', new DOMException('This operation was aborted', 'AbortError')],
  ])('%s is not a failure, and never opens the circuit', async (_name, outcome) => {
    upstream.always(outcome);
    await sendAll(10);
    expect(breakers.snapshot()[0]).toMatchObject({ failures: 0, state: 'closed' });
    expect(breakers.check(request())).toBeUndefined();
  });

  it('isUpstreamFailure names the failing codes only', () => {
    expect(isUpstreamFailure(timeout())).toBe(true);
    expect(isUpstreamFailure(new GatewayError('VEC_UPSTREAM_BLOCKED'))).toBe(false);
    expect(isUpstreamFailure(new Error('ECONNRESET'))).toBe(false);
  });

  it('hands a 5xx answer back to the caller while counting it', async () => {
    upstream.then(502);
    const answer = await client.send(request());
    expect(answer.status).toBe(502);
    expect(breakers.snapshot()[0].failures).toBe(1);
  });

  it("passes a call's own error through unchanged", async () => {
    const blocked = new GatewayError('VEC_UPSTREAM_BLOCKED');
    upstream.then(blocked, timeout());
    await expect(client.send(request())).rejects.toBe(blocked);
    await expect(client.send(request())).rejects.toMatchObject({ code: 'VEC_UPSTREAM_TIMEOUT' });
  });
});

describe('opening', () => {
  it('opens on the FailureThreshold-th failure within the window, and logs a warning', async () => {
    upstream.always(503);
    expect(await sendAll(2)).toEqual([503, 503]);
    expect(stateOf()).toBe('closed');
    expect(await send()).toBe(503);
    expect(stateOf()).toBe('open');
    expect(changes).toEqual([['https://api.example.com:443', 'open']]);
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(
      /^circuit for https:\/\/api\.example\.com:443 opened \(3 failures within 60 s, last: HTTP 503 from the upstream\); requests to it are refused for 30 s$/,
    );
    expect(warning?.meta).toMatchObject({
      origin: 'https://api.example.com:443',
      code: 'VEC_CIRCUIT_OPEN',
    });
  });

  it('does not count failures that left the rolling window', async () => {
    upstream.always(timeout());
    await sendAll(2);
    jest.advanceTimersByTime(60_000);
    await sendAll(2);
    expect(stateOf()).toBe('closed');
    await send();
    expect(stateOf()).toBe('open');
  });

  it('counts successes in between: three failures among many successes still open', async () => {
    upstream.then(500, 200, 200, 500, 200, 200, 200, 500);
    await sendAll(8);
    expect(stateOf()).toBe('open');
  });

  it('also opens at ErrorPercentage once FailureThreshold requests ended in the window', async () => {
    setUp({ FailureThreshold: 4, ErrorPercentage: 50 });
    upstream.then(200, 500, 200);
    await sendAll(3);
    expect(stateOf()).toBe('closed'); // 1 of 3: too few requests, and below 50 %
    upstream.then(500);
    await send();
    expect(stateOf()).toBe('open'); // 2 of 4 = 50 %
    expect(logger.lines.find((l) => l.level === 'warn')?.message).toContain(
      '2 of 4 requests (50%, limit 50%) failed within 60 s',
    );
  });

  it('without ErrorPercentage, a failure rate alone never opens', async () => {
    setUp({ FailureThreshold: 4 });
    upstream.then(200, 500, 200, 500, 500);
    await sendAll(5);
    expect(stateOf()).toBe('closed');
  });
});

describe('an open circuit', () => {
  beforeEach(async () => {
    upstream.then(503, 503, 503);
    await sendAll(3);
  });

  it('refuses with 503 VEC_CIRCUIT_OPEN and a retryAfter counting down to half-open', () => {
    const refusal = breakers.check(request());
    expect(refusal).toBeInstanceOf(GatewayError);
    expect(refusal).toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
      statusCode: 503,
      context: { origin: 'https://api.example.com:443', retryAfter: 30 },
    });
    expect(refusal?.message).toBe(
      'The circuit for https://api.example.com:443 is open (3 failures within 60 s, last: HTTP 503 from the upstream): Vectra sends it nothing for now; retry after 30 s.',
    );
    jest.advanceTimersByTime(10_500);
    expect(breakers.check(request())?.context.retryAfter).toBe(20);
  });

  it('sends nothing upstream: a call that got past the stage is refused too', async () => {
    const before = upstream.sent.length;
    await expect(client.send(request())).rejects.toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
      context: { retryAfter: 30 },
    });
    expect(upstream.sent.length).toBe(before);
  });

  it('goes half-open after ResetTimeoutSeconds and lets exactly one probe through', async () => {
    jest.advanceTimersByTime(30_000);
    expect(stateOf()).toBe('halfOpen');
    expect(breakers.check(request())).toBeUndefined();
    let answer!: (value: UpstreamResponse) => void;
    (upstream.client.send as jest.Mock).mockImplementationOnce(
      () => new Promise<UpstreamResponse>((resolve) => (answer = resolve)),
    );
    const probe = client.send(request());
    // While the probe is out, everything else is refused, at the stage and at the client.
    expect(breakers.check(request())).toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
      context: { retryAfter: 1 },
    });
    expect(breakers.check(request())?.message).toContain('letting one probe request through');
    expect(await send()).toBe('VEC_CIRCUIT_OPEN');
    expect(upstream.client.send).toHaveBeenCalledTimes(4);
    answer({ status: 200, headers: {}, body: Readable.from([]) });
    expect((await probe).status).toBe(200);
    expect(stateOf()).toBe('closed');
    expect(changes.map(([, state]) => state)).toEqual(['open', 'halfOpen', 'closed']);
    expect(logger.lines.filter((l) => l.level === 'info').map((l) => l.message)).toEqual([
      'circuit for https://api.example.com:443 half-open: letting one probe request through',
      'circuit for https://api.example.com:443 closed: a request through the half-open circuit succeeded',
    ]);
  });

  it('closes on a 4xx probe: the upstream answered', async () => {
    jest.advanceTimersByTime(30_000);
    upstream.then(404);
    expect(await send()).toBe(404);
    expect(stateOf()).toBe('closed');
  });

  it('starts a fresh window when it closes', async () => {
    jest.advanceTimersByTime(30_000);
    upstream.then(200, 500, 500);
    await sendAll(3);
    expect(stateOf()).toBe('closed');
    expect(breakers.snapshot()[0]).toMatchObject({ failures: 2, requests: 2 });
  });

  it('re-opens when the probe fails, for another ResetTimeoutSeconds', async () => {
    jest.advanceTimersByTime(30_000);
    upstream.then(unreachable());
    expect(await send()).toBe('VEC_UPSTREAM_UNREACHABLE');
    expect(stateOf()).toBe('open');
    const refusal = breakers.check(request());
    expect(refusal?.context.retryAfter).toBe(30);
    expect(refusal?.message).toContain(
      'the probe after the reset timeout failed: VEC_UPSTREAM_UNREACHABLE',
    );
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    jest.advanceTimersByTime(30_000);
    expect(stateOf()).toBe('halfOpen');
  });

  it("runs the probe to its end when its client leaves: the upstream's answer decides", async () => {
    jest.advanceTimersByTime(30_000);
    const client = new AbortController();
    upstream.then(200);
    const probe = clientSend({ signal: client.signal });
    client.abort(new GatewayError('VEC_CLIENT_CLOSED'));
    expect((await probe).status).toBe(200);
    // The probe was sent without the client's signal, so nobody could cut it short.
    expect((upstream.client.send as jest.Mock).mock.lastCall).toEqual([request(), {}]);
    expect(stateOf()).toBe('closed');
  });

  it('passes the signal on to calls that are not the probe', async () => {
    jest.advanceTimersByTime(30_000);
    await send(); // the probe closes the circuit
    const signal = new AbortController().signal;
    await clientSend({ signal });
    expect((upstream.client.send as jest.Mock).mock.lastCall).toEqual([request(), { signal }]);
  });

  it('does not run a call given up before it started through the circuit', async () => {
    jest.advanceTimersByTime(30_000);
    const before = breakers.snapshot();
    const cancelled = new AbortController();
    cancelled.abort(new GatewayError('VEC_CLIENT_CLOSED'));
    upstream.then(new GatewayError('VEC_CLIENT_CLOSED'));
    await expect(client.send(request(), { signal: cancelled.signal })).rejects.toMatchObject({
      code: 'VEC_CLIENT_CLOSED',
    });
    // Still half-open, its probe unspent, nothing counted.
    expect(stateOf()).toBe('halfOpen');
    expect(breakers.snapshot()).toEqual(before);
    expect(await send()).toBe(200);
    expect(stateOf()).toBe('closed');
  });

  it('keeps other origins apart: another host, port or scheme has its own circuit', async () => {
    expect(breakers.check(request())).toBeDefined();
    for (const other of [
      request('other.example.com'),
      request('api.example.com', 8443),
      request('api.example.com', 443, 'http'),
    ]) {
      expect(breakers.check(other)).toBeUndefined();
      expect(await send(other)).toBe(200);
    }
    expect(breakers.snapshot().map((c) => [c.origin, c.state])).toEqual([
      ['https://api.example.com:443', 'open'],
      ['https://other.example.com:443', 'closed'],
      ['https://api.example.com:8443', 'closed'],
      ['http://api.example.com:443', 'closed'],
    ]);
  });

  it("keeps vaults apart (Scope VaultOrigin): one vault's failures leave another's circuit closed", async () => {
    setUp();
    upstream.then(500, 500, 500);
    for (let i = 0; i < 3; i++) await client.send(request(), { vault: 'a' });
    expect(breakers.check({ ...request(), vault: 'a' })).toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
      message: expect.stringContaining('https://api.example.com:443 (vault a) is open'),
    });
    expect(breakers.check({ ...request(), vault: 'b' })).toBeUndefined();
    expect((await client.send(request(), { vault: 'b' })).status).toBe(200);
    await expect(client.upgrade(request(), { vault: 'a' })).rejects.toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
    });
    expect(breakers.snapshot().map((c) => [c.vault, c.origin, c.state])).toEqual([
      ['a', 'https://api.example.com:443', 'open'],
      ['b', 'https://api.example.com:443', 'closed'],
    ]);
    expect(await registry.metrics()).toContain(
      'vectra_circuit_state{origin="https://api.example.com:443",vault="a"} 2',
    );
  });

  it('shares one circuit per origin between vaults with Scope Origin', async () => {
    setUp({ Scope: 'Origin' });
    upstream.then(500, 500, 500);
    for (let i = 0; i < 3; i++) await client.send(request(), { vault: 'a' });
    expect(breakers.check({ ...request(), vault: 'b' })).toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
    });
    expect(breakers.snapshot().map((c) => [c.vault, c.origin])).toEqual([
      [undefined, 'https://api.example.com:443'],
    ]);
  });

  it('counts an upgrade like any other call', async () => {
    await expect(client.upgrade(request())).rejects.toMatchObject({ code: 'VEC_CIRCUIT_OPEN' });
  });
});

describe('health and metrics', () => {
  it('is Healthy with no open circuit, Degraded naming the open and half-open origins', async () => {
    const check = circuitHealthCheck(breakers);
    expect(check.name).toBe('circuitBreakers');
    expect(await check.run()).toMatchObject({ status: 'Healthy' });
    upstream.then(500, 500, 500);
    await sendAll(3, request('a.example.com'));
    await send(request('b.example.com'));
    expect(await check.run()).toEqual({
      status: 'Degraded',
      description: 'circuit open for https://a.example.com:443',
      data: { open: ['https://a.example.com:443'], halfOpen: [] },
    });
    jest.advanceTimersByTime(30_000);
    expect(await check.run()).toMatchObject({
      status: 'Degraded',
      description: 'circuit half-open (probing) for https://a.example.com:443',
    });
    await send(request('a.example.com'));
    expect(await check.run()).toMatchObject({ status: 'Healthy' });
  });

  it('exports the state per origin and counts opens', async () => {
    upstream.then(500, 500, 500);
    await sendAll(3, request('a.example.com'));
    await send(request('b.example.com', 8080, 'http'));
    let text = await registry.metrics();
    expect(text).toContain('vectra_circuit_state{origin="https://a.example.com:443"} 2');
    expect(text).toContain('vectra_circuit_state{origin="http://b.example.com:8080"} 0');
    expect(text).toContain('vectra_circuit_opens_total{origin="https://a.example.com:443"} 1');
    jest.advanceTimersByTime(30_000);
    text = await registry.metrics();
    expect(text).toContain('vectra_circuit_state{origin="https://a.example.com:443"} 1');
    upstream.then(500);
    await send(request('a.example.com'));
    text = await registry.metrics();
    expect(text).toContain('vectra_circuit_opens_total{origin="https://a.example.com:443"} 2');
  });
});

describe('lifecycle', () => {
  it('forgets a closed circuit after a window without traffic', async () => {
    await send();
    expect(breakers.snapshot()).toHaveLength(1);
    jest.advanceTimersByTime(54_000); // nine of the window's ten buckets rotated out
    expect(breakers.snapshot()).toHaveLength(1);
    jest.advanceTimersByTime(6_000);
    expect(breakers.snapshot()).toHaveLength(0);
    expect(await registry.metrics()).not.toContain('vectra_circuit_state{');
  });

  it('forgets a half-open circuit nobody probed for a window', async () => {
    upstream.then(500, 500, 500);
    await sendAll(3);
    jest.advanceTimersByTime(30_000);
    expect(stateOf()).toBe('halfOpen');
    jest.advanceTimersByTime(30_000);
    expect(breakers.snapshot()).toHaveLength(0);
  });

  it(`keeps at most MAX_CIRCUITS, evicting the oldest idle closed one first`, async () => {
    upstream.then(500, 500, 500);
    await sendAll(3, request('open.example.com'));
    for (let i = 1; i < MAX_CIRCUITS; i++) await send(request(`h${i}.example.com`));
    expect(breakers.snapshot()).toHaveLength(MAX_CIRCUITS);
    await send(request('new.example.com'));
    const origins = breakers.snapshot().map((c) => c.origin);
    expect(origins).toHaveLength(MAX_CIRCUITS);
    expect(origins).toContain('https://open.example.com:443');
    expect(origins).toContain('https://new.example.com:443');
    expect(origins).not.toContain('https://h1.example.com:443');
  });

  it('keeps an open circuit however long it is idle', async () => {
    upstream.then(500, 500, 500);
    await sendAll(3);
    jest.advanceTimersByTime(29_000);
    expect(stateOf()).toBe('open');
  });

  it('counts a call its client gave up as no failure while closed', async () => {
    upstream.then(
      500,
      500,
      new GatewayError('VEC_CLIENT_CLOSED'),
      new GatewayError('VEC_CLIENT_CLOSED'),
    );
    await sendAll(4);
    expect(stateOf()).toBe('closed');
    expect(breakers.snapshot()[0]).toMatchObject({ failures: 2 });
  });

  it('after close(), checks pass and calls go straight to the upstream', async () => {
    upstream.then(500, 500, 500);
    await sendAll(3);
    breakers.close();
    expect(breakers.check(request())).toBeUndefined();
    expect(await send()).toBe(200);
    expect(breakers.snapshot()).toEqual([]);
  });

  it('passes the abort signal through and delegates close()', async () => {
    const signal = new AbortController().signal;
    await client.send(request(), { signal });
    expect(upstream.client.send).toHaveBeenCalledWith(request(), { signal });
    await client.close();
    expect(upstream.client.close).toHaveBeenCalled();
  });

  it('names IPv6 origins with brackets', () => {
    expect(originOf(request('::1', 8080, 'http'))).toBe('http://[::1]:8080');
  });
});

describe('configuration', () => {
  it.each([
    ['FailureThreshold', 0],
    ['WindowSeconds', 1.5],
    ['ResetTimeoutSeconds', -1],
    ['ErrorPercentage', 101],
    ['ResetTimeoutSeconds', 3_000_000],
  ])('refuses %s = %p with VEC_CONFIG_INVALID naming the key', (field, value) => {
    expect(() => createCircuitBreakers({ ...CONFIG, [field]: value })).toThrow(
      expect.objectContaining({
        code: 'VEC_CONFIG_INVALID',
        message: expect.stringContaining(`System.CircuitBreaker.${field} must be a whole number`),
      }),
    );
  });
});
