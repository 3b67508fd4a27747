/**
 * The approval webhook as `vectra serve` wires it from the configuration
 * (HumanInTheLoop.NotificationWebhookUrl, WebhookSecret, WebhookFormat): a held request posts a
 * signed `approval.created`, a decision `approval.approved`, a 500 is retried, and with the SSRF
 * guard blocking loopback the receiver is never contacted while the agent is answered as
 * usual. Secrets planted in the URL's path and in the signing secret appear in no log line and
 * in no API answer.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../src/approvals/webhook';
import { approvalGateways, type ApprovalGateway } from '../helpers/approvals';
import { json } from '../helpers/gateway';
import { recordingLogger, waitFor, type LogLine } from '../helpers/waiting-and-processes';

const PATH_SECRET = 'T0PATHSECRET-9f8e7d';
const SIGNING_SECRET = 'whsec-planted-4c3b2a';
const LOOPBACK = { System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128' };

interface Delivery {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver on 127.0.0.1 answering each delivery with the next of `answers` (then 200). */
async function startReceiver(answers: number[] = []) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      deliveries.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    deliveries,
    url: `http://127.0.0.1:${port}/hooks/${PATH_SECRET}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Setup extends ApprovalGateway {
  lines: LogLine[];
}

/** Every log line as text, errors with their message and stack. */
function logText(lines: LogLine[]): string {
  return JSON.stringify(lines, (_key, value: unknown) =>
    value instanceof Error
      ? { message: value.message, stack: value.stack, cause: value.cause }
      : value,
  );
}

function expectSigned(delivery: Delivery): void {
  const timestamp = delivery.headers['x-vectra-timestamp'] as string;
  const signature = delivery.headers['x-vectra-signature'] as string;
  expect(
    verifyWebhookSignature(SIGNING_SECRET, timestamp, delivery.body, signature, Date.now() / 1000),
  ).toBe(true);
  expect(
    verifyWebhookSignature('wrong', timestamp, delivery.body, signature, Date.now() / 1000),
  ).toBe(false);
}

/** Neither planted secret in a log line or in what the approvals API answers. */
async function expectNoSecrets(s: Setup): Promise<void> {
  const answers = [
    await (await s.api('GET', '/v1/approvals')).text(),
    await (await s.api('GET', '/v1/approvals/standing')).text(),
  ];
  for (const text of [logText(s.lines), ...answers]) {
    expect(text).not.toContain(PATH_SECRET);
    expect(text).not.toContain(SIGNING_SECRET);
  }
}

describe('approval webhook wired from the configuration', () => {
  const { start } = approvalGateways({
    allowLoopback: false,
    secret: 'webhook-config-credential',
    env: { HumanInTheLoop__WebhookSecret: SIGNING_SECRET },
  });

  async function setUp(env: NodeJS.ProcessEnv): Promise<Setup> {
    const logger = recordingLogger();
    return { ...(await start(env, { gateway: { logger } })), lines: logger.lines };
  }

  it.each(['generic', 'slack'] as const)(
    'format %s: a held request posts a signed approval.created, a decision approval.approved',
    async (format) => {
      const receiver = await startReceiver();
      try {
        const s = await setUp({
          ...LOOPBACK,
          HumanInTheLoop__HoldSeconds: '600',
          HumanInTheLoop__NotificationWebhookUrl: receiver.url,
          HumanInTheLoop__WebhookFormat: format,
        });
        const held = s.call('/items', { method: 'POST', body: '{"n":1}' });
        await waitFor('approval.created', () => receiver.deliveries.length >= 1);
        const [created] = receiver.deliveries;
        expect(created.url).toBe(`/hooks/${PATH_SECRET}`);
        expect(created.headers['x-vectra-event']).toBe('approval.created');
        expectSigned(created);
        const { approvals } = await json(await s.api('GET', '/v1/approvals?status=pending'));
        const id = approvals[0].id as string;
        const body = JSON.parse(created.body);
        if (format === 'generic') {
          expect(body).toMatchObject({
            type: 'approval.created',
            approval: { id, path: '/items' },
          });
        } else {
          expect(body.text).toContain('Approval needed: writer-bot wants POST');
          expect(JSON.stringify(body.blocks)).toContain(id);
        }

        await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
        expect((await held).status).toBe(200);
        await waitFor('approval.approved', () =>
          receiver.deliveries.some((d) => d.headers['x-vectra-event'] === 'approval.approved'),
        );
        const approved = receiver.deliveries.find(
          (d) => d.headers['x-vectra-event'] === 'approval.approved',
        )!;
        expectSigned(approved);
        if (format === 'generic') {
          expect(JSON.parse(approved.body)).toMatchObject({
            type: 'approval.approved',
            approval: { id, status: 'approved', decidedBy: { name: 'alice' } },
          });
        } else {
          expect(JSON.parse(approved.body).text).toContain('alice approved writer-bot');
        }
        await expectNoSecrets(s);
      } finally {
        await receiver.close();
      }
    },
  );

  it('a receiver answering 500 gets the same delivery again', async () => {
    const receiver = await startReceiver([500]);
    try {
      const s = await setUp({
        ...LOOPBACK,
        HumanInTheLoop__NotificationWebhookUrl: receiver.url,
      });
      const answer = await s.call('/retry', { method: 'POST', body: '{}' });
      expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
      await waitFor('the retried delivery', () => receiver.deliveries.length >= 2);
      const [first, second] = receiver.deliveries;
      expect(second.headers['x-vectra-delivery']).toBe(first.headers['x-vectra-delivery']);
      expect(second.body).toBe(first.body);
      expect(second.headers['x-vectra-event']).toBe('approval.created');
      expectSigned(second);
      expect(s.lines.some((l) => l.message.includes('retrying') && l.meta.status === 500)).toBe(
        true,
      );
      await expectNoSecrets(s);
    } finally {
      await receiver.close();
    }
  });

  it('with loopback blocked by the SSRF guard the receiver is never contacted; the agent still gets pending', async () => {
    const receiver = await startReceiver();
    try {
      const s = await setUp({ HumanInTheLoop__NotificationWebhookUrl: receiver.url });
      const answer = await s.call('/blocked', { method: 'POST', body: '{}' });
      expect(answer.status).toBe(403);
      expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
      await waitFor('the blocked delivery in the log', () =>
        s.lines.some((l) => l.message.includes('blocked by the SSRF guard')),
      );
      expect(receiver.deliveries).toEqual([]);
      const { approvals } = await json(await s.api('GET', '/v1/approvals?status=pending'));
      expect(approvals).toHaveLength(1);
      await expectNoSecrets(s);
    } finally {
      await receiver.close();
    }
  });
});
