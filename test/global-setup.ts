/**
 * Runs once before the suites: builds dist/ (the CLI tests run the real `bin/vectra.js`) and
 * probes PostgreSQL, Redis and Docker. In CI a missing service stops the run here.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { DOCKER_BASE_IMAGE, POSTGRES_ADMIN_URL, REDIS_ADDRESS } from './helpers/services';
import { createRunDirectory } from './helpers/temp-dir';

async function postgresUp(): Promise<boolean> {
  const client = new Client({
    connectionString: POSTGRES_ADMIN_URL,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redisUp(): Promise<boolean> {
  const [host, port] = REDIS_ADDRESS.split(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host, port: Number(port) });
    socket.setTimeout(3000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The engine answers and the base image of the isolation tests is there (.ci/docker-setup). */
function dockerUp(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['image', 'inspect', DOCKER_BASE_IMAGE], { timeout: 10_000 }, (err) =>
      resolve(!err),
    );
  });
}

export default async function globalSetup(): Promise<void> {
  createRunDirectory();
  const root = join(__dirname, '..');
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  } catch {
    // tsc still emits; type errors are `npm run typecheck`'s to report (CI runs it first).
    console.warn('\n*** tsc reported errors while building dist/ for the CLI tests ***\n');
  }
  const [pg, redis, docker] = await Promise.all([postgresUp(), redisUp(), dockerUp()]);
  process.env.VECTRA_TEST_POSTGRES = pg ? '1' : '0';
  process.env.VECTRA_TEST_REDIS = redis ? '1' : '0';
  process.env.VECTRA_TEST_DOCKER = docker ? '1' : '0';
  const missing = [
    !pg && `PostgreSQL (${POSTGRES_ADMIN_URL})`,
    !redis && `Redis (${REDIS_ADDRESS})`,
    !docker && `Docker with the image ${DOCKER_BASE_IMAGE} (.ci/docker-setup builds it)`,
  ].filter(Boolean);
  if (missing.length && process.env.CI) {
    throw new Error(`CI requires ${missing.join(' and ')}; start them (see .ci/run)`);
  }
  if (missing.length) {
    console.warn(
      `\n*** not reachable: ${missing.join(', ')} — suites that need them are SKIPPED (they fail in CI) ***\n`,
    );
  }
}
