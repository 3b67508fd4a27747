/**
 * `GET /v1/approvals/events` on a real gateway: an auditor gets `event: pending` with what waits
 * now, then one `event: approval` per event as it happens; an agent token gets nothing; closing
 * the gateway ends the stream and answers a held request VEC_APPROVAL_PENDING rather than
 * dropping it.
 */
import {
  approvalGateways,
  waitForPending,
  type ApprovalGateway as Setup,
} from '../helpers/approvals';
import { json } from '../helpers/gateway';

const HOLD = { HumanInTheLoop__HoldSeconds: '600' };

/** `GET /v1/approvals/events` as `token` (the auditor by default). */
function approvalEvents(s: Setup, token = s.auditor): Promise<Response> {
  return fetch(`${s.gateway.urls.http}/v1/approvals/events`, {
    headers: { authorization: `Bearer ${token}` },
  });
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

describe('approval event stream', () => {
  const { upstream, start: setUp } = approvalGateways({ env: HOLD, secret: 'events-secret' });

  it('an auditor gets the pending list, then created, approved, used and denied as they happen', async () => {
    const s = await setUp();
    const first = s.call('/one', { method: 'POST', body: '{"n":1}' });
    const [waiting] = await waitForPending(s, 1);

    const res = await approvalEvents(s);
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
    const s = await setUp();
    const res = await approvalEvents(s, s.agentToken);
    expect([401, 403]).toContain(res.status);
    expect(res.headers.get('content-type')).not.toMatch(/event-stream/);
    expect((await json(res)).code).toMatch(/^VEC_AUTH_/);
  });

  it('closing the gateway ends the stream and answers a held request pending', async () => {
    const s = await setUp();
    const held = s.call('/held', { method: 'POST', body: '{}' });
    const [id] = await waitForPending(s, 1);
    const res = await approvalEvents(s);
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
