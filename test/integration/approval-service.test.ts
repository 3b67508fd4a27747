/**
 * The approval service on real SQLite and real PostgreSQL (a fresh database per test), with an
 * injected clock and timers so nothing sleeps: asking, the per-agent queue limit, deciding once
 * (two racing approvers: one wins), using a `once` approval once (two racing retries: one
 * wins), expiry on the poll's tick, holding a request (decision, timeout, cancellation,
 * release at shutdown), a second replica's decision reaching the first by the database poll or
 * by pub/sub, standing approvals, and the list's filters.
 */
import { MemoryCache } from '../../src/cache/memory';
import {
  createApprovalService,
  type ApprovalService,
  type ApprovalServiceConfig,
  type NewApproval,
  type WaitOutcome,
} from '../../src/approvals/approval-service';
import { standingMatch } from '../../src/approvals/standing';
import type { ApprovalEvent } from '../../src/approvals/types';
import type { AuditEntry } from '../../src/audit/audit-repository';
import { isGatewayError } from '../../src/errors';
import { silentLogger } from '../../src/observability/types';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { waitFor } from '../helpers/waiting-and-processes';
import { databaseSubjects, rejects } from './storage-test-helpers';

const START = Date.parse('2030-01-02T03:04:05.000Z');
const CONFIG: ApprovalServiceConfig = { TimeoutSeconds: 60, MaxPendingPerAgent: 3, PollSeconds: 2 };
const ALICE = { id: 'adm_1', name: 'alice' };
const BOB = { id: 'adm_2', name: 'bob' };

/** A clock and timers that move only when told to. */
function manualTime() {
  let now = START;
  let nextId = 1;
  const timeouts = new Map<number, { due: number; callback: () => void }>();
  const intervals: Array<{ callback: () => void; ms: number }> = [];
  return {
    now: () => now,
    setTimeout(callback: () => void, ms: number): unknown {
      const id = nextId++;
      timeouts.set(id, { due: now + ms, callback });
      return id;
    },
    clearTimeout(handle: unknown): void {
      timeouts.delete(handle as number);
    },
    setInterval(callback: () => void, ms: number): unknown {
      intervals.push({ callback, ms });
      return intervals.length;
    },
    clearInterval(): void {},
    intervals,
    /** Moves the clock and fires the timeouts now due, in order. */
    advance(ms: number): void {
      now += ms;
      const due = [...timeouts.entries()]
        .filter(([, t]) => t.due <= now)
        .sort((a, b) => a[1].due - b[1].due);
      for (const [id, t] of due) {
        timeouts.delete(id);
        t.callback();
      }
    },
    pendingTimeouts: () => timeouts.size,
  };
}

/** What the approval stage would ask for; `fields` override. */
function asked(fields: Partial<NewApproval> = {}): NewApproval {
  return {
    requestId: 'req-1',
    requestKey: `key-${Math.random()}`,
    agent: 'writer-bot',
    vault: 'writes',
    service: 'local',
    method: 'POST',
    scheme: 'https',
    host: 'api.example.com',
    port: 443,
    path: '/repos/a/issues',
    url: 'https://api.example.com/repos/a/issues',
    headers: { 'content-type': 'application/json' },
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    bodySize: 0,
    bodyPreview: null,
    explanation: 'A human must approve this request: the policy asks for review.',
    risk: null,
    reasons: ['the policy asks for review'],
    ...fields,
  };
}

/** Resolves `promise` into a box, so a test can see whether it has settled yet. */
function track<T>(promise: Promise<T>): { settled: () => boolean; value: Promise<T> } {
  let settled = false;
  const value = promise.finally(() => (settled = true));
  return { settled: () => settled, value };
}

