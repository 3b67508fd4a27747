/**
 * `vectra logs --follow` across replicas: two audit logs, each with its OWN RedisCache
 * connection (as two `vectra serve` processes would have), on one database. A follower
 * subscribed through replica B sees the rows replica A writes, and its own, and no other vault's.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RedisCache } from '../../src/cache/redis';
import { createAuditLog, type AuditEntry, type AuditLog } from '../../src/audit/audit-log';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { REDIS_ADDRESS, describeWith } from '../helpers/services';
import { messageInbox, recordingLogger, uniquePrefix } from '../helpers/waiting-and-processes';
import { sqliteConfig } from './storage-test-helpers';
import { tempDir } from '../helpers/temp-dir';

function entry(path: string, vault = 'team'): AuditEntry {
  return {
    at: new Date(),
    requestId: path,
    vault,
    method: 'GET',
    host: 'api.example.com',
    port: 443,
    path,
    decision: 'allow',
    status: 200,
    latencyMs: 1,
    bytesIn: 0,
    bytesOut: 0,
  };
}

describeWith('redis')('audit log rows across replicas (Redis pub/sub)', () => {
  let dir: string;
  let db: Database;
  let caches: RedisCache[];
  let replicas: AuditLog[];

  beforeEach(async () => {
    dir = tempDir('vectra-audit-redis-');
    db = await openDatabase(sqliteConfig(`Data Source=${join(dir, 'vectra.db')}`));
    const keyPrefix = uniquePrefix();
    caches = await Promise.all(
      [1, 2].map(() => RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix })),
    );
    replicas = caches.map((cache) =>
      createAuditLog({
        db,
        cache,
        config: { RetentionDays: 30, MaxRows: 1000 },
        logger: recordingLogger(),
      }),
    );
  });

  afterEach(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await Promise.all(caches.map((cache) => cache.close()));
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a follower on replica B receives the rows written by replica A and by B', async () => {
    const [a, b] = replicas;
    const inbox = messageInbox();
    const unsubscribe = await b.subscribe('team', (row) => inbox.handler(row.path));
    a.record(entry('/from-a?key=secret'));
    a.record(entry('/other-vault', 'other'));
    await a.flush();
    await inbox.received(1);
    b.record(entry('/from-b'));
    await b.flush();
    await inbox.received(2);
    expect(inbox.messages).toEqual(['/from-a?key=', '/from-b']);
    await unsubscribe();
  });
});
