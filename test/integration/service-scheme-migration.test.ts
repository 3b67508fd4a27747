/**
 * The migration that gives services a scheme, on both providers: a service stored before it
 * (which matched any scheme, and any port when its pattern named none) becomes an https
 * service, on 443 unless its pattern names a port.
 */
import { randomBytes } from 'node:crypto';
import { MemoryCache } from '../../src/cache/memory';
import { openDatabase } from '../../src/storage';
import { MIGRATIONS } from '../../src/storage/migrations';
import type { Database } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices } from '../helpers/vault-services';
import { databaseSubjects } from './storage-test-helpers';

const SCHEME_MIGRATION = MIGRATIONS.find((m) => m.name === 'service scheme');
const BEFORE = MIGRATIONS.filter((m) => m.version < (SCHEME_MIGRATION?.version ?? Infinity));
const THROUGH_SCHEME = MIGRATIONS.filter((m) => m.version <= (SCHEME_MIGRATION?.version ?? 0));

describe.each(databaseSubjects('vectra-scheme-migration-'))(
  'service scheme migration: $name',
  (subject) => {
    subject.describe(subject.name, () => {
      let db: Database;
      let drop: () => Promise<void>;

      beforeEach(async () => {
        const created = await subject.create();
        drop = created.drop;
        db = await openDatabase(created.config, { migrations: BEFORE });
      });

      afterEach(async () => {
        await db.close().catch(() => undefined);
        await drop();
      });

      it('turns existing services into https services on 443 (or the port they name)', async () => {
        expect(SCHEME_MIGRATION).toBeDefined();
        const at = '2030-01-02T03:04:05.000Z';
        const insert = (id: string, host: string, position: number) =>
          db.run(
            `INSERT INTO services (id, vault_id, name, host_pattern, auth_json, enabled, position, created_at, updated_at)
             VALUES ($1, 'default', $1, $2, '{"type":"passthrough"}', 1, $3, $4, $4)`,
            [id, host, position, at],
          );
        await insert('github', 'api.github.com', 1);
        await insert('internal', 'internal.example.com:8080', 2);

        expect(await db.migrate(THROUGH_SCHEME)).toEqual([SCHEME_MIGRATION!.version]);

        const cache = new MemoryCache({ sweepIntervalMs: 0 });
        const vaults = createVaultServices({ db, cipher: createCipher(randomBytes(32)), cache });
        try {
          const services = await vaults.listServices('default');
          expect(services.map((s) => [s.name, s.host, s.scheme])).toEqual([
            ['github', 'api.github.com', 'https'],
            ['internal', 'internal.example.com:8080', 'https'],
          ]);
          const match = async (scheme: 'http' | 'https', host: string, port: number) =>
            (await vaults.matchService('default', { scheme, host, port, path: '/' }))?.name;
          expect(await match('https', 'api.github.com', 443)).toBe('github');
          expect(await match('http', 'api.github.com', 443)).toBeUndefined();
          expect(await match('http', 'api.github.com', 80)).toBeUndefined();
          expect(await match('https', 'api.github.com', 8443)).toBeUndefined();
          expect(await match('https', 'internal.example.com', 8080)).toBe('internal');
          expect(await match('http', 'internal.example.com', 8080)).toBeUndefined();
          expect(await match('https', 'internal.example.com', 443)).toBeUndefined();
        } finally {
          await vaults.close();
          await cache.close();
        }
      });

      it('refuses a scheme other than http or https in the column itself', async () => {
        await db.migrate(MIGRATIONS);
        const at = '2030-01-02T03:04:05.000Z';
        await expect(
          db.run(
            `INSERT INTO services (id, vault_id, name, host_pattern, scheme, auth_json, enabled, position, created_at, updated_at)
             VALUES ('x', 'default', 'x', 'a.example.com', 'ftp', '{"type":"passthrough"}', 1, 1, $1, $1)`,
            [at],
          ),
        ).rejects.toMatchObject({ message: expect.stringMatching(/check constraint/i) });
      });
    });
  },
);
