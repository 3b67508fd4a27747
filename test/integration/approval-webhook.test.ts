// The approval webhook against a real receiver on loopback: what it sends (generic and Slack
// bodies, the signature), which answers it retries, the SSRF guard in front of every attempt,
// and that the URL's secret never reaches a log line.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createApprovalWebhook,
  verifyWebhookSignature,
  type ApprovalWebhookOptions,
} from '../../src/approvals/webhook';
import type { Approval, ApprovalEvent, ApprovalEventType } from '../../src/approvals/types';
import { isGatewayError } from '../../src/errors';
import { createSsrfGuard } from '../../src/proxy/ssrf-guard';
import type { Timers } from '../../src/timers';
import { selfSignedCertificate } from '../helpers/certificates';
import { freePort, recordingLogger, type LogLine } from '../helpers/waiting-and-processes';

const SECRET = 'whsec-test-5b9e1c';
const NOW = Date.parse('2025-03-01T12:00:00Z');
const TIMEOUT_MS = 10_000;

interface Delivery {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Receiver {
  port: number;
  url(path?: string): string;
  deliveries: Delivery[];
  /** Resolves once `count` deliveries have arrived. */
  arrived(count: number): Promise<void>;
  close(): Promise<void>;
}

type Answer = number | 'hold';

/** A receiver answering each delivery with the next of `answers` (then 200); 'hold' never answers. */
async function startReceiver(
  answers: Answer[] = [],
  listen: { host?: string; server?: Server } = {},
): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const held: ServerResponse[] = [];
  const server = listen.server ?? createServer();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      deliveries.push({ url: req.url ?? '', headers: req.headers, body });
      const answer = answers.shift() ?? 200;
      if (answer === 'hold') held.push(res);
      else res.writeHead(answer).end('ok');
      for (const waiter of waiters.filter((w) => deliveries.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  });
  const host = listen.host ?? '127.0.0.1';
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/hook') => `http://${host}:${port}${path}`,
    deliveries,
    arrived(count) {
      if (deliveries.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Timers whose short delays (the backoff, close's wait) fire on the next turn instead of after
 * their time; the per-attempt timeout is a real timer, or held for `fireTimeout` when `holdTimeout`.
 */
function fastTimers(holdTimeout = false) {
  const armed: number[] = [];
  let timeout: (() => void) | undefined;
  const timers: Timers = {
    setTimeout(callback, ms) {
      armed.push(ms);
      if (ms !== TIMEOUT_MS) return { immediate: setImmediate(callback) };
      if (holdTimeout) {
        timeout = callback;
        return { held: callback };
      }
      return { timer: setTimeout(callback, ms) };
    },
    clearTimeout(handle) {
      const h = handle as {
        immediate?: NodeJS.Immediate;
        timer?: NodeJS.Timeout;
        held?: () => void;
      };
      if (h.immediate) clearImmediate(h.immediate);
      if (h.timer) clearTimeout(h.timer);
      if (h.held && h.held === timeout) timeout = undefined;
    },
  };
  return {
    timers,
    /** The delays armed other than the per-attempt timeout. */
    backoffs: () => armed.filter((ms) => ms !== TIMEOUT_MS),
    fireTimeout: () => timeout?.(),
  };
}

function approval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'apr_01HZX3Q5V8K2M4N6P8R0T2W4Y6',
    agent: 'billing-bot',
    vault: 'prod',
    service: 'stripe',
    method: 'DELETE',
    scheme: 'https',
    host: 'api.stripe.com',
    port: 443,
    path: '/v1/customers/cus_1',
    url: 'https://api.stripe.com/v1/customers/cus_1',
    headers: { authorization: '[REDACTED]' },
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    bodySize: 0,
    bodyPreview: null,
    explanation: 'DELETE on a customer needs approval (policy stripe-deletes).',
    risk: 0.9,
    reasons: ['Deleting a customer is irreversible.'],
    createdAt: '2025-03-01T11:59:00.000Z',
    expiresAt: '2025-03-01T12:59:00.000Z',
    status: 'pending',
    decidedAt: null,
    decidedBy: null,
    scope: null,
    standingUntil: null,
    pathPattern: null,
    comment: null,
    usedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

function event(type: ApprovalEventType = 'created', overrides: Partial<Approval> = {}) {
  return { type, at: '2025-03-01T12:00:00.000Z', approval: approval(overrides) };
}

const loopbackGuard = createSsrfGuard({ allowlist: '127.0.0.0/8' });

describe('approval webhook', () => {
  let receiver: Receiver | undefined;
  let lines: LogLine[];
  const webhooks: Array<{ close(): Promise<void> }> = [];

  beforeEach(() => {
    lines = [];
  });

  afterEach(async () => {
    for (const webhook of webhooks.splice(0)) await webhook.close();
    await receiver?.close();
    receiver = undefined;
  });

  function webhook(options: Partial<ApprovalWebhookOptions> & { url: string }) {
    const created = createApprovalWebhook({
      secret: SECRET,
      format: 'generic',
      guard: loopbackGuard,
      logger: recordingLogger(lines),
      jitter: false,
      timeoutMs: TIMEOUT_MS,
      now: () => NOW,
      timers: fastTimers().timers,
      ...options,
    });
    webhooks.push(created);
    return created;
  }

  const logText = () => lines.map((line) => JSON.stringify(line)).join('\n');

  it('posts the generic body, signed so the helper verifies it', async () => {
    receiver = await startReceiver();
    const hook = webhook({ url: receiver.url(), linkBase: 'http://127.0.0.1:8080/' });
    const sent = event();
    hook.notify(sent);
    await hook.idle();

    expect(receiver.deliveries).toHaveLength(1);
    const [delivery] = receiver.deliveries;
    expect(delivery.url).toBe('/hook');
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(delivery.headers['user-agent']).toBe('vectra-webhook');
    expect(delivery.headers['x-vectra-event']).toBe('approval.created');
    expect(JSON.parse(delivery.body)).toEqual({
      type: 'approval.created',
      at: sent.at,
      approval: sent.approval,
      link: `http://127.0.0.1:8080/ui/approvals/${sent.approval.id}`,
    });

    const timestamp = delivery.headers['x-vectra-timestamp'] as string;
    const signature = delivery.headers['x-vectra-signature'] as string;
    expect(timestamp).toBe(String(NOW / 1000));
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const nowSeconds = NOW / 1000 + 10;
    expect(verifyWebhookSignature(SECRET, timestamp, delivery.body, signature, nowSeconds)).toBe(
      true,
    );
    expect(verifyWebhookSignature('wrong', timestamp, delivery.body, signature, nowSeconds)).toBe(
      false,
    );
    const tampered = delivery.body.replace('billing-bot', 'billing-bog');
    expect(verifyWebhookSignature(SECRET, timestamp, tampered, signature, nowSeconds)).toBe(false);
    // A replay outside the tolerance fails even with the right signature.
    expect(
      verifyWebhookSignature(SECRET, timestamp, delivery.body, signature, nowSeconds + 600),
    ).toBe(false);
  });

  it('sends no signature headers and no link when neither is configured', async () => {
    receiver = await startReceiver();
    const hook = webhook({ url: receiver.url(), secret: '' });
    hook.notify(event('denied'));
    await hook.idle();
    const [delivery] = receiver.deliveries;
    expect(delivery.headers['x-vectra-signature']).toBeUndefined();
    expect(delivery.headers['x-vectra-timestamp']).toBeUndefined();
    const body = JSON.parse(delivery.body);
    expect(body.type).toBe('approval.denied');
    expect(body).not.toHaveProperty('link');
  });

  it('retries a 500 after the backoff and stops at the 200', async () => {
    receiver = await startReceiver([500, 200]);
    const clock = fastTimers();
    const hook = webhook({ url: receiver.url(), timers: clock.timers });
    hook.notify(event());
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(2);
    expect(clock.backoffs()).toEqual([1000]);
    const [first, second] = receiver.deliveries;
    expect(second.body).toBe(first.body);
    expect(second.headers['x-vectra-delivery']).toBe(first.headers['x-vectra-delivery']);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.meta.reason)).toEqual(['HTTP 500']);
  });

  it('retries a 429 too', async () => {
    receiver = await startReceiver([429]);
    const hook = webhook({ url: receiver.url() });
    hook.notify(event());
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(2);
  });

  it('does not retry a 400', async () => {
    receiver = await startReceiver([400]);
    const hook = webhook({ url: receiver.url() });
    hook.notify(event());
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(1);
    const error = lines.find((l) => l.level === 'error');
    expect(error?.message).toMatch(/refused the event; not retried/);
    expect(error?.meta).toMatchObject({ status: 400, reason: 'HTTP 400' });
  });

  it('drops the event after `attempts` failures, doubling the delay each time', async () => {
    receiver = await startReceiver([503, 503, 503, 503]);
    const clock = fastTimers();
    const hook = webhook({ url: receiver.url(), attempts: 3, timers: clock.timers });
    hook.notify(event('approved', { status: 'approved' }));
    hook.notify(event('used', { status: 'used' }));
    await hook.idle();
    // Three attempts at the first event, then the next event (503, then 200).
    expect(receiver.deliveries.map((d) => JSON.parse(d.body).type)).toEqual([
      'approval.approved',
      'approval.approved',
      'approval.approved',
      'approval.used',
      'approval.used',
    ]);
    expect(clock.backoffs()).toEqual([1000, 2000, 1000]);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/failed 3 times; event dropped/);
    expect(errors[0].meta).toMatchObject({ event: 'approval.approved', attempt: 3 });
  });

  it('retries when the answer does not come in time', async () => {
    receiver = await startReceiver(['hold']);
    const clock = fastTimers(true);
    const hook = webhook({ url: receiver.url(), timers: clock.timers });
    hook.notify(event());
    await receiver.arrived(1);
    clock.fireTimeout();
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(2);
    expect(lines.find((l) => l.level === 'warn')?.meta.reason).toBe(
      `no answer within ${TIMEOUT_MS} ms`,
    );
  });

  it('sends a Slack message with blocks, escaping the request text', async () => {
    receiver = await startReceiver();
    const hook = webhook({
      url: receiver.url(),
      format: 'slack',
      linkBase: 'https://vectra.example',
    });
    const hostile = {
      agent: 'bot <!channel>',
      url: 'https://api.example.com/a?b=1&c=<x>',
      explanation: 'Looks like <https://evil.example|a link> & more',
    };
    hook.notify(event('created', hostile));
    hook.notify(
      event('denied', {
        status: 'denied',
        decidedBy: { id: 'tok_1', name: 'alice' },
        comment: 'not on a Friday <3',
      }),
    );
    hook.notify(
      event('approved', {
        status: 'approved',
        decidedBy: { id: 'tok_1', name: 'alice' },
        scope: 'session',
        pathPattern: '/v1/customers/*',
        standingUntil: '2025-03-01T13:00:00.000Z',
      }),
    );
    await hook.idle();

    const [created, denied, approved] = receiver.deliveries.map((d) => JSON.parse(d.body));
    expect(created.text).toBe(
      'Approval needed: bot &lt;!channel&gt; wants DELETE https://api.example.com/a?b=1&amp;c=&lt;x&gt; in vault prod',
    );
    expect(created.text).not.toContain('\n');
    expect(created.blocks.map((b: any) => b.type)).toEqual(['section', 'context', 'actions']);
    expect(created.blocks[0].text).toEqual({
      type: 'mrkdwn',
      text:
        'Approval needed: *bot &lt;!channel&gt;* wants ' +
        '*DELETE https://api.example.com/a?b=1&amp;c=&lt;x&gt;* in vault *prod*\n' +
        'Looks like &lt;https://evil.example|a link&gt; &amp; more',
    });
    expect(created.blocks[1].elements[0].text).toBe(
      'approval apr_01HZX3Q5V8K2M4N6P8R0T2W4Y6 · expires 2025-03-01 12:59:00 UTC',
    );
    expect(created.blocks[2].elements[0]).toEqual({
      type: 'button',
      text: { type: 'plain_text', text: 'Open approval' },
      url: 'https://vectra.example/ui/approvals/apr_01HZX3Q5V8K2M4N6P8R0T2W4Y6',
    });
    expect(denied.blocks[0].text.text).toBe(
      "*alice* denied *billing-bot*'s *DELETE https://api.stripe.com/v1/customers/cus_1* " +
        'in vault *prod*\nReason: not on a Friday &lt;3',
    );
    expect(approved.text).toBe(
      "alice approved billing-bot's DELETE https://api.stripe.com/v1/customers/cus_1 in vault " +
        'prod (scope session for paths /v1/customers/* until 2025-03-01 13:00:00 UTC)',
    );
    expect(approved.blocks[0].text.text).toContain(
      '(scope session for paths `/v1/customers/*` until 2025-03-01 13:00:00 UTC)',
    );
    // Slack messages are signed the same way.
    const [delivery] = receiver.deliveries;
    expect(
      verifyWebhookSignature(
        SECRET,
        delivery.headers['x-vectra-timestamp'] as string,
        delivery.body,
        delivery.headers['x-vectra-signature'] as string,
        NOW / 1000,
      ),
    ).toBe(true);
  });

  it('never contacts a destination the SSRF guard blocks', async () => {
    receiver = await startReceiver();
    const hook = webhook({ url: receiver.url(), guard: createSsrfGuard({ allowlist: '' }) });
    hook.notify(event());
    hook.notify(event('expired'));
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(0);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0].message).toMatch(/blocked by the SSRF guard/);
    expect(errors[0].meta).toMatchObject({ reason: 'loopback', attempt: 1 });
    expect(errors[0].meta.webhook).toBe(`http://127.0.0.1:${receiver.port}`);
  });

