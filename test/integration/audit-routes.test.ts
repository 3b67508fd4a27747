/**
 * `GET /v1/vaults/:vault/logs` and its event stream, served by the real API app (error
 * middleware included) with the real authorizer, mounted the way the admin router mounts routes.
 * The same routes inside a running gateway are exercised by cli-logs.test.ts once wired.
 */
import { randomBytes } from 'node:crypto';
import type { AuditRow } from '../../src/audit/audit-log';
import { openRequestScopes } from '../../src/observability/request-context';
import { auditRoutes } from '../../src/server/admin/audit-routes';
import { buildOpenApi } from '../../src/server/admin/openapi';
import { auditEntries, startAuditRoutesServer, type AuditRoutesServer } from '../helpers/audit';
import { messageInbox } from '../helpers/waiting-and-processes';

interface AuditApi extends AuditRoutesServer {
  tokens: { owner: string; auditor: string; approver: string; agent: string };
}

/** The audit routes with a vault `team`, a token of each role and an agent of `team`. */
async function startAuditApi(): Promise<AuditApi> {
  const api = await startAuditRoutesServer({ heartbeatMs: 50 });
  const { vaults } = api;
  const mint = async (role: 'owner' | 'auditor' | 'approver') =>
    (await vaults.createAdminToken({ name: role, role })).token;
  await vaults.createVault({ name: 'team' });
  const tokens = {
    owner: await mint('owner'),
    auditor: await mint('auditor'),
    approver: await mint('approver'),
    agent: (await vaults.createAgent({ name: 'bot', vaults: ['team'] })).token,
  };
  return { ...api, tokens };
}

const entry = auditEntries((n) => ({
  path: `/items/${n}`,
  latencyMs: 4,
  bytesIn: 0,
  bytesOut: 99,
}));

/** An SSE client: rows arrive in `inbox` (by path); `ended` settles when the server ends it. */
async function follow(url: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const rows: AuditRow[] = [];
  const inbox = messageInbox();
  const ended = (async () => {
    if (!res.ok || !res.body) return;
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (/^event: log$/m.test(block) && data) {
          const row = JSON.parse(data[1]) as AuditRow;
          expect(block).toContain(`id: ${row.id}\n`);
          rows.push(row);
          inbox.handler(row.path);
        }
      }
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) throw error;
  });
  return { res, rows, inbox, ended, close: () => abort.abort() };
}

