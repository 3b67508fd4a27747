/**
 * What the approval stage holds and what it answers at once, through the real gateway under the
 * shipped policies (every write needs a human): a body too large to hold, a body too large to
 * read, the held-request limit, a client that leaves while held, and whose approval a request
 * may use (a session is bound by its session; agent B never uses agent A's approval, even when
 * it names it).
 */
import { randomBytes } from 'node:crypto';
import {
  approvalGateways,
  expectPending,
  listApprovals as approvals,
  waitForPending,
} from '../helpers/approvals';
import { json } from '../helpers/gateway';
import { waitFor } from '../helpers/waiting-and-processes';

/** Long enough that a request held by mistake fails the test by its timeout. */
const HOLD = { HumanInTheLoop__HoldSeconds: '600' };

describe('approval stage: holding and binding through the gateway', () => {
  const { upstream, start: setUp } = approvalGateways({
    secret: 'stage-hold-secret',
    contentType: 'application/octet-stream',
  });
  const posts = () => upstream.received.filter((r) => r.method !== 'GET');

  it('a body over Policy.MaxBodyBytes is not held; its approved retry forwards the full body', async () => {
    const s = await setUp({ ...HOLD, Policy__MaxBodyBytes: '1024' });
    const body = randomBytes(48 * 1024).toString('base64');
    const id = await expectPending(await s.call('/upload', { method: 'POST', body }));
    expect((await approvals(s))[0]).toMatchObject({
      id,
      status: 'pending',
      bodySize: body.length,
    });
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    const retried = await s.call('/upload', { method: 'POST', body });
    expect(retried.status).toBe(200);
    expect(posts()).toHaveLength(1);
    expect(posts()[0].body).toBe(body);
    expect(posts()[0].headers['content-length']).toBe(String(body.length));
  });

  it('a body over System.Proxy.MaxRequestBodyBytes is VEC_REQUEST_TOO_LARGE, with or without a length', async () => {
    const s = await setUp({ ...HOLD, System__Proxy__MaxRequestBodyBytes: '16384' });
    const body = 'x'.repeat(20_000);
    const sized = await s.call('/big', { method: 'POST', body });
    expect(sized.status).toBe(413);
    expect(sized.headers.get('x-vectra-error')).toBe('VEC_REQUEST_TOO_LARGE');
    const chunked = await s.call('/big', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 5; i += 1)
            controller.enqueue(new TextEncoder().encode(body.slice(0, 5000)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(chunked.headers.get('x-vectra-error')).toBe('VEC_REQUEST_TOO_LARGE');
    expect(await approvals(s)).toEqual([]);
    expect(posts()).toHaveLength(0);
  });

  it('with MaxHeldRequests held, the next request is answered pending at once', async () => {
    const s = await setUp({ ...HOLD, HumanInTheLoop__MaxHeldRequests: '1' });
    const held = s.call('/first', { method: 'POST', body: '1' });
    const [first] = await waitForPending(s);
    const second = await expectPending(await s.call('/second', { method: 'POST', body: '2' }));
    expect(second).not.toBe(first);
    await s.api('POST', `/v1/approvals/${first}/deny`, { reason: 'no' });
    expect((await held).headers.get('x-vectra-error')).toBe('VEC_APPROVAL_DENIED');
    expect(posts()).toHaveLength(0);
  });

  it('a client that leaves while held leaves the approval pending and sends nothing upstream', async () => {
    const s = await setUp(HOLD);
    const controller = new AbortController();
    const held = s.call('/leave', { method: 'POST', body: '{"n":1}', signal: controller.signal });
    const [id] = await waitForPending(s);
    controller.abort();
    await expect(held).rejects.toThrow();
    // The gateway saw the client go: the exchange's audit row says so.
    await waitFor('the closed exchange in the audit log', async () => {
      await s.gateway.audit.flush();
      const rows = await s.gateway.audit.query({ vault: 'writes', limit: 50 });
      return rows.some((r) => r.path === '/leave' && r.errorCode === 'VEC_CLIENT_CLOSED');
    });
    expect((await approvals(s))[0]).toMatchObject({ id, status: 'pending' });
    // Approved now, the departed request does not take the approval or reach the upstream.
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect((await json(await s.api('GET', `/v1/approvals/${id}`))).approval.status).toBe(
      'approved',
    );
    expect(posts()).toHaveLength(0);
    const retried = await s.call('/leave', { method: 'POST', body: '{"n":1}' });
    expect(retried.status).toBe(200);
    expect(posts().map((r) => r.body)).toEqual(['{"n":1}']);
  });

  it('a session token without an agent is bound by its session', async () => {
    const s = await setUp();
    const one = await s.gateway.identity.mintSession({ vault: 'writes' });
    const two = await s.gateway.identity.mintSession({ vault: 'writes' });
    const send = (token: string) => s.call('/session', { method: 'POST', body: '{"s":1}' }, token);
    const id = await expectPending(await send(one.token));
    const [approval] = await approvals(s);
    expect(approval).toMatchObject({ id, agent: `session:${one.item.id}` });
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });

    const other = await expectPending(
      await s.call(
        '/session',
        { method: 'POST', body: '{"s":1}', headers: { 'x-vectra-approval': id } },
        two.token,
      ),
    );
    expect(other).not.toBe(id);
    // Neither does the agent's own token use it.
    expect(await expectPending(await send(s.agentToken))).not.toBe(id);
    expect(posts()).toHaveLength(0);
    expect((await send(one.token)).status).toBe(200);
    expect(posts()).toHaveLength(1);
  });

  it("agent B cannot use agent A's approval for the same request, even naming it", async () => {
    const s = await setUp();
    const other = (await s.gateway.identity.createAgent({ name: 'other-bot', vaults: ['writes'] }))
      .token;
    const request = { method: 'PUT', body: '{"same":true}' };
    const id = await expectPending(await s.call('/shared', request));
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });

    const named = await s.call(
      '/shared',
      { ...request, headers: { 'x-vectra-approval': id } },
      other,
    );
    const asked = await expectPending(named);
    expect(asked).not.toBe(id);
    expect(await expectPending(await s.call('/shared', request, other))).toBe(asked);
    expect(posts()).toHaveLength(0);
    const mine = await json(await s.api('GET', `/v1/approvals/${id}`));
    expect(mine.approval).toMatchObject({ status: 'approved', agent: 'writer-bot' });
    const theirs = await json(await s.api('GET', `/v1/approvals/${asked}`));
    expect(theirs.approval).toMatchObject({ status: 'pending', agent: 'other-bot' });

    expect((await s.call('/shared', request)).status).toBe(200);
    expect(posts()).toHaveLength(1);
  });
});