  it('dials the address the guard checked, not a second lookup', async () => {
    // Listening on 127.0.0.2 only: the system's answer for localhost (127.0.0.1) would be refused.
    receiver = await startReceiver([], { host: '127.0.0.2' });
    const guard = createSsrfGuard({
      allowlist: '127.0.0.0/8',
      lookup: async () => [{ address: '127.0.0.2', family: 4 }],
    });
    const hook = webhook({ url: `http://localhost:${receiver.port}/hook`, guard });
    hook.notify(event());
    await hook.idle();
    expect(receiver.deliveries).toHaveLength(1);
    expect(receiver.deliveries[0].headers.host).toBe(`localhost:${receiver.port}`);
  });

  it('verifies an https receiver against the extra CA', async () => {
    const certificate = selfSignedCertificate('localhost');
    const server = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem });
    receiver = await startReceiver([], { server });
    const guard = createSsrfGuard({
      allowlist: '127.0.0.0/8',
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const url = `https://localhost:${receiver.port}/hook`;
    const trusting = webhook({ url, guard, ca: certificate.certPem });
    trusting.notify(event());
    await trusting.idle();
    expect(receiver.deliveries).toHaveLength(1);

    // Without the CA the certificate is refused (and retried like any connection failure).
    const untrusting = webhook({ url, guard, attempts: 1 });
    untrusting.notify(event());
    await untrusting.idle();
    expect(receiver.deliveries).toHaveLength(1);
    expect(lines.find((l) => l.level === 'error')?.meta.reason).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('never logs the secret in the URL, whatever goes wrong', async () => {
    const TOKEN = 'SECRET123';
    receiver = await startReceiver([500, 400, 'hold']);
    const clock = fastTimers(true);
    const path = `/hooks/${TOKEN}?token=${TOKEN}`;
    const hook = webhook({ url: receiver.url(path), attempts: 2, timers: clock.timers });
    hook.notify(event()); // 500, then 400
    hook.notify(event('approved')); // no answer, then 200
    await receiver.arrived(3);
    clock.fireTimeout();
    await hook.idle();
    expect(receiver.deliveries.map((d) => d.url)).toEqual([path, path, path, path]);

    const refused = webhook({
      url: `http://127.0.0.1:${await freePort()}/hooks/${TOKEN}`,
      attempts: 2,
    });
    refused.notify(event());
    await refused.idle();
    const blocked = webhook({
      url: receiver.url(path),
      guard: createSsrfGuard({ allowlist: '' }),
    });
    blocked.notify(event());
    await blocked.idle();
    await blocked.close();
    blocked.notify(event());

    const messages = lines.map((l) => `${l.level} ${l.message} ${l.meta.reason ?? ''}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^warn .*retrying HTTP 500$/),
        expect.stringMatching(/^error .*not retried HTTP 400$/),
        expect.stringMatching(/^warn .*retrying no answer within/),
        expect.stringMatching(/^error .*failed 2 times.* ECONNREFUSED$/),
        expect.stringMatching(/^error .*SSRF guard.* loopback$/),
        expect.stringMatching(/^warn .*closed; event not sent/),
      ]),
    );
    expect(logText()).not.toContain(TOKEN);
    expect(logText()).not.toContain('/hooks');

    // A URL that does not parse is refused at construction without quoting its secret.
    let thrown: unknown;
    try {
      webhook({ url: `ftp://127.0.0.1/hooks/${TOKEN}` });
    } catch (error) {
      thrown = error;
    }
    expect(isGatewayError(thrown) && thrown.code).toBe('VEC_CONFIG_INVALID');
    expect(JSON.stringify(thrown) + String(thrown)).not.toContain(TOKEN);
  });

  it('never throws from notify, and drops the oldest queued event when full', async () => {
    receiver = await startReceiver(['hold']);
    const clock = fastTimers(true);
    const hook = webhook({ url: receiver.url(), maxQueued: 2, timers: clock.timers });
    const types: ApprovalEventType[] = ['created', 'approved', 'denied', 'expired', 'used'];
    for (const type of types) expect(() => hook.notify(event(type))).not.toThrow();
    expect(() => hook.notify(null as unknown as ApprovalEvent)).not.toThrow();
    await receiver.arrived(1);
    clock.fireTimeout(); // the held first attempt times out and is sent again
    await hook.idle();
    // 'created' went out at once (held, then sent again); of the four queued behind it only
    // the two newest stayed.
    expect(receiver.deliveries.map((d) => JSON.parse(d.body).type)).toEqual([
      'approval.created',
      'approval.created',
      'approval.expired',
      'approval.used',
    ]);
    const warnings = lines.filter((l) => l.message.includes('queue full'));
    expect(warnings.map((l) => l.meta.event)).toEqual(['approval.approved', 'approval.denied']);
  });

  it('close stops retrying and abandons an attempt that does not finish', async () => {
    receiver = await startReceiver(['hold']);
    const clock = fastTimers(true);
    const hook = webhook({ url: receiver.url(), timers: clock.timers });
    hook.notify(event());
    hook.notify(event('approved'));
    await receiver.arrived(1);
    await hook.close(); // close's wait fires at once here: the held attempt is abandoned
    expect(receiver.deliveries).toHaveLength(1);
    expect(lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/closed; queued events not delivered/),
        expect.stringMatching(/closed; event not delivered/),
      ]),
    );
    expect(lines.find((l) => /queued events/.test(l.message))?.meta.dropped).toBe(1);
  });
});
