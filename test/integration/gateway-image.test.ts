/**
 * The Linux image (.docker/Dockerfile.linux) on the real Docker engine: CI builds it as
 * $VECTRA_TEST_IMAGE (.ci/image-build, from the offline stand-ins of .ci/docker-setup); locally
 * a missing image is built the same way first. Ports are published on 127.0.0.1 only; every
 * container, volume and directory the suite makes is removed at the end.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith } from '../helpers/services';
import { tempDir } from '../helpers/temp-dir';

const IMAGE = process.env.VECTRA_TEST_IMAGE ?? 'vectra:ci';
const RUN_ID = randomBytes(4).toString('hex');
const NAME = `vectra-image-test-${RUN_ID}`;
const BIND_NAME = `vectra-image-bind-${RUN_ID}`;
const USER_NAME = `vectra-image-user-${RUN_ID}`;
const VOLUME = `vectra-image-data-${RUN_ID}`;
const ADMIN_TOKEN = `vec_adm_${randomBytes(32).toString('base64url')}`;
/** The image's `vectra` user (fixed in the Dockerfile). */
const VECTRA_UID = 10001;
const REPO = join(__dirname, '..', '..');

jest.setTimeout(120_000);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function docker(args: string[], timeout = 110_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile('docker', args, { timeout }, (err, stdout, stderr) =>
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
      }),
    );
  });
}

async function dockerOk(args: string[]): Promise<string> {
  const result = await docker(args);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Resolves on the container's next `health_status: healthy` event after `since` (seconds). */
function healthyAfter(name: string, since: number, timeoutMs = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const events = spawn('docker', [
      'events',
      '--since',
      since.toFixed(3),
      '--filter',
      `container=${name}`,
      '--filter',
      'event=health_status',
      '--format',
      '{{.Status}}',
    ]);
    let seen = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      events.kill();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(async () => {
      const logs = await docker(['logs', '--tail', '20', name]);
      done(new Error(`${name} not healthy in ${timeoutMs} ms (${seen}):\n${logs.stderr}`));
    }, timeoutMs);
    events.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('health_status: healthy')) done();
    });
  });
}

const now = (): number => Date.now() / 1000;

/** http://127.0.0.1:<port> the container's 7080 is published on (changes on restart). */
async function apiBase(name: string): Promise<string> {
  const mapping = await dockerOk(['port', name, '7080/tcp']);
  return `http://${mapping.split('\n')[0]}`;
}

async function api(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
}

/** `docker run -d` of the image with 7080 published on loopback and a 1 s health interval. */
async function runGateway(name: string, args: string[]): Promise<number> {
  const since = now() - 1;
  await dockerOk([
    'run',
    '-d',
    '--name',
    name,
    '-p',
    '127.0.0.1::7080',
    '--health-interval=1s',
    '-e',
    `Security__Admin__BootstrapToken=${ADMIN_TOKEN}`,
    ...args,
    IMAGE,
  ]);
  return since;
}

/** The uid the container's PID 1 (the gateway, after the entry point) runs as. */
async function gatewayUid(name: string): Promise<number> {
  const status = await dockerOk(['exec', name, 'cat', '/proc/1/status']);
  const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
  if (!uids) throw new Error(`no Uid line in /proc/1/status:\n${status}`);
  expect(new Set(uids.slice(1))).toEqual(new Set([uids[1]])); // real, effective, saved, fs
  return Number(uids[1]);
}

/** `root/name` owned by `uid`, holding empty files `files` (made by root in a container). */
async function dirOwnedBy(root: string, name: string, uid: number, files: string[]) {
  const inside = ['/mnt/' + name, ...files.map((f) => `/mnt/${name}/${f}`)];
  const script = `mkdir /mnt/${name} && touch ${inside.slice(1).join(' ') || '/dev/null'} && chown -R ${uid}:${uid} /mnt/${name}`;
  await dockerOk(['run', '--rm', '--entrypoint', 'sh', '-v', `${root}:/mnt`, IMAGE, '-c', script]);
  return join(root, name);
}

/** Builds the image when it is missing (locally; CI built it before the tests). */
async function ensureImage(): Promise<void> {
  if ((await docker(['image', 'inspect', IMAGE])).code === 0) return;
  if (process.env.CI) throw new Error(`${IMAGE} is missing: .ci/run builds it (.ci/image-build)`);
  console.warn(`\n*** ${IMAGE} is missing: building it with .ci/image-build (minutes) ***\n`);
  await new Promise<void>((resolve, reject) => {
    execFile(
      join(REPO, '.ci', 'image-build'),
      { env: { ...process.env, VECTRA_TEST_IMAGE: IMAGE }, timeout: 900_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`.ci/image-build: ${stderr}`)) : resolve()),
    );
  });
}

