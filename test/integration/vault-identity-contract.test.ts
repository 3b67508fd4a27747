/**
 * The IdentityService contract for agents, sessions, admin tokens and `authenticate`, run on
 * SQLite and on real PostgreSQL (a fresh database per test). Time is an injected clock, so
 * expiry is tested without sleeping.
 */
import { createHash, randomBytes } from 'node:crypto';
import { MemoryCache } from '../../src/cache/memory';
import type { DatabaseConfig } from '../../src/config/schema';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { SESSION_TTL } from '../../src/identity/types';
import { createVaultServices, type VaultServices } from '../helpers/vault-services';
import { counted, databaseSubjects, rejects } from './storage-test-helpers';

const subjects = databaseSubjects('vectra-identity-');

/** Waits (bounded, no fixed sleep) until `authenticate` answers as expected. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await check()); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(await check()).toBe(true);
}

const wellFormedUnknown = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

describe.each(subjects)('IdentityService: $name', (subject) => {
  subject.describe(subject.name, () => {
    let config: DatabaseConfig;
    let drop: () => Promise<void>;
    let db: Database;
    let cache: MemoryCache;
    let clock: number;
    let vaults: VaultServices;
    const now = () => new Date(clock);
    const cipher = createCipher(randomBytes(32));
    const services: Array<{ close(): Promise<void> }> = [];
    const open = (database: Database = db): VaultServices => {
      const opened = createVaultServices({ db: database, cipher, cache, now });
      services.push(opened);
      return opened;
    };

    beforeEach(async () => {
      clock = Date.parse('2030-06-01T12:00:00.000Z');
      ({ config, drop } = await subject.create());
      db = await openDatabase(config);
      cache = new MemoryCache({ sweepIntervalMs: 0 });
      vaults = createVaultServices({ db, cipher, cache, now });
      services.push(vaults);
      await vaults.createVault({ name: 'team' });
    });

    afterEach(async () => {
      await Promise.all(services.splice(0).map((s) => s.close()));
      await cache.close();
      await db.close();
      await drop();
    });

    describe('agents', () => {
      it('creates an agent with grants; its token authenticates to a frozen principal', async () => {
        const minted = await vaults.createAgent({
          name: 'bot',
          vaults: ['team', 'default', 'team'],
        });
        expect(minted.token).toMatch(/^vec_agt_[A-Za-z0-9_-]{43}$/);
        expect(minted.item).toMatchObject({
          name: 'bot',
          vaults: ['default', 'team'],
          createdAt: '2030-06-01T12:00:00.000Z',
          rotatedAt: null,
        });
        expect(await vaults.listAgents()).toEqual([minted.item]);
        expect(await vaults.getAgent('bot')).toEqual(minted.item);
        const principal = await vaults.authenticate(minted.token);
        expect(principal).toEqual({
          kind: 'agent',
          agentId: minted.item.id,
          agentName: 'bot',
          vaults: ['default', 'team'],
        });
        expect(() => (principal as { vaults: string[] }).vaults.push('x')).toThrow();
        // Only the SHA-256 of the token is stored.
        const row = await db.get<{ token_hash: string }>('SELECT token_hash FROM agents');
        expect(row!.token_hash).toBe(createHash('sha256').update(minted.token).digest('hex'));
      });

      it('refuses bad names, duplicates, unknown vaults (creating nothing) and unknown agents', async () => {
        await rejects(vaults.createAgent({ name: 'Bot!' }), 'VEC_REQUEST_INVALID', 'name');
        await rejects(
          vaults.createAgent({ name: 'bot', vaults: 'team' as never }),
          'VEC_REQUEST_INVALID',
          'vaults',
        );
        const missing = await rejects(
          vaults.createAgent({ name: 'bot', vaults: ['team', 'ghost'] }),
          'VEC_VAULT_NOT_FOUND',
        );
        expect(missing.message).toContain('ghost');
        expect(await vaults.listAgents()).toEqual([]);
        await vaults.createAgent({ name: 'bot' });
        await rejects(vaults.createAgent({ name: 'bot' }), 'VEC_RESOURCE_CONFLICT');
        for (const call of [
          vaults.getAgent('ghost'),
          vaults.rotateAgent('ghost'),
          vaults.deleteAgent('ghost'),
          vaults.grantVault('ghost', 'team'),
          vaults.revokeVault('ghost', 'team'),
        ]) {
          await rejects(call, 'VEC_AGENT_NOT_FOUND');
        }
        await rejects(vaults.grantVault('bot', 'ghost'), 'VEC_VAULT_NOT_FOUND');
      });

      it('rotation refuses the old token at once and the new one works', async () => {
        const created = await vaults.createAgent({ name: 'bot', vaults: ['team'] });
        expect(await vaults.authenticate(created.token)).toBeDefined(); // cached now
        clock += 1000;
        const rotated = await vaults.rotateAgent('bot');
        expect(rotated.token).not.toBe(created.token);
        expect(rotated.item.rotatedAt).toBe('2030-06-01T12:00:01.000Z');
        expect(await vaults.authenticate(created.token)).toBeUndefined();
        expect(await vaults.authenticate(rotated.token)).toMatchObject({ agentName: 'bot' });
      });

      it('deletion refuses the agent token and its sessions at once', async () => {
        const agent = await vaults.createAgent({ name: 'bot', vaults: ['team'] });
        const session = await vaults.mintSession({ vault: 'team', agent: 'bot' });
        expect(await vaults.authenticate(agent.token)).toBeDefined();
        expect(await vaults.authenticate(session.token)).toMatchObject({ agentName: 'bot' });
        await vaults.deleteAgent('bot');
        expect(await vaults.authenticate(agent.token)).toBeUndefined();
        expect(await vaults.authenticate(session.token)).toBeUndefined();
        await rejects(vaults.getAgent('bot'), 'VEC_AGENT_NOT_FOUND');
        expect(await vaults.listSessions()).toEqual([]);
      });

      it('grants and revocations change the principal at once, idempotently', async () => {
        const agent = await vaults.createAgent({ name: 'bot' });
        expect(await vaults.authenticate(agent.token)).toMatchObject({ vaults: [] });
        expect((await vaults.grantVault('bot', 'team')).vaults).toEqual(['team']);
        expect((await vaults.grantVault('bot', 'team')).vaults).toEqual(['team']);
        expect(await vaults.authenticate(agent.token)).toMatchObject({ vaults: ['team'] });
        expect((await vaults.revokeVault('bot', 'team')).vaults).toEqual([]);
        expect((await vaults.revokeVault('bot', 'team')).vaults).toEqual([]);
        expect(await vaults.authenticate(agent.token)).toMatchObject({ vaults: [] });
      });

      it('another instance sharing the cache refuses a rotated token once the message arrives', async () => {
        const replica = open();
        const created = await vaults.createAgent({ name: 'bot' });
        expect(await replica.authenticate(created.token)).toBeDefined();
        const rotated = await vaults.rotateAgent('bot');
        await eventually(async () => (await replica.authenticate(created.token)) === undefined);
        expect(await replica.authenticate(rotated.token)).toBeDefined();
      });
    });

    describe('sessions', () => {
      it('mints for a vault (24 h by default), authenticates, lists without tokens', async () => {
        const minted = await vaults.mintSession({ vault: 'team' });
        expect(minted.token).toMatch(/^vec_sess_[A-Za-z0-9_-]{43}$/);
        expect(minted.item).toEqual({
          id: expect.any(String),
          vault: 'team',
          agent: null,
          createdAt: '2030-06-01T12:00:00.000Z',
          expiresAt: '2030-06-02T12:00:00.000Z',
        });
        expect(await vaults.authenticate(minted.token)).toEqual({
          kind: 'session',
          sessionId: minted.item.id,
          agentName: null,
          vault: 'team',
          expiresAt: minted.item.expiresAt,
        });
        await vaults.createAgent({ name: 'bot', vaults: ['default'] });
        clock += 1000; // listed oldest first
        const forAgent = await vaults.mintSession({
          vault: 'default',
          agent: 'bot',
          ttlSeconds: 300,
        });
        expect(forAgent.item).toMatchObject({
          agent: 'bot',
          expiresAt: '2030-06-01T12:05:01.000Z',
        });
        expect(await vaults.listSessions()).toEqual([minted.item, forAgent.item]);
        expect(await vaults.listSessions('default')).toEqual([forAgent.item]);
        expect(JSON.stringify(await vaults.listSessions())).not.toContain(minted.token);
        await rejects(vaults.listSessions('ghost'), 'VEC_VAULT_NOT_FOUND');
      });

      it('refuses TTLs out of bounds, unknown vaults and agents, and agents without the grant', async () => {
        for (const ttlSeconds of [SESSION_TTL.min - 1, SESSION_TTL.max + 1, 600.5, '3600', 0]) {
          await rejects(
            vaults.mintSession({ vault: 'team', ttlSeconds: ttlSeconds as number }),
            'VEC_REQUEST_INVALID',
            'ttlSeconds',
          );
        }
        await vaults.mintSession({ vault: 'team', ttlSeconds: SESSION_TTL.min });
        await vaults.mintSession({ vault: 'team', ttlSeconds: SESSION_TTL.max });
        await rejects(vaults.mintSession({ vault: 'ghost' }), 'VEC_VAULT_NOT_FOUND');
        await rejects(vaults.mintSession({ vault: 'team', agent: 'ghost' }), 'VEC_AGENT_NOT_FOUND');
        await vaults.createAgent({ name: 'bot', vaults: ['default'] });
        await rejects(
          vaults.mintSession({ vault: 'team', agent: 'bot' }),
          'VEC_REQUEST_INVALID',
          'agent',
        );
      });

      it('expires at its TTL, cached or not, and disappears from the list', async () => {
        const minted = await vaults.mintSession({ vault: 'team', ttlSeconds: 600 });
        expect(await vaults.authenticate(minted.token)).toBeDefined(); // cached now
        clock += 599_999;
        expect(await vaults.authenticate(minted.token)).toBeDefined();
        expect(await vaults.listSessions()).toHaveLength(1);
        clock += 1;
        expect(await vaults.authenticate(minted.token)).toBeUndefined();
        expect(await open().authenticate(minted.token)).toBeUndefined(); // uncached lookup
        expect(await vaults.listSessions()).toEqual([]);
      });

      it('revocation refuses the token at once; a second revocation is 404', async () => {
        const minted = await vaults.mintSession({ vault: 'team' });
        expect(await vaults.authenticate(minted.token)).toBeDefined();
        await vaults.revokeSession(minted.item.id);
        expect(await vaults.authenticate(minted.token)).toBeUndefined();
        await rejects(vaults.revokeSession(minted.item.id), 'VEC_SESSION_NOT_FOUND');
      });
    });

    describe('admin tokens', () => {
      it('creates, lists and authenticates; refuses bad roles, names and duplicates', async () => {
        const owner = await vaults.createAdminToken({ name: 'ops', role: 'owner' });
        expect(owner.token).toMatch(/^vec_adm_[A-Za-z0-9_-]{43}$/);
        const auditor = await vaults.createAdminToken({ name: 'audit', role: 'auditor' });
        expect(await vaults.listAdminTokens()).toEqual([auditor.item, owner.item]);
        expect(await vaults.authenticate(owner.token)).toEqual({
          kind: 'admin',
          tokenId: owner.item.id,
          name: 'ops',
          role: 'owner',
        });
        await rejects(
          vaults.createAdminToken({ name: 'x', role: 'root' as never }),
          'VEC_REQUEST_INVALID',
          'role',
        );
        await rejects(
          vaults.createAdminToken({ name: 'X X', role: 'owner' }),
          'VEC_REQUEST_INVALID',
          'name',
        );
        await rejects(
          vaults.createAdminToken({ name: 'ops', role: 'auditor' }),
          'VEC_RESOURCE_CONFLICT',
        );
      });

      it('revocation refuses the token at once; unknown ids are 404; the last owner stays', async () => {
        const first = await vaults.createAdminToken({ name: 'first', role: 'owner' });
        const second = await vaults.createAdminToken({ name: 'second', role: 'owner' });
        expect(await vaults.authenticate(second.token)).toBeDefined();
        await vaults.revokeAdminToken(second.item.id);
        expect(await vaults.authenticate(second.token)).toBeUndefined();
        await rejects(vaults.revokeAdminToken(second.item.id), 'VEC_ADMIN_TOKEN_NOT_FOUND');
        await rejects(vaults.revokeAdminToken(first.item.id), 'VEC_RESOURCE_CONFLICT');
        expect(await vaults.authenticate(first.token)).toBeDefined();
      });

      it('stores an operator-supplied token, even one looked up (and refused) before', async () => {
        const token = wellFormedUnknown('vec_adm_');
        expect(await vaults.authenticate(token)).toBeUndefined(); // cached as unknown
        await vaults.createAdminToken({ name: 'boot', role: 'owner', token });
        expect(await vaults.authenticate(token)).toMatchObject({ name: 'boot' });
        await rejects(
          vaults.createAdminToken({ name: 'bad', role: 'owner', token: 'vec_agt_nope' }),
          'VEC_REQUEST_INVALID',
          'token',
        );
      });
    });

    describe('authenticate', () => {
      it('refuses malformed, unknown and wrong-kind tokens', async () => {
        const agent = await vaults.createAgent({ name: 'bot' });
        const wrongKind = agent.token.replace('vec_agt_', 'vec_sess_');
        for (const token of [
          '',
          'Bearer x',
          'vec_agt_short',
          wellFormedUnknown('vec_agt_'),
          wrongKind,
        ]) {
          expect(await vaults.authenticate(token)).toBeUndefined();
        }
        expect(await vaults.authenticate(undefined as never)).toBeUndefined();
      });

      it('caches answers (30 s; unknown tokens 5 s) without touching the database', async () => {
        const agent = await vaults.createAgent({ name: 'bot' });
        const probe = counted(db);
        const cached = open(probe.db);
        const unknown = wellFormedUnknown('vec_agt_');
        await cached.authenticate(agent.token);
        await cached.authenticate(unknown);
        const afterFirst = probe.statements();
        expect(afterFirst).toBeGreaterThan(0);
        await cached.authenticate(agent.token);
        await cached.authenticate(unknown);
        expect(probe.statements()).toBe(afterFirst);
        clock += 5_000;
        await cached.authenticate(agent.token);
        await cached.authenticate(unknown); // the "unknown" answer expired
        const afterNegative = probe.statements();
        expect(afterNegative).toBeGreaterThan(afterFirst);
        clock += 25_000;
        await cached.authenticate(agent.token); // so did the positive one
        expect(probe.statements()).toBeGreaterThan(afterNegative);
      });
    });
  });
});
