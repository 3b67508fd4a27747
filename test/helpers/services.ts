/**
 * Real services for tests. In CI (`CI` set) a missing service fails the run; locally a suite
 * that needs one is skipped with a loud message. test/global-setup.ts probes once per run
 * and leaves the answer in VECTRA_TEST_POSTGRES / VECTRA_TEST_REDIS / VECTRA_TEST_DOCKER.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const POSTGRES_ADMIN_URL =
  process.env.VECTRA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_ADDRESS = process.env.VECTRA_TEST_REDIS_ADDRESS ?? '127.0.0.1:6379';
/**
 * The base the container-isolation tests build the isolation image from: a local image
 * (.ci/docker-setup builds it offline), so no test pulls from a registry.
 */
export const DOCKER_BASE_IMAGE =
  process.env.VECTRA_ISOLATION_BASE_IMAGE ?? 'vectra-test/base:bookworm';

/**
 * The settings every replica of a multi-replica test shares: one PostgreSQL database (`url`),
 * the Redis cache, one master password and one bootstrap owner token; with `requestsPerMinute`,
 * also that default rate limit per agent, without burst.
 */
export function sharedReplicaEnv(
  databaseUrl: string,
  ownerToken: string,
  requestsPerMinute?: number,
): Record<string, string> {
  return {
    System__Storage__Database__DefaultProvider: 'Postgres',
    System__Storage__Database__Providers__Postgres__ConnectionString: databaseUrl,
    System__Storage__Cache__DefaultProvider: 'Redis',
    System__Storage__Cache__Providers__Redis__ConnectionString: REDIS_ADDRESS,
    Security__MasterPassword: 'shared by every replica',
    Security__Admin__BootstrapToken: ownerToken,
    ...(requestsPerMinute === undefined
      ? {}
      : {
          System__RateLimit__DefaultRequestsPerMinute: String(requestsPerMinute),
          System__RateLimit__Burst: '0',
        }),
  };
}

export const hasPostgres = (): boolean => process.env.VECTRA_TEST_POSTGRES === '1';
export const hasRedis = (): boolean => process.env.VECTRA_TEST_REDIS === '1';
/** A Docker engine answers and DOCKER_BASE_IMAGE is present. */
export const hasDocker = (): boolean => process.env.VECTRA_TEST_DOCKER === '1';

export type TestService = 'postgres' | 'redis' | 'docker';

const AVAILABLE: Record<TestService, () => boolean> = {
  postgres: hasPostgres,
  redis: hasRedis,
  docker: hasDocker,
};

/** `describe` when every named service is there, a loudly skipped `describe` otherwise (never in CI). */
export function describeWith(...services: TestService[]): jest.Describe {
  const missing = services.filter((service) => !AVAILABLE[service]());
  if (missing.length === 0) return describe;
  if (process.env.CI) {
    throw new Error(`CI requires ${missing.join(' and ')}, and it is not reachable`);
  }
  console.warn(
    `\n*** ${missing.join(' and ')} not reachable: skipping its suites (they fail in CI) ***\n`,
  );
  return describe.skip;
}

/** A fresh PostgreSQL database for one suite; `drop()` removes it. */
export async function createPostgresDatabase(): Promise<{
  url: string;
  name: string;
  drop(): Promise<void>;
}> {
  const name = `vectra_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
