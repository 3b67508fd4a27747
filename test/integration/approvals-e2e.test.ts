/**
 * The approval workflow through the real proxy, under the shipped `read-only-by-default`
 * policies: a write is held until an approver decides over the API, a pending call can be
 * retried once approved (bound to the exact request), scopes `session` and `always`, denial,
 * expiry, roles, limits, bad input, and the audit rows every step leaves.
 */
import { approvalGateways, waitForPending } from '../helpers/approvals';
import { json } from '../helpers/gateway';

const SECRET = 'approval-e2e-secret-value';
/** Test gateways answer pending at once (testEnv); these tests hold the request instead. */
const HELD = { HumanInTheLoop__HoldSeconds: '25' };

describe('approvals through the proxy', () => {
  const { upstream, start: setUp } = approvalGateways({ secret: SECRET });

  it('a held POST goes through once an approver approves it, with the credential', async () => {
    const s = await setUp(HELD);
    expect((await s.call('/items')).status).toBe(200); // reads pass
    const held = s.call('/items', {
      method: 'POST',
      body: '{"name":"widget","token":"t0p"}',
      headers: { 'x-api-key': 'agent-side-key' },
    });
    const [id] = await waitForPending(s);

    const shown = await json(await s.api('GET', `/v1/approvals/${id}`));
    expect(shown.approval).toMatchObject({
      id,
      agent: 'writer-bot',
      vault: 'writes',
      service: 'local',
      method: 'POST',
      status: 'pending',
      url: `${upstream.httpUrl}/items`,
      bodySize: 31,
    });
    expect(shown.approval.headers['x-api-key']).toBe('[REDACTED]');
    expect(JSON.stringify(shown)).not.toContain('agent-side-key');
    expect(shown.approval.bodyPreview).toBe('{\n  "name": "widget",\n  "token": "[REDACTED]"\n}');
    expect(shown.approval.explanation).toMatch(/need a human's approval/);
    expect(shown.approval.requestKey).toBeUndefined();

    const approved = await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect(approved.status).toBe(200);
    expect((await json(approved)).approval).toMatchObject({
      status: 'approved',
      scope: 'once',
      decidedBy: { name: 'alice' },
    });
    const answer = await held;
    expect(answer.status).toBe(200);
    const posts = upstream.received.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(posts[0].body).toBe('{"name":"widget","token":"t0p"}');
    // Used up: deciding again is a conflict.
    const again = await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect(again.status).toBe(409);
    expect((await json(again)).code).toBe('VEC_APPROVAL_DECIDED');
    expect((await json(await s.api('GET', `/v1/approvals/${id}`))).approval.status).toBe('used');
  });

  it('pending at once, then the identical retry passes once; another body asks anew', async () => {
    const s = await setUp();
    const first = await s.call('/orders', { method: 'POST', body: '{"n":1}' });
    expect(first.status).toBe(403);
    expect(first.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    expect(first.headers.get('retry-after')).toBe('10');
    const pending = await json(first);
    expect(pending.message).toMatch(
      /^A human must approve this call; retry the same request after approval \(approval apr_[0-9a-f]+, expires at /,
    );
    const id = pending.approvalId as string;

    // Retrying before a decision finds the same approval, not a new one.
    expect(
      (await json(await s.call('/orders', { method: 'POST', body: '{"n":1}' }))).approvalId,
    ).toBe(id);
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once', comment: 'fine' });

    const changed = await s.call('/orders', { method: 'POST', body: '{"n":2}' });
    expect(changed.status).toBe(403);
    expect((await json(changed)).approvalId).not.toBe(id);
    expect(upstream.received.filter((r) => r.method === 'POST')).toHaveLength(0);

    const retried = await s.call('/orders', { method: 'POST', body: '{"n":1}' });
    expect(retried.status).toBe(200);
    const once = await s.call('/orders', { method: 'POST', body: '{"n":1}' });
    expect(once.status).toBe(403);
    expect((await json(once)).approvalId).not.toBe(id);
    expect(upstream.received.filter((r) => r.method === 'POST').map((r) => r.body)).toEqual([
      '{"n":1}',
    ]);
  });

  it('X-Vectra-Approval names the approval, still bound to the request; never sent upstream', async () => {
    const s = await setUp();
    const id = (await json(await s.call('/named', { method: 'PUT', body: '{}' }))).approvalId;
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    const other = await s.call('/named/other', {
      method: 'PUT',
      body: '{}',
      headers: { 'x-vectra-approval': id },
    });
    expect(other.status).toBe(403);
    expect((await json(other)).approvalId).not.toBe(id);
    const ok = await s.call('/named', {
      method: 'PUT',
      body: '{}',
      headers: { 'x-vectra-approval': id },
    });
    expect(ok.status).toBe(200);
    const put = upstream.received.find((r) => r.method === 'PUT')!;
    expect(put.headers['x-vectra-approval']).toBeUndefined();
  });

  it('deny with a reason: the held call and its retries get VEC_APPROVAL_DENIED', async () => {
    const s = await setUp(HELD);
    const held = s.call('/danger', { method: 'POST', body: '{}' });
    const [id] = await waitForPending(s);
    const missing = await s.api('POST', `/v1/approvals/${id}/deny`, {});
    expect(missing.status).toBe(400);
    expect(await json(missing)).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'reason' });
    await s.api('POST', `/v1/approvals/${id}/deny`, { reason: 'not on a Friday' });
    const answer = await held;
    expect(answer.status).toBe(403);
    expect(await json(answer)).toMatchObject({
      code: 'VEC_APPROVAL_DENIED',
      reason: 'not on a Friday',
      approvalId: id,
    });
    const retry = await s.call('/danger', { method: 'POST', body: '{}' });
    expect((await json(retry)).code).toBe('VEC_APPROVAL_DENIED');
    expect(upstream.received).toHaveLength(0);
  });

  it('scope session covers the path pattern for a while; always until revoked', async () => {
    const s = await setUp();
    const id = (await json(await s.call('/repos/a/issues', { method: 'POST', body: '{"t":1}' })))
      .approvalId;
    const bad = await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'session' });
    expect(await json(bad)).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'minutes' });
    await s.api('POST', `/v1/approvals/${id}/approve`, {
      scope: 'session',
      minutes: 30,
      pathPattern: '/repos/*/issues',
    });
    expect((await s.call('/repos/b/issues', { method: 'POST', body: '{"t":2}' })).status).toBe(200);
    expect((await s.call('/repos/b/issues', { method: 'POST', body: '{"t":3}' })).status).toBe(200);
    expect((await s.call('/repos/b/pulls', { method: 'POST', body: '{}' })).status).toBe(403);
    expect((await s.call('/repos/b/issues', { method: 'PATCH', body: '{}' })).status).toBe(403);

    const always = (await json(await s.call('/hooks', { method: 'DELETE' }))).approvalId;
    await s.api('POST', `/v1/approvals/${always}/approve`, { scope: 'always' });
    expect((await s.call('/hooks', { method: 'DELETE' })).status).toBe(200);
    const standing = await json(await s.api('GET', '/v1/approvals/standing', undefined, s.auditor));
    expect(standing.standing.map((a: { id: string }) => a.id).sort()).toEqual([id, always].sort());

    // A dry run says which standing approval lets the request through.
    const dry = await s.api('POST', '/v1/policy/evaluate', {
      agent: 'writer-bot',
      vault: 'writes',
      method: 'DELETE',
      url: `${upstream.httpUrl}/hooks`,
    });
    expect((await json(dry)).approval).toEqual({
      required: false,
      standingApproval: always,
      message: `allowed by standing approval ${always}`,
    });

    const revoked = await s.api('DELETE', `/v1/approvals/standing/${always}`);
    expect(revoked.status).toBe(200);
    expect((await s.call('/hooks', { method: 'DELETE' })).status).toBe(403);
  });

  it('roles: auditors read but cannot decide; agent tokens get nothing', async () => {
    const s = await setUp();
    const id = (await json(await s.call('/x', { method: 'POST', body: '{}' }))).approvalId;
    expect((await s.api('GET', `/v1/approvals/${id}`, undefined, s.auditor)).status).toBe(200);
    const refused = await s.api(
      'POST',
      `/v1/approvals/${id}/approve`,
      { scope: 'once' },
      s.auditor,
    );
    expect(refused.status).toBe(403);
    expect((await json(refused)).code).toBe('VEC_AUTH_FORBIDDEN');
    for (const [method, path] of [
      ['GET', '/v1/approvals'],
      ['GET', `/v1/approvals/${id}`],
      ['POST', `/v1/approvals/${id}/approve`],
      ['POST', `/v1/approvals/${id}/deny`],
      ['GET', '/v1/approvals/standing'],
      ['DELETE', `/v1/approvals/standing/${id}`],
      ['GET', '/v1/approvals/events'],
    ]) {
      const answer = await s.api(
        method,
        path,
        method === 'POST' ? { scope: 'once' } : undefined,
        s.agentToken,
      );
      expect([401, 403]).toContain(answer.status);
    }
    expect((await json(await s.api('GET', `/v1/approvals/${id}`))).approval.status).toBe('pending');
  });

  it('limits and bad input: queue full, unknown ids, malformed decisions', async () => {
    const s = await setUp({
      HumanInTheLoop__MaxPendingPerAgent: '2',
      HumanInTheLoop__PendingStatus: '429',
    });
    const first = await s.call('/q/1', { method: 'POST', body: '{}' });
    expect(first.status).toBe(429);
    expect((await json(first)).code).toBe('VEC_APPROVAL_PENDING');
    await s.call('/q/2', { method: 'POST', body: '{}' });
    const full = await s.call('/q/3', { method: 'POST', body: '{}' });
    expect(full.status).toBe(429);
    expect((await json(full)).code).toBe('VEC_APPROVAL_QUEUE_FULL');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);

    const unknown = await s.api('POST', '/v1/approvals/apr_nope/approve', { scope: 'once' });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).code).toBe('VEC_APPROVAL_NOT_FOUND');
    const [id] = await waitForPending(s);
    for (const [body, field] of [
      [{ scope: 'forever' }, 'scope'],
      [{}, 'scope'],
      [{ scope: 'once', minutes: 5 }, 'minutes'],
      [{ scope: 'session', minutes: 0 }, 'minutes'],
      [{ scope: 'always', pathPattern: 'no-slash' }, 'pathPattern'],
      [{ scope: 'once', comment: 7 }, 'comment'],
    ] as const) {
      const answer = await s.api('POST', `/v1/approvals/${id}/approve`, body);
      expect(answer.status).toBe(400);
      expect(await json(answer)).toMatchObject({ code: 'VEC_REQUEST_INVALID', field });
    }
    const list = await s.api('GET', '/v1/approvals?status=bogus');
    expect(await json(list)).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'status' });
  });

  it('one agent holds at most MaxPendingPerAgent requests; more are answered pending at once', async () => {
    const s = await setUp({ ...HELD, HumanInTheLoop__MaxPendingPerAgent: '1' });
    const held = s.call('/same', { method: 'POST', body: '{}' });
    const [id] = await waitForPending(s);
    const second = await s.call('/same', { method: 'POST', body: '{}' });
    expect(second.status).toBe(403);
    expect(await json(second)).toMatchObject({ code: 'VEC_APPROVAL_PENDING', approvalId: id });
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect((await held).status).toBe(200);
  });

  it('expiry: past TimeoutSeconds the named approval answers VEC_APPROVAL_EXPIRED', async () => {
    const s = await setUp({
      HumanInTheLoop__TimeoutSeconds: '1',
    });
    const id = (await json(await s.call('/late', { method: 'POST', body: '{}' }))).approvalId;
    for (;;) {
      const { approval } = await json(await s.api('GET', `/v1/approvals/${id}`));
      if (approval.status === 'expired') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const late = await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect(late.status).toBe(409);
    const retry = await s.call('/late', {
      method: 'POST',
      body: '{}',
      headers: { 'x-vectra-approval': id },
    });
    expect((await json(retry)).code).toBe('VEC_APPROVAL_EXPIRED');
  });

  it('leaves audit rows for created, approved and used', async () => {
    const s = await setUp();
    const id = (await json(await s.call('/audited', { method: 'POST', body: '{}' }))).approvalId;
    await s.api('POST', `/v1/approvals/${id}/approve`, { scope: 'once' });
    expect((await s.call('/audited', { method: 'POST', body: '{}' })).status).toBe(200);
    await s.gateway.audit.flush();
    const rows = await s.gateway.audit.query({ vault: 'writes', limit: 50 });
    const events = rows.filter((r) => r.approvalId === id).map((r) => r.event);
    expect(events.sort()).toEqual(['approval.approved', 'approval.created', 'approval.used']);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(SECRET);
  });
});
