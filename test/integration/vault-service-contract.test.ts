/**
 * The VaultService contract for vaults, credentials and services, run on SQLite and on real
 * PostgreSQL (a fresh database per test). Agents, sessions, admin tokens and authentication
 * are in vault-identity-contract.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { MemoryCache } from '../../src/cache/memory';
import type { DatabaseConfig } from '../../src/config/schema';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices, type VaultServices } from '../helpers/vault-services';
import { counted, databaseSubjects, rejects } from './storage-test-helpers';

const subjects = databaseSubjects('vectra-vault-');

const count = async (db: Database, sql: string, params: string[] = []) =>
  Number((await db.get<{ n: number }>(sql, params))!.n);

/** Yields until queued invalidation messages (MemoryCache delivers asynchronously) are in. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe.each(subjects)('VaultService vaults, credentials, services: $name', (subject) => {
  subject.describe(subject.name, () => {
    let config: DatabaseConfig;
    let drop: () => Promise<void>;
    let db: Database;
    let cache: MemoryCache;
    let vaults: VaultServices;
    const cipher = createCipher(randomBytes(32));

    beforeEach(async () => {
      ({ config, drop } = await subject.create());
      db = await openDatabase(config);
      cache = new MemoryCache({ sweepIntervalMs: 0 });
      vaults = createVaultServices({ db, cipher, cache });
    });

    afterEach(async () => {
      await vaults.close();
      await cache.close();
      await db.close();
      await drop();
    });

    describe('vaults', () => {
      it('has a default vault that denies unmatched hosts and cannot be deleted', async () => {
        const vault = await vaults.getVault('default');
        expect(vault).toMatchObject({ name: 'default', unmatchedHosts: 'deny' });
        expect(vault.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        await rejects(vaults.deleteVault('default'), 'VEC_VAULT_DEFAULT_PROTECTED');
        expect((await vaults.listVaults()).map((v) => v.name)).toEqual(['default']);
      });

      it('creates (deny by default), lists by name, shows and updates', async () => {
        const b = await vaults.createVault({ name: 'b-team' });
        expect(b).toMatchObject({ name: 'b-team', unmatchedHosts: 'deny' });
        await vaults.createVault({ name: 'a.team', unmatchedHosts: 'passthrough' });
        expect((await vaults.listVaults()).map((v) => v.name)).toEqual([
          'a.team',
          'b-team',
          'default',
        ]);
        expect(await vaults.getVault('b-team')).toEqual(b);
        // The hot path's cached read is filled here and must not outlive the update.
        expect(await vaults.getVault('b-team', { cached: true })).toEqual(b);
        const updated = await vaults.updateVault('b-team', { unmatchedHosts: 'passthrough' });
        expect(updated).toMatchObject({ id: b.id, unmatchedHosts: 'passthrough' });
        expect(await vaults.getVault('b-team')).toEqual(updated);
        expect(await vaults.getVault('b-team', { cached: true })).toMatchObject({
          unmatchedHosts: 'passthrough',
        });
        await vaults.deleteVault('b-team');
        await rejects(vaults.getVault('b-team', { cached: true }), 'VEC_VAULT_NOT_FOUND');
      });

      it('refuses bad names and policies (400 naming the field), duplicates (409), unknown (404)', async () => {
        for (const name of ['', 'Upper', '-dash', 'a'.repeat(64), 'sp ace', 'x/y']) {
          await rejects(vaults.createVault({ name }), 'VEC_REQUEST_INVALID', 'name');
        }
        await rejects(
          vaults.createVault({ name: 'ok', unmatchedHosts: 'allow' as never }),
          'VEC_REQUEST_INVALID',
          'unmatchedHosts',
        );
        await vaults.createVault({ name: 'ok' });
        await rejects(vaults.createVault({ name: 'ok' }), 'VEC_RESOURCE_CONFLICT');
        await rejects(
          vaults.updateVault('ok', { unmatchedHosts: 'maybe' as never }),
          'VEC_REQUEST_INVALID',
          'unmatchedHosts',
        );
        await rejects(vaults.getVault('nope'), 'VEC_VAULT_NOT_FOUND');
        await rejects(
          vaults.updateVault('nope', { unmatchedHosts: 'deny' }),
          'VEC_VAULT_NOT_FOUND',
        );
        await rejects(vaults.deleteVault('nope'), 'VEC_VAULT_NOT_FOUND');
      });

      it('deletes a vault with its credentials, services, grants and sessions', async () => {
        const vault = await vaults.createVault({ name: 'doomed' });
        await vaults.setCredential('doomed', 'TOKEN', 'v');
        await vaults.createService('doomed', {
          name: 'api',
          host: 'api.example.com',
          auth: { type: 'bearer', credential: 'TOKEN' },
        });
        const agent = await vaults.createAgent({ name: 'bot', vaults: ['doomed', 'default'] });
        const session = await vaults.mintSession({ vault: 'doomed' });
        expect(await vaults.authenticate(session.token)).toBeDefined();
        // Warm the token cache: the deletion must evict the cached grant at once.
        expect(await vaults.authenticate(agent.token)).toMatchObject({
          vaults: ['default', 'doomed'],
        });

        await vaults.deleteVault('doomed');
        await rejects(vaults.getVault('doomed'), 'VEC_VAULT_NOT_FOUND');
        for (const table of ['credentials', 'services', 'agent_vaults', 'sessions']) {
          expect(
            await count(db, `SELECT COUNT(*) AS n FROM ${table} WHERE vault_id = $1`, [vault.id]),
          ).toBe(0);
        }
        expect((await vaults.getAgent('bot')).vaults).toEqual(['default']);
        expect(await vaults.authenticate(session.token)).toBeUndefined();
        expect(await vaults.authenticate(agent.token)).toMatchObject({ vaults: ['default'] });
        expect(await vaults.listSessions()).toEqual([]);
      });
    });

    describe('credentials', () => {
      it('stores values encrypted, lists keys only, and resolves them for injection', async () => {
        const secret = `s3cret-${randomBytes(8).toString('hex')}`;
        const first = await vaults.setCredential('default', 'STRIPE_KEY', secret);
        await vaults.setCredential('default', 'A_KEY', 'other value');
        expect(first).toEqual({
          key: 'STRIPE_KEY',
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        });
        const listed = await vaults.listCredentials('default');
        expect(listed.map((c) => c.key)).toEqual(['A_KEY', 'STRIPE_KEY']);
        expect(JSON.stringify(listed)).not.toContain(secret);
        const stored = await db.all<{ ciphertext: string }>('SELECT ciphertext FROM credentials');
        expect(JSON.stringify(stored)).not.toContain(secret);

        const resolved = await vaults.resolveCredentials('default', ['STRIPE_KEY', 'A_KEY']);
        expect(resolved).toEqual(
          new Map([
            ['STRIPE_KEY', secret],
            ['A_KEY', 'other value'],
          ]),
        );
        await rejects(
          vaults.resolveCredentials('default', ['STRIPE_KEY', 'MISSING']),
          'VEC_CREDENTIAL_NOT_FOUND',
        );
      });

      it('resolves from the cache after the first call: no database read on the hot path', async () => {
        const probe = counted(db);
        const hot = createVaultServices({ db: probe.db, cipher, cache });
        await hot.setCredential('default', 'A', 'a-one');
        await hot.setCredential('default', 'B', 'b-one');
        await settle();
        expect(await hot.resolveCredentials('default', ['A', 'B'])).toEqual(
          new Map([
            ['A', 'a-one'],
            ['B', 'b-one'],
          ]),
        );
        const before = probe.statements();
        for (let i = 0; i < 5; i++) {
          expect((await hot.resolveCredentials('default', ['B', 'A', 'B'])).get('A')).toBe('a-one');
        }
        // A missing key is answered from the cached key set too.
        await rejects(hot.resolveCredentials('default', ['A', 'NOPE']), 'VEC_CREDENTIAL_NOT_FOUND');
        expect(probe.statements()).toBe(before);
        await hot.close();
      });

      it('sees every set and delete at once, through this instance and another sharing the cache', async () => {
        const probe = counted(db);
        const replica = createVaultServices({ db: probe.db, cipher, cache });
        await vaults.setCredential('default', 'K', 'one');
        await settle();
        for (const service of [vaults, replica]) {
          expect((await service.resolveCredentials('default', ['K'])).get('K')).toBe('one');
        }
        const warm = probe.statements();
        expect((await replica.resolveCredentials('default', ['K'])).get('K')).toBe('one');
        expect(probe.statements()).toBe(warm); // the replica's copy is cached

        await vaults.setCredential('default', 'K', 'two'); // replaced
        await vaults.setCredential('default', 'LATER', 'added'); // not hidden by the cached set
        await settle();
        for (const service of [vaults, replica]) {
          const resolved = await service.resolveCredentials('default', ['K', 'LATER']);
          expect([resolved.get('K'), resolved.get('LATER')]).toEqual(['two', 'added']);
        }

        await vaults.deleteCredential('default', 'LATER');
        await settle();
        for (const service of [vaults, replica]) {
          await rejects(
            service.resolveCredentials('default', ['LATER']),
            'VEC_CREDENTIAL_NOT_FOUND',
          );
        }
        await replica.close();
      });

      it('forgets a deleted vault, and binds a re-created one of the same name to its new id', async () => {
        await vaults.createVault({ name: 'team' });
        await vaults.setCredential('team', 'K', 'old');
        expect((await vaults.resolveCredentials('team', ['K'])).get('K')).toBe('old');
        await vaults.deleteVault('team');
        await rejects(vaults.resolveCredentials('team', ['K']), 'VEC_VAULT_NOT_FOUND');

        await vaults.createVault({ name: 'team' });
        await rejects(vaults.resolveCredentials('team', ['K']), 'VEC_CREDENTIAL_NOT_FOUND');
        await vaults.setCredential('team', 'K', 'new');
        expect((await vaults.resolveCredentials('team', ['K'])).get('K')).toBe('new');
      });

      it('drops a stale copy when a vault of the same name is created, even if its deletion went unheard', async () => {
        const old = await vaults.createVault({ name: 'team' });
        await vaults.setCredential('team', 'K', 'old');
        expect((await vaults.resolveCredentials('team', ['K'])).get('K')).toBe('old');
        // Deleted behind the service's back, as if the invalidation message had been lost.
        await db.run('DELETE FROM vaults WHERE id = $1', [old.id]);

        await vaults.createVault({ name: 'team' });
        await rejects(vaults.resolveCredentials('team', ['K']), 'VEC_CREDENTIAL_NOT_FOUND');
      });

      it('replaces a value, keeping createdAt', async () => {
        let t = Date.parse('2030-01-01T00:00:00.000Z');
        const clocked = createVaultServices({
          db,
          cipher,
          cache,
          now: () => new Date((t += 1000)),
        });
        const first = await clocked.setCredential('default', 'K', 'one');
        const second = await clocked.setCredential('default', 'K', 'two');
        expect(second.createdAt).toBe(first.createdAt);
        expect(second.updatedAt > first.updatedAt).toBe(true);
        expect((await clocked.resolveCredentials('default', ['K'])).get('K')).toBe('two');
        await clocked.close();
      });

      it('binds a ciphertext to its vault and key: moved to another row it does not decrypt', async () => {
        await vaults.setCredential('default', 'REAL', 'the value');
        await vaults.setCredential('default', 'DECOY', 'x');
        await db.run(
          `UPDATE credentials SET ciphertext = (SELECT ciphertext FROM credentials WHERE key = 'REAL')
           WHERE key = 'DECOY'`,
        );
        await expect(vaults.resolveCredentials('default', ['DECOY'])).rejects.toThrow();
      });

      it('refuses bad keys and values naming the field, and never echoes the value', async () => {
        for (const key of ['', '1ABC', 'with-dash', 'a b', 'K'.repeat(129)]) {
          await rejects(vaults.setCredential('default', key, 'v'), 'VEC_REQUEST_INVALID', 'key');
        }
        for (const value of ['', 'line\r\nX-Evil: 1', 'a\nb', 'a\rb', 'x'.repeat(64 * 1024 + 1)]) {
          const error = await rejects(
            vaults.setCredential('default', 'K', value),
            'VEC_REQUEST_INVALID',
            'value',
          );
          if (value) expect(error.message).not.toContain(value);
        }
        await vaults.setCredential('default', 'BIG', 'x'.repeat(64 * 1024));
        await rejects(vaults.setCredential('nope', 'K', 'v'), 'VEC_VAULT_NOT_FOUND');
        await rejects(vaults.listCredentials('nope'), 'VEC_VAULT_NOT_FOUND');
      });

      it('deletes an unused credential; refuses one a service uses (409 naming it); 404 unknown', async () => {
        await vaults.setCredential('default', 'USED', 'u');
        await vaults.setCredential('default', 'FREE', 'f');
        await vaults.createService('default', {
          name: 'stripe',
          host: 'api.stripe.com',
          auth: { type: 'custom', headers: { Authorization: 'Bearer {{ USED }}' } },
        });
        const error = await rejects(
          vaults.deleteCredential('default', 'USED'),
          'VEC_RESOURCE_CONFLICT',
        );
        expect(error.message).toContain('stripe');
        expect(error.context).toMatchObject({ service: 'stripe', key: 'USED' });
        await vaults.deleteCredential('default', 'FREE');
        expect((await vaults.listCredentials('default')).map((c) => c.key)).toEqual(['USED']);
        await rejects(vaults.deleteCredential('default', 'FREE'), 'VEC_CREDENTIAL_NOT_FOUND');
        await rejects(vaults.deleteCredential('nope', 'FREE'), 'VEC_VAULT_NOT_FOUND');
      });
    });

    describe('services', () => {
      beforeEach(async () => {
        for (const key of ['TOKEN', 'USER', 'PASS', 'STRIPE_KEY']) {
          await vaults.setCredential('default', key, `${key.toLowerCase()}-value`);
        }
      });

      it('creates every scheme, in declaration order with increasing positions', async () => {
        const inputs = [
          {
            name: 'bearer',
            host: 'api.example.com',
            auth: { type: 'bearer', credential: 'TOKEN' },
          },
          {
            name: 'basic',
            host: 'basic.example.com:8443',
            auth: { type: 'basic', username: 'USER', password: 'PASS' },
          },
          {
            name: 'api-key',
            host: '*.example.org/v1/**',
            auth: { type: 'api-key', header: 'X-Api-Key', credential: 'TOKEN', prefix: 'Key ' },
          },
          {
            name: 'custom',
            host: 'api.stripe.com',
            auth: { type: 'custom', headers: { 'X-Api-Key': '{{ STRIPE_KEY }}' } },
          },
          {
            name: 'query',
            host: 'q.example.com',
            auth: { type: 'query', param: 'key', credential: 'TOKEN' },
          },
          { name: 'open', host: 'open.example.com', auth: { type: 'passthrough' } },
        ] as const;
        for (const input of inputs) await vaults.createService('default', input);
        const listed = await vaults.listServices('default');
        expect(listed.map((s) => [s.name, s.position, s.enabled, s.vault])).toEqual(
          inputs.map((input, i) => [input.name, i + 1, true, 'default']),
        );
        expect(listed.map((s) => s.auth)).toEqual(inputs.map((input) => input.auth));
        expect(await vaults.getService('default', 'basic')).toEqual(listed[1]);
        const other = await vaults.createVault({ name: 'other' });
        const first = await vaults.createService(other.name, {
          name: 'bearer', // same name, other vault: fine
          host: 'api.example.com',
          auth: { type: 'passthrough' },
          enabled: false,
        });
        expect(first).toMatchObject({ vault: 'other', position: 1, enabled: false });
      });

      it.each([
        [{ type: 'bearer', credential: 'NOPE' }, 'auth.credential'],
        [{ type: 'basic', username: 'USER', password: 'NOPE' }, 'auth.password'],
        [{ type: 'basic', username: 'NOPE', password: 'PASS' }, 'auth.username'],
        [{ type: 'api-key', header: 'X-Key', credential: 'NOPE' }, 'auth.credential'],
        [{ type: 'custom', headers: { 'X-Api-Key': 'k={{ NOPE }}' } }, 'auth.headers.X-Api-Key'],
        [{ type: 'query', param: 'k', credential: 'NOPE' }, 'auth.credential'],
      ])('refuses a scheme naming a missing credential: %j → %s', async (auth, field) => {
        const error = await rejects(
          vaults.createService('default', {
            name: 's',
            host: 'a.example.com',
            auth: auth as never,
          }),
          'VEC_REQUEST_INVALID',
          field,
        );
        expect(error.message).toContain('NOPE');
        expect(await vaults.listServices('default')).toEqual([]);
      });

      it('refuses bad input naming the field, duplicates (409) and unknown vaults (404)', async () => {
        const ok = {
          name: 'svc',
          host: 'api.example.com',
          auth: { type: 'bearer', credential: 'TOKEN' },
        } as const;
        await rejects(
          vaults.createService('default', { ...ok, name: 'Bad Name' }),
          'VEC_REQUEST_INVALID',
          'name',
        );
        await rejects(
          vaults.createService('default', { ...ok, host: 'https://x.com' }),
          'VEC_REQUEST_INVALID',
          'host',
        );
        await rejects(
          vaults.createService('default', { ...ok, auth: { type: 'oauth' } as never }),
          'VEC_REQUEST_INVALID',
          'auth.type',
        );
        await rejects(
          vaults.createService('default', {
            ...ok,
            auth: { type: 'api-key', header: 'Bad Header', credential: 'TOKEN' },
          }),
          'VEC_REQUEST_INVALID',
          'auth.header',
        );
        await rejects(
          vaults.createService('default', { ...ok, enabled: 'yes' as never }),
          'VEC_REQUEST_INVALID',
          'enabled',
        );
        for (const scheme of ['ftp', 'HTTPS', '', 1]) {
          await rejects(
            vaults.createService('default', { ...ok, scheme: scheme as never }),
            'VEC_REQUEST_INVALID',
            'scheme',
          );
        }
        await vaults.createService('default', ok);
        const dup = await rejects(vaults.createService('default', ok), 'VEC_RESOURCE_CONFLICT');
        expect(dup.message).toContain('svc');
        await rejects(vaults.createService('nope', ok), 'VEC_VAULT_NOT_FOUND');
        await rejects(vaults.getService('default', 'nope'), 'VEC_SERVICE_NOT_FOUND');
        await rejects(vaults.listServices('nope'), 'VEC_VAULT_NOT_FOUND');
      });

      it('updates host, auth, enabled and name; refuses a taken name and a missing credential', async () => {
        const created = await vaults.createService('default', {
          name: 'a',
          host: 'a.example.com',
          auth: { type: 'passthrough' },
        });
        await vaults.createService('default', {
          name: 'b',
          host: 'b.example.com',
          auth: { type: 'passthrough' },
        });
        const updated = await vaults.updateService('default', 'a', {
          host: 'a.example.com:443',
          auth: { type: 'bearer', credential: 'TOKEN' },
          enabled: false,
        });
        expect(updated).toMatchObject({
          id: created.id,
          host: 'a.example.com:443',
          auth: { type: 'bearer', credential: 'TOKEN' },
          enabled: false,
          position: created.position,
        });
        await rejects(vaults.updateService('default', 'a', { name: 'b' }), 'VEC_RESOURCE_CONFLICT');
        await rejects(
          vaults.updateService('default', 'a', { auth: { type: 'bearer', credential: 'NOPE' } }),
          'VEC_REQUEST_INVALID',
          'auth.credential',
        );
        await rejects(
          vaults.updateService('default', 'a', { host: 'a.*.com' }),
          'VEC_REQUEST_INVALID',
          'host',
        );
        expect(await vaults.updateService('default', 'a', { name: 'c' })).toMatchObject({
          name: 'c',
        });
        await rejects(
          vaults.updateService('default', 'a', { enabled: true }),
          'VEC_SERVICE_NOT_FOUND',
        );
        await vaults.deleteService('default', 'c');
        await rejects(vaults.deleteService('default', 'c'), 'VEC_SERVICE_NOT_FOUND');
        expect((await vaults.listServices('default')).map((s) => s.name)).toEqual(['b']);
      });

      it('matches requests by the matching order and sees every change at once', async () => {
        const request = {
          scheme: 'https' as const,
          host: 'api.example.com',
          port: 443,
          path: '/v1/charges',
        };
        await rejects(vaults.matchService('nope', request), 'VEC_VAULT_NOT_FOUND');
        expect(await vaults.matchService('default', request)).toBeUndefined();
        await vaults.createService('default', {
          name: 'wild',
          host: '*.example.com',
          auth: { type: 'passthrough' },
        });
        expect((await vaults.matchService('default', request))?.name).toBe('wild');
        await vaults.createService('default', {
          name: 'exact',
          host: 'api.example.com/v1/**',
          auth: { type: 'bearer', credential: 'TOKEN' },
        });
        expect((await vaults.matchService('default', request))?.name).toBe('exact');
        await vaults.updateService('default', 'exact', { enabled: false });
        expect((await vaults.matchService('default', request))?.name).toBe('wild');
        await vaults.deleteService('default', 'wild');
        expect(await vaults.matchService('default', request)).toBeUndefined();
      });

      it('stores the scheme (https by default) and matches only that scheme and port', async () => {
        const tls = await vaults.createService('default', {
          name: 'tls',
          host: 'api.example.com',
          auth: { type: 'passthrough' },
        });
        expect(tls.scheme).toBe('https');
        const plain = await vaults.createService('default', {
          name: 'plain',
          host: 'api.example.com:8080',
          scheme: 'http',
          auth: { type: 'passthrough' },
        });
        expect(plain.scheme).toBe('http');
        expect(await vaults.getService('default', 'plain')).toEqual(plain);
        const match = async (scheme: 'http' | 'https', port: number) =>
          (
            await vaults.matchService('default', {
              scheme,
              host: 'api.example.com',
              port,
              path: '/',
            })
          )?.name;
        expect(await match('https', 443)).toBe('tls');
        expect(await match('http', 80)).toBeUndefined();
        expect(await match('http', 443)).toBeUndefined();
        expect(await match('https', 8080)).toBeUndefined();
        expect(await match('http', 8080)).toBe('plain');
        // A patch keeps the scheme unless it names one; switching it moves the default port.
        expect((await vaults.updateService('default', 'tls', { enabled: true })).scheme).toBe(
          'https',
        );
        await vaults.updateService('default', 'tls', { scheme: 'http' });
        expect(await match('https', 443)).toBeUndefined();
        expect(await match('http', 80)).toBe('tls');
      });

      it('drops the cached service list on another instance sharing the cache', async () => {
        const replica = createVaultServices({ db, cipher, cache });
        const request = { scheme: 'https' as const, host: 'api.example.com', port: 443, path: '/' };
        await vaults.createService('default', {
          name: 's',
          host: 'api.example.com',
          auth: { type: 'passthrough' },
        });
        expect((await replica.matchService('default', request))?.name).toBe('s');
        await vaults.deleteService('default', 's');
        // MemoryCache delivers asynchronously, like Redis: wait for the message, boundedly.
        for (let i = 0; i < 100 && (await replica.matchService('default', request)); i++) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(await replica.matchService('default', request)).toBeUndefined();
        await replica.close();
      });
    });
  });
});
