/**
 * `GET /v1/approvals/events` on a real gateway: an auditor gets `event: pending` with what waits
 * now, then one `event: approval` per event as it happens; an agent token gets nothing; closing
 * the gateway ends the stream and answers a held request VEC_APPROVAL_PENDING rather than
 * dropping it.
 */
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { json, REPO_ROOT, startTestGateway, upstreamAndGateways } from '../helpers/gateway';
import type { TestUpstream } from '../helpers/upstream';
import { waitFor } from '../helpers/waiting-and-processes';

const HOLD = { HumanInTheLoop__HoldSeconds: '600' };

interface Setup {
  gateway: Gateway;
  call(path: string, init?: RequestInit): Promise<Response>;
  api(method: string, path: string, body?: unknown): Promise<Response>;
  auditor: string;
  agentToken: string;
}

async function setUp(upstream: TestUpstream): Promise<Setup> {
  const gateway = await startTestGateway({
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
    ...HOLD,
  });
  await gateway.vaults.createVault({ name: 'writes' });
  await gateway.vaults.setCredential('writes', 'KEY', 'events-secret');
  await gateway.vaults.createService('writes', {
    name: 'local',
    host: `localhost:${upstream.httpPort}`,
    scheme: 'http',
    auth: { type: 'bearer', credential: 'KEY' },
  });
  const agentToken = (
    await gateway.identity.createAgent({ name: 'writer-bot', vaults: ['writes'] })
  ).token;
  const approver = (await gateway.identity.createAdminToken({ name: 'alice', role: 'approver' }))
    .token;
  const auditor = (await gateway.identity.createAdminToken({ name: 'audrey', role: 'auditor' }))
    .token;
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${gateway.urls.http}/proxy/${upstream.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
    });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${gateway.urls.http}${path}`, {
      method,
      headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { gateway, call, api, auditor, agentToken };
}

interface SseEvent {
  event: string;
  data: any;
}

/** Reads server-sent events off a response: `next()` the next one, or undefined at its end. */
function sseReader(res: Response): {
  next(): Promise<SseEvent | undefined>;
  cancel(): Promise<void>;
} {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
          if (event === undefined) continue; // retry, comments, heartbeats
          return { event, data: data === undefined ? undefined : JSON.parse(data) };
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

async function pendingIds(s: Setup, count: number): Promise<string[]> {
  let ids: string[] = [];
  await waitFor(`${count} pending approvals`, async () => {
    const body = await json(await s.api('GET', '/v1/approvals?status=pending'));
    ids = body.approvals.map((a: { id: string }) => a.id);
    return ids.length >= count;
  });
  return ids;
}

describe('approval event stream', () => {
  const { upstream, gateways } = upstreamAndGateways([]);

  it('an auditor gets the pending list, then created, approved, used and denied as they happen', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const first = s.call('/one', { method: 'POST', body: '{"n":1}' });
    const [waiting] = await pendingIds(s, 1);

    const res = await fetch(`${s.gateway.urls.http}/v1/approvals/events`, {
      headers: { authorization: `Bearer ${s.auditor}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseReader(res);
    const pending = await events.next();
    expect(pending?.event).toBe('pending');
    expect(pending?.data.approvals.map((a: { id: string }) => a.id)).toEqual([waiting]);
    expect(pending?.data.approvals[0]).not.toHaveProperty('requestKey');

    const second = s.call('/two', { method: 'POST', body: '{"n":2}' });
    const created = await events.next();
    expect(created).toMatchObject({
      event: 'approval',
      data: { type: 'created', approval: { status: 'pending', path: '/two' } },
    });
    const secondId = created!.data.approval.id as string;

    await s.api('POST', `/v1/approvals/${waiting}/approve`, { scope: 'once' });
    expect(await events.next()).toMatchObject({
      event: 'approval',
      data: { type: 'approved', approval: { id: waiting, status: 'approved' } },
    });
    expect(await events.next()).toMatchObject({
      data: { type: 'used', approval: { id: waiting, status: 'used' } },
    });
    expect((await first).status).toBe(200);

    await s.api('POST', `/v1/approvals/${secondId}/deny`, { reason: 'no' });
    expect(await events.next()).toMatchObject({
      data: { type: 'denied', approval: { id: secondId, status: 'denied', comment: 'no' } },
    });
    expect((await second).headers.get('x-vectra-error')).toBe('VEC_APPROVAL_DENIED');
    await events.cancel();
  });

  it('refuses an agent token', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const res = await fetch(`${s.gateway.urls.http}/v1/approvals/events`, {
      headers: { authorization: `Bearer ${s.agentToken}` },
    });
    expect([401, 403]).toContain(res.status);
    expect(res.headers.get('content-type')).not.toMatch(/event-stream/);
    expect((await json(res)).code).toMatch(/^VEC_AUTH_/);
  });

  it('closing the gateway ends the stream and answers a held request pending', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const held = s.call('/held', { method: 'POST', body: '{}' });
    const [id] = await pendingIds(s, 1);
    const res = await fetch(`${s.gateway.urls.http}/v1/approvals/events`, {
      headers: { authorization: `Bearer ${s.auditor}` },
    });
    const events = sseReader(res);
    expect((await events.next())?.event).toBe('pending');

    const closed = s.gateway.close('test');
    const answer = await held;
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    expect((await json(answer)).approvalId).toBe(id);
    expect(await events.next()).toBeUndefined();
    await closed;
    expect(upstream.received.filter((r) => r.method === 'POST')).toHaveLength(0);
  });
});