/** Lets queued promise callbacks and I/O callbacks run (no timer, no sleep). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

for (const subject of databaseSubjects('vectra-approvals-')) {
  subject.describe(`approval service on ${subject.name}`, () => {
    let target: Awaited<ReturnType<typeof subject.create>>;
    let db: Database;
    let time: ReturnType<typeof manualTime>;
    const services: ApprovalService[] = [];
    const caches: MemoryCache[] = [];

    interface Replica {
      service: ApprovalService;
      /** Every event its listeners were told (its own and, through pub/sub, the others'). */
      events: ApprovalEvent[];
      /** What it handed the webhook. */
      notified: ApprovalEvent[];
      audit: AuditEntry[];
    }

    async function replica(
      options: { cache?: MemoryCache; config?: Partial<ApprovalServiceConfig> } = {},
    ): Promise<Replica> {
      const cache = options.cache ?? new MemoryCache({ sweepIntervalMs: 0 });
      caches.push(cache);
      const notified: ApprovalEvent[] = [];
      const audit: AuditEntry[] = [];
      const service = createApprovalService(
        { ...CONFIG, ...options.config },
        {
          db,
          cache,
          logger: silentLogger,
          audit: { record: (entry) => audit.push(entry) },
          notify: (event) => notified.push(event),
          now: time.now,
          timers: time,
        },
      );
      services.push(service);
      await service.start();
      const events: ApprovalEvent[] = [];
      service.subscribe((event) => events.push(event));
      return { service, events, notified, audit };
    }

    beforeEach(async () => {
      target = await subject.create();
      db = await openDatabase(target.config);
      time = manualTime();
    });

    afterEach(async () => {
      for (const service of services.splice(0)) await service.close();
      for (const cache of caches.splice(0)) await cache.close().catch(() => undefined);
      await db.close();
      await target.drop();
    });

    it('asks for an approval: pending, stored, one created event, audit row and notification', async () => {
      const { service, events, notified, audit } = await replica();
      const approval = await service.request(asked({ requestId: 'req-42', requestKey: 'k1' }));
      expect(approval).toMatchObject({
        status: 'pending',
        agent: 'writer-bot',
        createdAt: new Date(START).toISOString(),
        expiresAt: new Date(START + 60_000).toISOString(),
        decidedAt: null,
        scope: null,
      });
      expect(approval.id).toMatch(/^apr_[0-9a-f]{32}$/);
      const stored = await service.get(approval.id);
      expect(stored).toMatchObject({ id: approval.id, requestKey: 'k1', status: 'pending' });
      expect((await service.latestForRequest('k1'))?.id).toBe(approval.id);
      expect(events.map((e) => e.type)).toEqual(['created']);
      expect(notified.map((e) => e.type)).toEqual(['created']);
      // Nothing outside the service sees the request key.
      expect(events[0].approval).not.toHaveProperty('requestKey');
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        requestId: 'req-42',
        event: 'approval.created',
        errorCode: 'VEC_APPROVAL_PENDING',
        decision: 'deny',
        approvalId: approval.id,
      });
      expect(await service.get('apr_missing')).toBeUndefined();
    });

    it('refuses a request beyond MaxPendingPerAgent with VEC_APPROVAL_QUEUE_FULL', async () => {
      const { service } = await replica({ config: { MaxPendingPerAgent: 2 } });
      const first = await service.request(asked());
      await service.request(asked());
      const full = await rejects(service.request(asked()), 'VEC_APPROVAL_QUEUE_FULL');
      expect(full.statusCode).toBe(429);
      expect(full.context).toMatchObject({ pending: 2 });
      // Another agent has its own queue.
      await service.request(asked({ agent: 'other-bot' }));
      // A decision makes room.
      await service.deny(first.id, ALICE, 'no');
      await service.request(asked());
      await rejects(service.request(asked()), 'VEC_APPROVAL_QUEUE_FULL');
      // So does expiry, even before a tick records it.
      time.advance(60_000);
      await service.request(asked());
    });

    it('decides once: a second approve or deny is VEC_APPROVAL_DECIDED (409)', async () => {
      const { service, events, audit } = await replica();
      const approval = await service.request(asked());
      const approved = await service.approve(approval.id, ALICE, {
        scope: 'once',
        comment: 'fine',
      });
      expect(approved).toMatchObject({
        status: 'approved',
        scope: 'once',
        decidedBy: ALICE,
        comment: 'fine',
        decidedAt: new Date(START).toISOString(),
        standingUntil: null,
        pathPattern: null,
      });
      expect(approved).not.toHaveProperty('requestKey');
      const again = await rejects(
        service.approve(approval.id, BOB, { scope: 'always' }),
        'VEC_APPROVAL_DECIDED',
      );
      expect(again.statusCode).toBe(409);
      expect(again.message).toContain('is approved');
      await rejects(service.deny(approval.id, BOB, 'late'), 'VEC_APPROVAL_DECIDED');
      await rejects(
        service.approve('apr_nope', ALICE, { scope: 'once' }),
        'VEC_APPROVAL_NOT_FOUND',
      );
      expect((await service.get(approval.id))?.decidedBy).toEqual(ALICE);
      expect(events.map((e) => e.type)).toEqual(['created', 'approved']);
      expect(audit.map((a) => [a.event, a.decision])).toEqual([
        ['approval.created', 'deny'],
        ['approval.approved', 'allow'],
      ]);

      const denied = await service.request(asked());
      expect(await service.deny(denied.id, ALICE, 'not on a Friday')).toMatchObject({
        status: 'denied',
        comment: 'not on a Friday',
        scope: null,
      });
      await rejects(service.approve(denied.id, BOB, { scope: 'once' }), 'VEC_APPROVAL_DECIDED');
      expect(audit.at(-1)).toMatchObject({
        event: 'approval.denied',
        errorCode: 'VEC_APPROVAL_DENIED',
      });
    });

    it('two approvers racing (on two replicas): exactly one wins, the other gets 409', async () => {
      const a = await replica();
      const b = await replica();
      for (let round = 0; round < 5; round += 1) {
        const { id } = await a.service.request(asked());
        const results = await Promise.allSettled([
          a.service.approve(id, ALICE, { scope: 'once' }),
          b.service.approve(id, BOB, { scope: 'always' }),
          a.service.deny(id, BOB, 'no'),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const lost of results.filter((r) => r.status === 'rejected')) {
          const error = (lost as PromiseRejectedResult).reason as unknown;
          expect(isGatewayError(error) && error.code).toBe('VEC_APPROVAL_DECIDED');
        }
        const winner = (won[0] as PromiseFulfilledResult<{ status: string; decidedBy: unknown }>)
          .value;
        const stored = await a.service.get(id);
        expect(stored).toMatchObject({ status: winner.status, decidedBy: winner.decidedBy });
      }
      const decisions = [...a.audit, ...b.audit].filter((e) => e.event !== 'approval.created');
      expect(decisions).toHaveLength(5);
    });

    it('uses a once approval once: two racing retries, one wins; then it is used', async () => {
      const a = await replica();
      const b = await replica();
      const { id } = await a.service.request(asked());
      const pending = (await a.service.get(id))!;
      expect(await a.service.use(pending, 'req-early')).toBe(false);
      const approved = await a.service.approve(id, ALICE, { scope: 'once' });
      const used = await Promise.all([
        a.service.use(approved, 'req-a'),
        b.service.use(approved, 'req-b'),
      ]);
      expect(used.filter(Boolean)).toHaveLength(1);
      expect(await a.service.use(approved, 'req-c')).toBe(false);
      const stored = await a.service.get(id);
      expect(stored).toMatchObject({ status: 'used', usedAt: new Date(START).toISOString() });
      const usedRows = [...a.audit, ...b.audit].filter((e) => e.event === 'approval.used');
      expect(usedRows).toHaveLength(1);
      expect(['req-a', 'req-b']).toContain(usedRows[0].requestId);
      await rejects(a.service.approve(id, ALICE, { scope: 'once' }), 'VEC_APPROVAL_DECIDED');

      // A standing approval is never "used up".
      const standing = await a.service.request(asked());
      const always = await a.service.approve(standing.id, ALICE, { scope: 'always' });
      expect(await a.service.use(always, 'req-d')).toBe(false);
      expect((await a.service.get(standing.id))?.status).toBe('approved');
    });

    it('expires on the tick once the clock passes expiry: one event, one audit row, the held wait ends', async () => {
      const { service, events, notified, audit } = await replica();
      const { id } = await service.request(asked());
      const wait = track(service.waitForDecision(id, 120_000));
      expect(service.held()).toBe(1);

      time.advance(59_999);
      await service.tick();
      expect((await service.get(id))?.status).toBe('pending');

      time.advance(1);
      // Past expiry the read already says so, before any tick records it.
      expect((await service.get(id))?.status).toBe('expired');
      await service.tick();
      const outcome = await wait.value;
      expect(outcome).toMatchObject({ kind: 'expired', approval: { id, status: 'expired' } });
      expect(service.held()).toBe(0);
      await service.tick();
      expect(events.filter((e) => e.type === 'expired')).toHaveLength(1);
      expect(notified.filter((e) => e.type === 'expired')).toHaveLength(1);
      const rows = audit.filter((e) => e.event === 'approval.expired');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ errorCode: 'VEC_APPROVAL_EXPIRED', approvalId: id });
      await rejects(service.approve(id, ALICE, { scope: 'once' }), 'VEC_APPROVAL_DECIDED');
      expect(time.pendingTimeouts()).toBe(0);
    });

    it('two replicas ticking at once expire each approval once', async () => {
      const a = await replica({ config: { MaxPendingPerAgent: 10 } });
      const b = await replica();
      for (let i = 0; i < 4; i += 1) await a.service.request(asked());
      time.advance(60_000);
      await Promise.all([a.service.tick(), b.service.tick(), a.service.tick()]);
      const expired = [...a.audit, ...b.audit].filter((e) => e.event === 'approval.expired');
      expect(expired).toHaveLength(4);
      expect(new Set(expired.map((e) => e.approvalId)).size).toBe(4);
    });

    it('counts pending approvals from its events, and recounts them from the database on the tick', async () => {
      // Separate caches: no pub/sub between the replicas, only the database.
      const a = await replica();
      const b = await replica();
      const first = await a.service.request(asked());
      await a.service.request(asked());
      expect(a.service.pendingCount()).toBe(2);
      expect(b.service.pendingCount()).toBe(0);
      await b.service.tick();
      expect(b.service.pendingCount()).toBe(2);

      await a.service.approve(first.id, ALICE, { scope: 'once' });
      expect(a.service.pendingCount()).toBe(1);
      await b.service.tick();
      expect(b.service.pendingCount()).toBe(1);
      // A replica started now counts what is pending at once.
      expect((await replica()).service.pendingCount()).toBe(1);

      time.advance(60_000);
      await a.service.tick();
      expect(a.service.pendingCount()).toBe(0);
    });

    it('a held wait ends with the decision made on the same replica', async () => {
      const { service } = await replica();
      const { id } = await service.request(asked());
      const wait = service.waitForDecision(id, 120_000);
      await service.deny(id, ALICE, 'no');
      expect(await wait).toMatchObject({
        kind: 'decided',
        approval: { id, status: 'denied', comment: 'no' },
      });
      // Waiting on what is already decided ends at once.
      expect(await service.waitForDecision(id, 120_000)).toMatchObject({ kind: 'decided' });
      expect(service.held()).toBe(0);
      expect(time.pendingTimeouts()).toBe(0);
    });

    it('a held wait times out after holdMs, is cancelled by its signal, or released at shutdown', async () => {
      const { service } = await replica();
      const { id } = await service.request(asked());

      const timed = track(service.waitForDecision(id, 25_000));
      time.advance(24_999);
      await turn();
      expect(timed.settled()).toBe(false);
      time.advance(1);
      expect(await timed.value).toEqual({ kind: 'timeout' });

      const controller = new AbortController();
      const cancelled = service.waitForDecision(id, 25_000, controller.signal);
      expect(service.held()).toBe(1);
      controller.abort();
      expect(await cancelled).toEqual({ kind: 'cancelled' });
      expect(service.held()).toBe(0);

      const aborted = new AbortController();
      aborted.abort();
      expect(await service.waitForDecision(id, 25_000, aborted.signal)).toEqual({
        kind: 'cancelled',
      });

      const waits = [1, 2, 3].map(() => service.waitForDecision(id, 25_000));
      expect(service.held()).toBe(3);
      service.releaseHeld();
      expect(await Promise.all(waits)).toEqual([1, 2, 3].map(() => ({ kind: 'timeout' })));
      expect(service.held()).toBe(0);
      expect(time.pendingTimeouts()).toBe(0);
      // Still pending: a released wait decides nothing.
      expect((await service.get(id))?.status).toBe('pending');
    });

    it('a decision on another replica reaches the held wait through the database poll', async () => {
      // Each replica its own Memory cache: pub/sub does not connect them.
      const a = await replica();
      const b = await replica();
      const { id } = await a.service.request(asked());
      const wait = track(a.service.waitForDecision(id, 120_000));
      await b.service.approve(id, BOB, { scope: 'once' });
      await a.service.tick();
      const outcome: WaitOutcome = await wait.value;
      expect(outcome).toMatchObject({
        kind: 'decided',
        approval: { id, status: 'approved', decidedBy: BOB },
      });
      // The poll, not a message: A's listeners never heard of the decision.
      expect(a.events.map((e) => e.type)).toEqual(['created']);
      expect(b.events.map((e) => e.type)).toEqual(['approved']);
    });

    it('the poll runs on the injected interval', async () => {
      const a = await replica();
      const b = await replica();
      expect(time.intervals.map((i) => i.ms)).toEqual([2000, 2000]);
      const { id } = await a.service.request(asked());
      const wait = a.service.waitForDecision(id, 120_000);
      await b.service.deny(id, BOB, 'no');
      time.intervals[0].callback();
      expect(await wait).toMatchObject({ kind: 'decided', approval: { status: 'denied' } });
    });

    it('with a shared cache the decision arrives through pub/sub, without a tick', async () => {
      const cache = new MemoryCache({ sweepIntervalMs: 0 });
      const a = await replica({ cache });
      const b = await replica({ cache });
      const { id } = await a.service.request(asked());
      const wait = a.service.waitForDecision(id, 120_000);
      await b.service.approve(id, BOB, { scope: 'once' });
      expect(await wait).toMatchObject({
        kind: 'decided',
        approval: { id, status: 'approved', decidedBy: BOB },
      });
      expect(b.events.map((e) => e.type)).toEqual(['created', 'approved']);
      // Told, but not re-audited or re-sent: the deciding replica did that. The wait may have
      // ended through the service's own read of the approval, before the message was handled.
      await waitFor('replica A to be told of the decision', () => a.events.length === 2);
      expect(a.events.map((e) => e.type)).toEqual(['created', 'approved']);
      expect(a.audit.map((e) => e.event)).toEqual(['approval.created']);
      expect(a.notified.map((e) => e.type)).toEqual(['created']);
      expect(b.audit.map((e) => e.event)).toEqual(['approval.approved']);
    });

    it('a use on one replica reaches the other replica’s listeners through pub/sub', async () => {
      const cache = new MemoryCache({ sweepIntervalMs: 0 });
      const a = await replica({ cache });
      const b = await replica({ cache });
      const { id } = await a.service.request(asked());
      const approved = await a.service.approve(id, ALICE, { scope: 'once' });
      expect(await a.service.use(approved, 'req-used')).toBe(true);
      await waitFor('the used event on replica b', () => b.events.some((e) => e.type === 'used'));
      expect(b.events.map((e) => e.type)).toEqual(['created', 'approved', 'used']);
      expect(b.events.at(-1)?.approval).toMatchObject({ id, status: 'used' });
      expect(b.audit).toEqual([]);
    });

    it('a listener that throws does not fail the request or the use', async () => {
      const { service, audit } = await replica();
      service.subscribe(() => {
        throw new Error('listener broke');
      });
      const approval = await service.request(asked());
      const approved = await service.approve(approval.id, ALICE, { scope: 'once' });
      expect(await service.use(approved, 'req-x')).toBe(true);
      expect(audit.map((e) => e.event)).toEqual([
        'approval.created',
        'approval.approved',
        'approval.used',
      ]);
    });

    it('standing session approval: covers the pattern until the clock passes standingUntil', async () => {
      const { service } = await replica();
      const { id } = await service.request(asked());
      const approved = await service.approve(id, ALICE, {
        scope: 'session',
        minutes: 30,
        pathPattern: '/repos/*/issues',
      });
      expect(approved.standingUntil).toBe(new Date(START + 30 * 60_000).toISOString());
      const origin = {
        agent: 'writer-bot',
        vault: 'writes',
        method: 'POST',
        scheme: 'https',
        host: 'api.example.com',
        port: 443,
      };
      const inForce = await service.standingFor(origin);
      expect(inForce.map((a) => a.id)).toEqual([id]);
      expect(standingMatch(inForce, '/repos/b/issues?page=2')?.id).toBe(id);
      expect(standingMatch(inForce, '/repos/b/pulls')).toBeUndefined();
      for (const other of [
        { agent: 'other-bot' },
        { vault: 'reads' },
        { method: 'DELETE' },
        { scheme: 'http' },
        { host: 'api.example.org' },
        { port: 8443 },
      ]) {
        expect(await service.standingFor({ ...origin, ...other })).toEqual([]);
      }
      expect((await service.listStanding({ agent: 'writer-bot' })).map((a) => a.id)).toEqual([id]);

      time.advance(30 * 60_000 - 1);
      expect(await service.standingFor(origin)).toHaveLength(1);
      time.advance(1);
      expect(await service.standingFor(origin)).toEqual([]);
      expect(await service.listStanding({})).toEqual([]);
      await rejects(service.revoke(id, ALICE), 'VEC_APPROVAL_NOT_FOUND');
    });

    it('standing always approval: the request path without a pattern, until revoked', async () => {
      const { service, events, audit } = await replica();
      const { id } = await service.request(asked({ path: '/hooks', method: 'DELETE' }));
      await service.approve(id, ALICE, { scope: 'always' });
      const origin = {
        agent: 'writer-bot',
        vault: 'writes',
        method: 'DELETE',
        scheme: 'https',
        host: 'api.example.com',
        port: 443,
      };
      time.advance(365 * 24 * 3600_000);
      const inForce = await service.standingFor(origin);
      expect(standingMatch(inForce, '/hooks?x=1')?.id).toBe(id);
      expect(standingMatch(inForce, '/hooks/1')).toBeUndefined();

      const revoked = await service.revoke(id, BOB);
      expect(revoked).toMatchObject({ id, revokedAt: new Date(time.now()).toISOString() });
      expect(await service.standingFor(origin)).toEqual([]);
      await rejects(service.revoke(id, BOB), 'VEC_APPROVAL_NOT_FOUND');
      await rejects(service.revoke('apr_nope', BOB), 'VEC_APPROVAL_NOT_FOUND');
      expect(events.map((e) => e.type)).toEqual(['created', 'approved', 'revoked']);
      expect(audit.at(-1)).toMatchObject({ event: 'approval.revoked', approvalId: id });

      // A once approval is not a standing one.
      const once = await service.request(asked());
      await service.approve(once.id, ALICE, { scope: 'once' });
      await rejects(service.revoke(once.id, BOB), 'VEC_APPROVAL_NOT_FOUND');
    });

    it('lists newest first, filtered by status (expired includes pending past expiry), vault, agent, limit', async () => {
      const { service } = await replica();
      const old = await service.request(asked({ agent: 'a', vault: 'v1' }));
      time.advance(1000);
      const approved = await service.request(asked({ agent: 'a', vault: 'v2' }));
      await service.approve(approved.id, ALICE, { scope: 'once' });
      time.advance(1000);
      const denied = await service.request(asked({ agent: 'b', vault: 'v1' }));
      await service.deny(denied.id, ALICE, 'no');
      time.advance(1000);
      const fresh = await service.request(asked({ agent: 'b', vault: 'v2' }));
      // `old` is now past its expiry (created 60 s before), not yet ticked.
      time.advance(57_000);

      const ids = async (query: Parameters<ApprovalService['list']>[0]) =>
        (await service.list(query)).map((a) => a.id);
      expect(await ids({})).toEqual([fresh.id, denied.id, approved.id, old.id]);
      expect(await ids({ status: 'pending' })).toEqual([fresh.id]);
      expect(await ids({ status: 'expired' })).toEqual([old.id]);
      expect((await service.list({ status: 'expired' }))[0].status).toBe('expired');
      expect((await service.list({}))[3].status).toBe('expired');
      expect(await ids({ status: 'approved' })).toEqual([approved.id]);
      expect(await ids({ status: 'denied' })).toEqual([denied.id]);
      expect(await ids({ status: 'used' })).toEqual([]);
      expect(await ids({ vault: 'v1' })).toEqual([denied.id, old.id]);
      expect(await ids({ agent: 'a' })).toEqual([approved.id, old.id]);
      expect(await ids({ agent: 'b', vault: 'v2', status: 'pending' })).toEqual([fresh.id]);
      expect(await ids({ limit: 2 })).toEqual([fresh.id, denied.id]);
      expect(await ids({ limit: 0 })).toEqual([fresh.id]);
      expect((await service.list({}))[0]).not.toHaveProperty('requestKey');

      // Once ticked, the stored status agrees.
      await service.tick();
      expect(await ids({ status: 'expired' })).toEqual([old.id]);
      expect(await ids({ status: 'pending' })).toEqual([fresh.id]);
    });
  });
}