describeWith('docker')(`the gateway image (${IMAGE})`, () => {
  const containers = [NAME, BIND_NAME, USER_NAME];
  const bindRoot = tempDir('vectra-image-bind-');

  beforeAll(async () => {
    await ensureImage();
  }, 900_000);

  afterAll(async () => {
    await docker(['rm', '-f', '-v', ...containers]);
    await docker(['volume', 'rm', '-f', VOLUME]);
    // The gateway's files in the bind mount belong to its uid: removed from inside.
    await docker([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      '-v',
      `${bindRoot}:/mnt`,
      IMAGE,
      '-c',
      'rm -rf /mnt/* /mnt/.[!.]*',
    ]);
  });

  it('`--version` prints the APP_VERSION it was built with', async () => {
    const label = await dockerOk([
      'image',
      'inspect',
      '-f',
      '{{index .Config.Labels "org.opencontainers.image.version"}}',
      IMAGE,
    ]);
    expect(label).not.toBe('');
    expect(await dockerOk(['run', '--rm', IMAGE, '--version'])).toBe(label);
  });

  describe('on a named volume', () => {
    let base: string;

    beforeAll(async () => {
      const since = await runGateway(NAME, [
        '-v',
        `${VOLUME}:/data`,
        '-e',
        'System__RateLimit__DefaultRequestsPerMinute=7',
      ]);
      await healthyAfter(NAME, since);
      base = await apiBase(NAME);
    });

    it('its HEALTHCHECK is `vectra health` and it turned healthy', async () => {
      const check = await dockerOk(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', IMAGE]);
      expect(JSON.parse(check)).toEqual(['CMD', 'node', 'bin/vectra.js', 'health']);
      expect(await dockerOk(['inspect', '-f', '{{.State.Health.Status}}', NAME])).toBe('healthy');
    });

    it('answers /health Healthy on the published port', async () => {
      const res = await fetch(`${base}/health`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('Healthy');
    });

    it('runs the gateway as the non-root vectra user', async () => {
      expect(await gatewayUid(NAME)).toBe(VECTRA_UID);
      const args = await dockerOk(['exec', NAME, 'cat', '/proc/1/cmdline']);
      expect(args.split('\0')).toEqual(['node', '/app/bin/vectra.js', 'serve', '']);
    });

    it('applies Section__Key environment overrides', async () => {
      const res = await api(base, 'GET', '/v1/rate-limits');
      expect(res.status).toBe(200);
      expect(res.body.default.requestsPerMinute).toBe(7);
    });

    it('keeps its data across a restart', async () => {
      const vault = `persisted-${RUN_ID}`;
      expect((await api(base, 'POST', '/v1/vaults', { name: vault })).status).toBe(201);
      const since = now();
      await dockerOk(['restart', NAME]);
      await healthyAfter(NAME, since);
      base = await apiBase(NAME);
      const res = await api(base, 'GET', `/v1/vaults/${vault}`);
      expect(res.status).toBe(200);
      expect(res.body.vault.name).toBe(vault);
    });
  });

  describe('the bind-mount recipe: docker run -v $(pwd)/data:/data', () => {
    it('an empty /data that Docker created is given to vectra, which writes its database', async () => {
      const data = join(bindRoot, 'data'); // does not exist yet: Docker creates it, owned by root
      expect(existsSync(data)).toBe(false);
      const since = await runGateway(BIND_NAME, ['-v', `${data}:/data`]);
      await healthyAfter(BIND_NAME, since);
      expect(await gatewayUid(BIND_NAME)).toBe(VECTRA_UID);
      expect(statSync(data).uid).toBe(VECTRA_UID);
      expect(readdirSync(data)).toContain('vectra.db');
      expect(statSync(join(data, 'vectra.db')).uid).toBe(VECTRA_UID);
    });

    it('a /data owned by someone else is left alone, with a message saying what to do', async () => {
      const other = await dirOwnedBy(bindRoot, 'other', 4242, ['keep']);
      const res = await docker(['run', '--rm', '-v', `${other}:/data`, IMAGE, 'serve']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('/data is not writable by the vectra user (uid 10001)');
      expect(res.stderr).toContain('--user "$(id -u):$(id -g)"');
      expect(statSync(other).uid).toBe(4242);
      expect(readdirSync(other)).toEqual(['keep']);
    });

    it('`--user` runs the gateway as the directory owner instead', async () => {
      const mine = await dirOwnedBy(bindRoot, 'mine', 4242, []);
      const since = await runGateway(USER_NAME, [
        '--user',
        '4242:4242',
        '-v',
        `${mine}:/data`,
        '-e',
        'Observability__Logging__File__Directory=/data/logs',
      ]);
      await healthyAfter(USER_NAME, since);
      expect(await gatewayUid(USER_NAME)).toBe(4242);
      expect(statSync(join(mine, 'vectra.db')).uid).toBe(4242);
      expect(readdirSync(join(mine, 'logs')).length).toBeGreaterThan(0);
    });
  });
});
