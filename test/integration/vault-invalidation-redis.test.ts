/**
 * Cross-replica invalidation: two VaultService instances on the SAME database, each with its
 * OWN RedisCache connection (as two `vectra serve` processes would have). Instance B caches a
 * lookup; a change made through instance A must reach B through Redis pub/sub, so B refuses at
 * once what A revoked. Waits are bounded polls, never fixed sleeps.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RedisCache } from '../../src/cache/redis';
import type { DatabaseConfig } from '../../src/config/schema';
import { isGatewayError } from '../../src/errors';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices, type VaultServices } from '../helpers/vault-services';
import { REDIS_ADDRESS, createPostgresDatabase, describeWith } from '../helpers/services';
import { uniquePrefix, waitFor } from '../helpers/waiting-and-processes';
import { counted, postgresConfig, sqliteConfig } from './storage-test-helpers';
import { tempDir } from '../helpers/temp-dir';

type Replica = VaultServices;

const subjects = [
  {
    name: 'Sqlite',
    describe,
    // One SqliteDatabase per file per process (see src/storage/sqlite.ts): both replicas share it.
    separateConnections: false,
    create: async () => {
      const dir = tempDir('vectra-replicas-');
      return {
        config: sqliteConfig(`Data Source=${join(dir, 'vectra.db')}`),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'Postgres',
    describe: describeWith('postgres'),
    separateConnections: true,
    create: async () => {
      const database = await createPostgresDatabase();
      return { config: postgresConfig(database.url), drop: () => database.drop() };
    },
  },
];

describeWith('redis')('vault invalidation across replicas through Redis', () => {
  describe.each(subjects)('$name', (subject) => {
    subject.describe(subject.name, () => {
      let config: DatabaseConfig;
      let drop: () => Promise<void>;
      const databases: Database[] = [];
      const caches: RedisCache[] = [];
      let a: Replica;
      let b: Replica;
      let bStatements: () => number;

      beforeEach(async () => {
        ({ config, drop } = await subject.create());
        const dbA = await openDatabase(config);
        databases.push(dbA);
        const dbB = subject.separateConnections ? await openDatabase(config) : dbA;
        if (dbB !== dbA) databases.push(dbB);
        // The same prefix (so the same channel) for both; unique to this test.
        const keyPrefix = uniquePrefix();
        const [cacheA, cacheB] = await Promise.all([
          RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix }),
          RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix }),
        ]);
        caches.push(cacheA, cacheB);
        const cipher = createCipher(randomBytes(32));
        const probe = counted(dbB);
        bStatements = probe.statements;
        a = createVaultServices({ db: dbA, cipher, cache: cacheA });
        b = createVaultServices({ db: probe.db, cipher, cache: cacheB });
      });

      afterEach(async () => {
        await Promise.all([a.close(), b.close()]);
        await Promise.all(caches.splice(0).map((c) => c.close()));
        await Promise.all(databases.splice(0).map((d) => d.close()));
        await drop();
      });

      /**
       * Authenticates through B until an answer comes from B's cache (no statement run). A
       * lookup overlapping any invalidation message is deliberately not cached, hence the loop.
       */
      async function warm(token: string): Promise<void> {
        await waitFor(
          "B's cache to hold the token",
          async () => {
            const before = bStatements();
            expect(await b.authenticate(token)).toBeDefined();
            return bStatements() === before;
          },
          5000,
        );
      }

      const refusedByB = (token: string) => async () => (await b.authenticate(token)) === undefined;

      it('B refuses an agent token rotated through A, and accepts the new one', async () => {
        const created = await a.createAgent({ name: 'bot', vaults: ['default'] });
        await warm(created.token);
        const rotated = await a.rotateAgent('bot');
        await waitFor('B to refuse the rotated token', refusedByB(created.token), 5000);
        expect(await b.authenticate(rotated.token)).toMatchObject({ agentName: 'bot' });
      });

      it('B refuses tokens deleted or revoked through A, and sees grant changes', async () => {
        const agent = await a.createAgent({ name: 'bot' });
        const session = await a.mintSession({ vault: 'default' });
        const admin = await a.createAdminToken({ name: 'ops', role: 'approver' });
        await a.createAdminToken({ name: 'owner', role: 'owner' });
        for (const token of [agent.token, session.token, admin.token]) await warm(token);

        await a.grantVault('bot', 'default');
        await waitFor(
          'B to see the grant',
          async () =>
            (await b.authenticate(agent.token))?.kind === 'agent' &&
            ((await b.authenticate(agent.token)) as { vaults: string[] }).vaults.includes(
              'default',
            ),
          5000,
        );
        await a.revokeSession(session.item.id);
        await waitFor('B to refuse the revoked session', refusedByB(session.token), 5000);
        await a.revokeAdminToken(admin.item.id);
        await waitFor('B to refuse the revoked admin token', refusedByB(admin.token), 5000);
        await a.deleteAgent('bot');
        await waitFor('B to refuse the deleted agent', refusedByB(agent.token), 5000);
      });

      it("B drops its cached service list when A changes the vault's services", async () => {
        const request = { scheme: 'https' as const, host: 'api.example.com', port: 443, path: '/' };
        await a.createService('default', {
          name: 'api',
          host: 'api.example.com',
          auth: { type: 'passthrough' },
        });
        expect((await b.matchService('default', request))?.name).toBe('api');
        await a.updateService('default', 'api', { enabled: false });
        await waitFor(
          'B to see the service disabled',
          async () => (await b.matchService('default', request)) === undefined,
          5000,
        );
      });

      it("B resolves credentials from its cache and sees A's sets and deletes", async () => {
        /** B's value for `key` in `vault`, or the error code it answers with. */
        const resolvedByB = async (vault: string, key: string): Promise<string> =>
          b.resolveCredentials(vault, [key]).then(
            (values) => values.get(key) as string,
            (error: unknown) => (isGatewayError(error) ? error.code : String(error)),
          );
        const bAnswers = (vault: string, key: string, expected: string) => async () =>
          (await resolvedByB(vault, key)) === expected;
        /** Waits (5 s at most) for B to answer `expected` for `vault`/`key`, doing `what`. */
        const untilB = (what: string, vault: string, key: string, expected: string) =>
          waitFor(`B to ${what}`, bAnswers(vault, key, expected), 5000);

        await a.setCredential('default', 'K', 'one');
        await waitFor(
          "B's cache to hold the credentials",
          async () => {
            const before = bStatements();
            expect(await resolvedByB('default', 'K')).toBe('one');
            return bStatements() === before;
          },
          5000,
        );
        await a.setCredential('default', 'K', 'two');
        await untilB('see the replaced value', 'default', 'K', 'two');
        await a.setCredential('default', 'LATER', 'added');
        await untilB('see the added key', 'default', 'LATER', 'added');
        await a.deleteCredential('default', 'LATER');
        await untilB('refuse the deleted key', 'default', 'LATER', 'VEC_CREDENTIAL_NOT_FOUND');

        await a.createVault({ name: 'team' });
        await a.setCredential('team', 'K', 'old');
        await untilB('resolve the new vault', 'team', 'K', 'old');
        await a.deleteVault('team');
        await untilB('refuse the deleted vault', 'team', 'K', 'VEC_VAULT_NOT_FOUND');
        await a.createVault({ name: 'team' });
        await a.setCredential('team', 'K', 'new');
        await untilB('resolve the re-created vault', 'team', 'K', 'new');
      });
    });
  });
});