describe('audit log API', () => {
  let api: AuditApi;

  beforeAll(async () => {
    api = await startAuditApi();
  });

  afterAll(() => api.close());

  const get = async (path: string, token?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api.url}${path}`, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  it('pages a vault newest first with a `next` cursor, for any admin role', async () => {
    for (let i = 0; i < 5; i++) api.audit.record(entry({ vault: 'default' }));
    await api.audit.flush();
    const first = await get('/v1/vaults/default/logs?limit=2', api.tokens.auditor);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body.logs).toHaveLength(2);
    expect(first.body.logs[0].at > first.body.logs[1].at).toBe(true);
    expect(first.body.next).toBe(String(first.body.logs[1].id));
    const second = await get(
      `/v1/vaults/default/logs?limit=2&before=${first.body.next}`,
      api.tokens.approver,
    );
    const third = await get(
      `/v1/vaults/default/logs?limit=2&before=${second.body.next}`,
      api.tokens.owner,
    );
    expect(third.body.logs).toHaveLength(1);
    expect(third.body.next).toBeUndefined();
    const paths = [...first.body.logs, ...second.body.logs, ...third.body.logs].map(
      (r: AuditRow) => r.path,
    );
    expect(new Set(paths).size).toBe(5);
    const since = await get(
      `/v1/vaults/default/logs?since=${encodeURIComponent(third.body.logs[0].at)}`,
      api.tokens.auditor,
    );
    expect(since.body.logs).toHaveLength(5);
  });

  it('never shows query values', async () => {
    const secret = `planted-${randomBytes(8).toString('hex')}`;
    api.audit.record(entry({ path: `/search?q=${secret}&page=1` }));
    await api.audit.flush();
    const res = await fetch(`${api.url}/v1/vaults/team/logs`, {
      headers: { authorization: `Bearer ${api.tokens.auditor}` },
    });
    const text = await res.text();
    expect(text).toContain('/search?q=&page=');
    expect(text).not.toContain(secret);
  });

  it('refuses without a token (401), with an agent token (403), unknown vaults (404), bad options (400)', async () => {
    const cases: Array<[string, string | undefined, number, string, string?]> = [
      ['/v1/vaults/team/logs', undefined, 401, 'VEC_AUTH_REQUIRED'],
      ['/v1/vaults/team/logs', api.tokens.agent, 403, 'VEC_AUTH_FORBIDDEN'],
      ['/v1/vaults/nope/logs', api.tokens.auditor, 404, 'VEC_VAULT_NOT_FOUND'],
      ['/v1/vaults/team/logs?limit=0', api.tokens.auditor, 400, 'VEC_REQUEST_INVALID', 'limit'],
      ['/v1/vaults/team/logs?limit=x', api.tokens.auditor, 400, 'VEC_REQUEST_INVALID', 'limit'],
      [
        '/v1/vaults/team/logs?before=soon',
        api.tokens.auditor,
        400,
        'VEC_REQUEST_INVALID',
        'before',
      ],
      ['/v1/vaults/team/logs?since=1', api.tokens.auditor, 400, 'VEC_REQUEST_INVALID', 'since'],
      ['/v1/vaults/team/logs/stream', undefined, 401, 'VEC_AUTH_REQUIRED'],
      ['/v1/vaults/team/logs/stream', api.tokens.agent, 403, 'VEC_AUTH_FORBIDDEN'],
      ['/v1/vaults/nope/logs/stream', api.tokens.auditor, 404, 'VEC_VAULT_NOT_FOUND'],
      [
        '/v1/vaults/team/logs/stream?after=x',
        api.tokens.auditor,
        400,
        'VEC_REQUEST_INVALID',
        'after',
      ],
    ];
    for (const [path, token, status, code, field] of cases) {
      const res = await get(path, token);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status, code });
      expect(res.headers.get('x-vectra-error')).toBe(code);
      if (field) expect(res.body.field).toBe(field);
    }
  });

  it('streams rows as they are written, to a vault follower only', async () => {
    const follower = await follow(`${api.url}/v1/vaults/team/logs/stream`, {
      authorization: `Bearer ${api.tokens.auditor}`,
    });
    expect(follower.res.status).toBe(200);
    expect(follower.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // An open stream must not keep a log scope (and AsyncLocalStorage's hooks) alive.
    expect(openRequestScopes()).toBe(0);
    api.audit.record(entry({ path: '/live?token=secret' }));
    api.audit.record(entry({ vault: 'default', path: '/elsewhere' }));
    await api.audit.flush();
    await follower.inbox.received(1);
    api.audit.record(entry({ path: '/live-2' }));
    await api.audit.flush();
    await follower.inbox.received(2);
    expect(follower.inbox.messages).toEqual(['/live?token=', '/live-2']);
    follower.close();
    await follower.ended;
  });

  it('replays rows written after `after` (or Last-Event-ID) before going live, without duplicates', async () => {
    for (const how of ['query', 'header']) {
      api.audit.record(entry({ path: `/mark-${how}` }));
      await api.audit.flush();
      const [mark] = await api.audit.query({ vault: 'team', limit: 1 });
      api.audit.record(entry({ path: `/missed-1-${how}` }));
      api.audit.record(entry({ path: `/missed-2-${how}` }));
      await api.audit.flush();
      const follower = await follow(
        `${api.url}/v1/vaults/team/logs/stream${how === 'query' ? `?after=${mark.id}` : ''}`,
        {
          authorization: `Bearer ${api.tokens.auditor}`,
          ...(how === 'header' ? { 'last-event-id': String(mark.id) } : {}),
        },
      );
      await follower.inbox.received(2);
      api.audit.record(entry({ path: `/live-${how}` }));
      await api.audit.flush();
      await follower.inbox.received(3);
      expect(follower.inbox.messages).toEqual([
        `/missed-1-${how}`,
        `/missed-2-${how}`,
        `/live-${how}`,
      ]);
      follower.close();
      await follower.ended;
    }
  });

  it('sends heartbeats, and close() ends open streams so shutdown need not wait for them', async () => {
    const follower = await follow(`${api.url}/v1/vaults/team/logs/stream`, {
      authorization: `Bearer ${api.tokens.auditor}`,
    });
    const reader = await fetch(`${api.url}/v1/vaults/team/logs/stream`, {
      headers: { authorization: `Bearer ${api.tokens.auditor}` },
    });
    const decoder = new TextDecoder();
    let seen = '';
    for await (const chunk of reader.body as unknown as AsyncIterable<Uint8Array>) {
      seen += decoder.decode(chunk, { stream: true });
      if (seen.includes(': ping')) break;
    }
    expect(seen).toContain(': connected');
    api.stream.close();
    await follower.ended; // ended by the server, not aborted by the client
  });

  it('documents both routes for OpenAPI', () => {
    const doc = buildOpenApi([...auditRoutes({} as never, api.audit), api.stream.doc], 't');
    const paths = doc.paths as Record<string, Record<string, { 'x-vectra-access': string }>>;
    expect(paths['/v1/vaults/{vault}/logs'].get['x-vectra-access']).toBe('any');
    expect(paths['/v1/vaults/{vault}/logs/stream'].get['x-vectra-access']).toBe('any');
  });
});
