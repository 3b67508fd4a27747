/**
 * `vectra run --isolation container` on the real Docker engine: the bundled image built from
 * the offline base (.ci/docker-setup), a real gateway in this process, a real HTTPS upstream on
 * 127.0.0.2 and the built CLI as a child process (local mode: VECTRA_ADDR + VECTRA_ADMIN_TOKEN).
 *
 * The agent reaches the upstream only through the gateway, which injects the credential; every
 * other way out is refused at the kernel. Each escape's destination is this machine (a listener
 * on the docker0 bridge's address, the gateway's own port) or a container the test started; a
 * second run of the same probe with --no-firewall shows those destinations are reachable when
 * nothing stops them, so a refusal is the firewall's and not an accident of the set-up.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, copyFileSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { bundledImageTag } from '../../src/isolation/container/assets';
import type { Gateway } from '../../src/gateway';
import { REDACTED } from '../../src/pipeline/redact-response';
import { freshWorkdir, runCli, startCli, type CliResult } from '../helpers/cli';
import { startTestGateway } from '../helpers/gateway';
import { DOCKER_BASE_IMAGE, describeWith } from '../helpers/services';
import { tempDir } from '../helpers/temp-dir';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const SECRET = `sk_live_${randomBytes(16).toString('hex')}`;
const ADMIN_TOKEN = `vec_adm_${randomBytes(32).toString('base64url')}`;
/** Outside the container's NO_PROXY (loopback); the gateway reaches it on the host's lo. */
const UPSTREAM_HOST = '127.0.0.2';
const VAULT = 'c1';
const RUN_ID = randomBytes(4).toString('hex');
/** A derived image whose firewall script fails. */
const BROKEN_IMAGE = `vectra-test/broken-firewall:${RUN_ID}`;
const PEER = `vectra-test-peer-${RUN_ID}`;
const PEER_PORT = 8080;
const PROBE = join(__dirname, '..', 'helpers', 'escape-probe.py');

jest.setTimeout(180_000);

function docker(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile('docker', args, { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
      }),
    );
    child.stdin?.on('error', () => undefined); // docker may exit before reading it
    child.stdin?.end(input ?? '');
  });
}

async function dockerOk(args: string[], input?: string): Promise<string> {
  const result = await docker(args, input);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

/** What a run may leave behind: networks, home volumes and containers of vectra's. */
async function leftovers(): Promise<string[]> {
  const [networks, volumes, containers] = await Promise.all([
    dockerOk([
      'network',
      'ls',
      '--filter',
      'label=vectra.isolation=network',
      '--format',
      '{{.Name}}',
    ]),
    dockerOk(['volume', 'ls', '--filter', 'name=vectra-home-', '--format', '{{.Name}}']),
    dockerOk([
      'ps',
      '-a',
      '--filter',
      'label=vectra.isolation=container',
      '--format',
      '{{.Names}}',
    ]),
  ]);
  return [networks, volumes, containers].join('\n').split('\n').filter(Boolean).sort();
}

/** One of this machine's own global IPv6 addresses, if it has one. */
function ownIpv6Address(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv6' && !a.internal && !a.address.startsWith('fe80')) return a.address;
    }
  }
  return undefined;
}

/** An HTTP server on `host` (this machine) recording what reached it. */
async function recordingListener(host: string): Promise<{
  server: Server;
  port: number;
  paths: string[];
}> {
  const paths: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    paths.push(req.url ?? '');
    res.end('reached');
  });
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, paths };
}

/**
 * A workspace the agent may write to: test directories are 0700 and root's here, while the
 * agent runs as HOST_UID (1000 when the caller is root, never root: root in the container could
 * undo the firewall).
 */
function agentWorkdir(): string {
  const dir = freshWorkdir();
  chmodSync(dir, 0o777);
  return dir;
}

const describeDocker = describeWith('docker');

describeDocker('vectra run --isolation container (real Docker engine)', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let home: string;
  let bridge: string;
  let listener: Awaited<ReturnType<typeof recordingListener>>;
  let udp: UdpSocket;
  let udpPort: number;
  const udpReceived: string[] = [];
  let peerIp: string;
  let before: string[];

  beforeAll(async () => {
    upstream = await startUpstream([], { host: UPSTREAM_HOST });
    gateway = await startTestGateway({
      Security__Admin__BootstrapToken: ADMIN_TOKEN,
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8',
    });
    await gateway.vaults.createVault({ name: VAULT });
    await gateway.vaults.setCredential(VAULT, 'API_KEY', SECRET);
    await gateway.vaults.createService(VAULT, {
      name: 'local',
      host: `${UPSTREAM_HOST}:${upstream.httpsPort}`,
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    home = tempDir('vectra-home-');
    mkdirSync(join(home, '.vectra'));
    await dockerOk([
      'run',
      '-d',
      '--rm',
      '--name',
      PEER,
      '--label',
      'vectra.test=peer',
      DOCKER_BASE_IMAGE,
      'nc',
      '-lk',
      String(PEER_PORT),
    ]);
    // The peer's gateway is the default bridge's address on this machine (docker0).
    [peerIp, bridge] = (
      await dockerOk([
        'inspect',
        '--format',
        '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}',
        PEER,
      ])
    ).split(' ');
    listener = await recordingListener(bridge);
    udp = createSocket('udp4');
    udp.on('message', (message) => udpReceived.push(message.toString()));
    // Port 53 where this process may bind it (as root), the question being DNS-shaped egress.
    udp.bind(process.getuid?.() === 0 ? 53 : 0, bridge);
    await once(udp, 'listening');
    udpPort = udp.address().port;
    before = await leftovers();
  });

  afterAll(async () => {
    await docker(['rm', '-f', PEER]);
    await docker(['image', 'rm', '-f', BROKEN_IMAGE]);
    udp?.close();
    listener?.server.closeAllConnections();
    listener?.server.close();
    await gateway?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
  });

  interface RunOptions {
    flags?: string[];
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  }

  function runEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      HOME: home,
      VECTRA_ADDR: gateway.urls.http,
      VECTRA_ADMIN_TOKEN: ADMIN_TOKEN,
      VECTRA_ISOLATION_BASE_IMAGE: DOCKER_BASE_IMAGE,
      ...extra,
    };
  }

  function runArgs(command: string[], flags: string[] = []): string[] {
    return ['run', '--vault', VAULT, '--isolation', 'container', ...flags, '--', ...command];
  }

  /** `vectra run --isolation container …`; afterwards nothing of the run's is left in Docker. */
  async function vectraRun(command: string[], options: RunOptions = {}): Promise<CliResult> {
    const result = await runCli(runArgs(command, options.flags), {
      cwd: options.cwd,
      env: runEnv(options.env),
    });
    expect(await leftovers()).toEqual(before);
    return result;
  }

  function expectNoSecretIn(...texts: string[]): void {
    for (const text of texts) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(ADMIN_TOKEN);
    }
  }

  it('builds the image from the local base once, then reuses it', async () => {
    const tag = bundledImageTag(DOCKER_BASE_IMAGE);
    const result = await vectraRun(['true']);
    expect(result.code).toBe(0);
    expect(await dockerOk(['image', 'inspect', '--format', '{{.Id}}', tag])).toMatch(/^sha256:/);
    const again = await vectraRun(['true']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('building the isolation image');
  });

  describe('the gateway is the way out, and it holds the credential', () => {
    const url = (path: string) => `${upstream.httpsUrl}${path}`;

    it('curl through the proxy: the upstream gets the credential, the agent sees it redacted', async () => {
      const result = await vectraRun(['curl', '-sS', url('/curl')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const echoed = JSON.parse(result.stdout);
      expect(echoed.url).toBe('/curl');
      expect(echoed.headers.authorization).toBe(`Bearer ${REDACTED}`);
      expect(upstream.received.map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`]);
      expectNoSecretIn(result.stdout, result.stderr);
    });

    it("python3 (urllib, the proxy from the environment, Vectra's CA from the trust store)", async () => {
      const script =
        'import urllib.request;' +
        `print(urllib.request.urlopen(${JSON.stringify(url('/py'))}).read().decode())`;
      const result = await vectraRun(['python3', '-c', script]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).url).toBe('/py');
      expect(upstream.received.map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`]);
      expectNoSecretIn(result.stdout, result.stderr);
    });

    it('the agent finds no secret, no admin token and no ~/.vectra in the container', async () => {
      const script = [
        'env',
        'echo "--- home"',
        'ls -A "$HOME"',
        'echo "--- id"',
        'id -u',
        'echo "--- grep"',
        `grep -rsl -e "${SECRET}" -e "${ADMIN_TOKEN}" /workspace /home /etc /tmp /root || echo none`,
        'echo "--- pid1"',
        'cat /proc/1/environ 2>&1 | tr "\\0" "\\n"',
      ].join('; ');
      const result = await vectraRun(['sh', '-c', script], {
        env: { VECTRA_SECRET_API_KEY: SECRET, Security__Admin__BootstrapToken: ADMIN_TOKEN },
      });
      expect(result.code).toBe(0);
      expectNoSecretIn(result.stdout, result.stderr);
      const [env, homeList, uid, grep] = result.stdout.split(/^--- \w+$/m);
      expect(env).toMatch(/^HTTPS_PROXY=http:\/\/.+@host\.docker\.internal:\d+$/m);
      expect(env).toMatch(/^VECTRA_TOKEN=/m);
      expect(env).not.toMatch(/ADMIN|VECTRA_SECRET|Security__/);
      expect(homeList.split('\n')).not.toContain('.vectra');
      expect(Number(uid.trim())).not.toBe(0);
      expect(grep.trim()).toBe('none');
      // PID 1 (tini) is root's: the agent cannot read its environment.
      expect(result.stdout).toMatch(/environ: Permission denied/);
    });
  });

  describe('escapes are refused at the kernel', () => {
    /** A dropped SYN: the connect times out (or fails at once with EPERM). */
    const DROPPED = ['TimeoutError', 'EPERM'];
    let blocked: Record<string, any>;
    let open: Record<string, any>;
    let openRun: CliResult;
    let listenerAfterBlocked: string[];
    let udpAfterBlocked: string[];

    beforeAll(async () => {
      const cwd = agentWorkdir();
      copyFileSync(PROBE, join(cwd, 'probe.py'));
      const targets = {
        bridge,
        tcpPort: listener.port,
        udpPort,
        apiPort: Number(new URL(gateway.urls.http).port),
        peerIp,
        peerPort: PEER_PORT,
      };
      listener.paths.length = 0;
      udpReceived.length = 0;
      const firewalled = await vectraRun(
        [
          'python3',
          '/workspace/probe.py',
          JSON.stringify({ ...targets, ipv6: ownIpv6Address(), dns: 'vectra-probe.invalid' }),
        ],
        { cwd },
      );
      expect(firewalled.stderr).toBe('');
      expect(firewalled.code).toBe(0);
      blocked = JSON.parse(firewalled.stdout);
      listenerAfterBlocked = [...listener.paths];
      udpAfterBlocked = [...udpReceived];
      // The control: the same probe with no firewall reaches the same destinations.
      openRun = await vectraRun(['python3', '/workspace/probe.py', JSON.stringify(targets)], {
        cwd,
        flags: ['--no-firewall'],
      });
      expect(openRun.code).toBe(0);
      open = JSON.parse(openRun.stdout);
    });

    it('the agent is not root and cannot flush or open the firewall', () => {
      expect(blocked.uid).not.toBe(0);
      for (const attempt of [blocked.iptables_flush, blocked.iptables_accept]) {
        expect(attempt.code).not.toBe(0);
        expect(attempt.stderr).toMatch(/Permission denied|Operation not permitted/);
      }
    });

    it("a TCP connect to the gateway's API port directly (not the relay) is dropped", () => {
      expect(DROPPED).toContain(blocked.tcp_api);
    });

    it('a TCP connect and curl --noproxy to a listener on this machine are dropped', () => {
      expect(DROPPED).toContain(blocked.tcp_listener);
      expect(blocked.curl_noproxy.code).not.toBe(0);
      expect(open.tcp_listener).toBe('connected');
      expect(open.curl_noproxy.code).toBe(0);
    });

    it('unsetting the proxy variables does not open a direct way', () => {
      expect(blocked.curl_unset_proxy.code).not.toBe(0);
      expect(open.curl_unset_proxy.code).toBe(0);
      expect(listenerAfterBlocked).toEqual([]);
      expect(listener.paths).toEqual(['/noproxy', '/unset-proxy']);
    });

    // Docker's isolation of networks from each other drops this too; the firewall is a second wall.
    it('a TCP connect to another container (on the default bridge) gets nowhere', () => {
      expect(DROPPED).toContain(blocked.tcp_peer);
    });

    it('UDP to port 53 of this machine is dropped, and the listener receives nothing', () => {
      expect(blocked.udp).toBe('EPERM');
      expect(udpAfterBlocked).toEqual([]);
      expect(open.udp).toBe('sent');
      expect(udpReceived).toEqual(['vectra-escape-probe']);
    });

    it("DNS: Docker's resolver is dropped and a lookup fails", () => {
      expect(blocked.udp_resolver).toBe('EPERM');
      expect(blocked.lookup).toBe('gaierror');
    });

    it('ICMP and raw sockets: no echo gets out, and no raw socket opens', () => {
      expect(blocked.ping).toBe('EPERM');
      expect(open.ping).toBe('reply');
      expect(blocked.raw_icmp).toBe('EPERM');
      expect(blocked.raw_packet).toBe('EPERM');
    });

    it('IPv6: a connect to an address of this machine does not get out', () => {
      if (blocked.tcp_ipv6 === undefined) return; // this machine has no global IPv6 address
      expect(['EPERM', 'ENETUNREACH', 'EADDRNOTAVAIL']).toContain(blocked.tcp_ipv6);
    });

    it('--no-firewall says so on stderr', () => {
      expect(openRun.stderr).toContain('WARNING: --no-firewall');
    });
  });
  describe('the command runs as it would on the host', () => {
    it('exit codes pass through', async () => {
      expect((await vectraRun(['sh', '-c', 'exit 7'])).code).toBe(7);
    });

    it('files written to /workspace belong to HOST_UID:HOST_GID', async () => {
      const cwd = agentWorkdir();
      const result = await vectraRun(['sh', '-c', 'echo hi > /workspace/owned.txt'], {
        cwd,
        env: { HOST_UID: '4242', HOST_GID: '4242' },
      });
      expect(result.code).toBe(0);
      const stat = statSync(join(cwd, 'owned.txt'));
      expect([stat.uid, stat.gid]).toEqual([4242, 4242]);
    });

    it("by default they belong to the caller's uid (1000 for root, never root)", async () => {
      const cwd = agentWorkdir();
      const result = await vectraRun(['sh', '-c', 'echo hi > /workspace/mine.txt'], { cwd });
      expect(result.code).toBe(0);
      const uid = process.getuid?.() ?? 1000;
      expect(statSync(join(cwd, 'mine.txt')).uid).toBe(uid === 0 ? 1000 : uid);
    });

    it('SIGTERM to vectra reaches the command; root in the container sees the firewall', async () => {
      const script =
        'trap "echo got-term; exit 42" TERM; echo "ready $(cat /etc/hostname)"; ' +
        'while :; do sleep 0.2; done';
      const child = startCli(runArgs(['sh', '-c', script]), { env: runEnv() });
      const exited = once(child, 'exit');
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const ready = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const match = stdout.match(/^ready (\S+)$/m);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code} early: ${stderr}`)));
      });
      try {
        const container = await ready;
        const rules = await dockerOk([
          'exec',
          '-u',
          '0',
          container,
          'sh',
          '-c',
          'iptables -S OUTPUT; echo ---; ip6tables -S OUTPUT; echo ---; tr "\\0" "\\n" < /proc/1/environ',
        ]);
        const [v4, v6, pid1] = rules.split('---\n');
        expect(v4).toMatch(/^-P OUTPUT DROP$/m);
        expect(v4).toMatch(/^-A OUTPUT -d 127\.0\.0\.11\/32 -j DROP$/m);
        expect(v4.match(/--dport \d+ -j ACCEPT$/gm)).toHaveLength(2);
        expect(v6).toMatch(/^-P OUTPUT DROP$/m);
        expect(pid1).toMatch(/^VECTRA_GATEWAY_PORTS=\d+,\d+$/m);
        expectNoSecretIn(pid1);

        // The relays answer this container's network only, not a container on another network
        // (a host address answers every container): the gateway listens on loopback here.
        const relayHost = (
          await dockerOk(['exec', container, 'getent', 'ahostsv4', 'host.docker.internal'])
        ).split(/\s+/)[0];
        const apiRelayPort = pid1.match(/^VECTRA_GATEWAY_PORTS=(\d+),/m)![1];
        const health = (from: string) =>
          docker([
            'exec',
            '-u',
            '1000',
            from,
            'sh',
            '-c',
            `printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${relayHost} ${apiRelayPort}`,
          ]);
        expect((await health(container)).stdout).toMatch(/^HTTP\/1\.1 200 /);
        expect((await health(PEER)).stdout).toBe('');

        child.kill('SIGTERM');
        const [code] = await exited;
        expect(stdout).toContain('got-term');
        expect(code).toBe(42);
        expect(await leftovers()).toEqual(before);
      } finally {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
      }
    });

    it('--keep leaves the container (and its network and home) for docker inspect', async () => {
      const result = await runCli(runArgs(['sh', '-c', 'echo kept'], ['--keep']), {
        env: runEnv(),
      });
      expect(result.code).toBe(0);
      const name = result.stderr.match(/kept container (vectra-[0-9a-f]+)/)?.[1];
      expect(name).toBeDefined();
      try {
        const listed = await dockerOk([
          'ps',
          '-a',
          '--filter',
          `name=^${name}$`,
          '--format',
          '{{.Names}}',
        ]);
        expect(listed).toBe(name);
        expect(await dockerOk(['logs', name!])).toBe('kept');
        const env = await dockerOk(['inspect', '--format', '{{json .Config.Env}}', name!]);
        expect(env).toContain('VECTRA_GATEWAY_PORTS=');
        expectNoSecretIn(env);
      } finally {
        await docker(['rm', '-f', name!]);
        await docker(['network', 'rm', name!]);
        await docker(['volume', 'rm', '-f', name!.replace(/^vectra-/, 'vectra-home-')]);
      }
      expect(await leftovers()).toEqual(before);
    });
  });

  describe('refusals before anything starts', () => {
    async function expectUsageError(flags: string[], message: RegExp): Promise<void> {
      const result = await vectraRun(['touch', '/workspace/should-not-run'], { flags });
      expect(result.stderr).toMatch(message);
      expect(result.code).toBe(2);
    }

    it('--mount refuses /, the Docker socket, ~/.vectra, its parents and symlinks to them', async () => {
      const links = tempDir('vectra-links-');
      symlinkSync(join(home, '.vectra'), join(links, 'to-vectra'));
      symlinkSync('/var/run/docker.sock', join(links, 'to-socket'));
      await expectUsageError(['--mount', '/:/host'], /host root/);
      await expectUsageError(
        ['--mount', '/var/run/docker.sock:/var/run/docker.sock'],
        /Docker socket/,
      );
      await expectUsageError(['--mount', '/var/run:/host-run'], /Docker socket/);
      await expectUsageError(['--mount', `${join(home, '.vectra')}:/v`], /Vectra's directory/);
      await expectUsageError(['--mount', `${home}:/h:ro`], /Vectra's directory/);
      await expectUsageError(['--mount', `${join(links, 'to-vectra')}:/v`], /Vectra's directory/);
      await expectUsageError(['--mount', `${join(links, 'to-socket')}:/s`], /Docker socket/);
    });

    it('--home-volume-shared with --share-agent-dir is a usage error', async () => {
      await expectUsageError(
        ['--home-volume-shared', '--share-agent-dir'],
        /cannot be used together/,
      );
    });

    it('docker missing from PATH', async () => {
      const result = await vectraRun(['true'], { env: { PATH: tempDir('vectra-empty-path-') } });
      expect(result.stderr).toContain('docker not found in PATH');
      expect(result.code).toBe(2);
    });

    it('an engine that does not answer', async () => {
      const result = await vectraRun(['true'], {
        env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
      });
      expect(result.stderr).toMatch(/the Docker engine is not running or not reachable/);
      expect(result.code).toBe(1);
    });
  });

  describe('the firewall fails closed', () => {
    it('when init-firewall.sh fails, the command does not run', async () => {
      const tag = bundledImageTag(DOCKER_BASE_IMAGE);
      await dockerOk(
        ['build', '-t', BROKEN_IMAGE, '-'],
        [
          `FROM ${tag}`,
          `RUN printf '#!/bin/sh\\necho "init-firewall: simulated failure" >&2\\nexit 1\\n' > /usr/local/sbin/init-firewall.sh`,
          '',
        ].join('\n'),
      );
      const cwd = agentWorkdir();
      const result = await vectraRun(['touch', '/workspace/agent-ran'], {
        cwd,
        flags: ['--image', BROKEN_IMAGE],
      });
      expect(result.stderr).toContain('init-firewall: simulated failure');
      expect(result.stderr).toContain('the firewall could not be applied and verified');
      expect(result.code).not.toBe(0);
      expect(existsSync(join(cwd, 'agent-ran'))).toBe(false);
    });

    it('without NET_ADMIN the bundled image refuses to start the command', async () => {
      const cwd = agentWorkdir();
      const result = await docker([
        'run',
        '--rm',
        '--cap-drop',
        'ALL',
        '--cap-add',
        'SETUID',
        '--cap-add',
        'SETGID',
        '--add-host',
        `host.docker.internal:${bridge}`,
        '-e',
        'VECTRA_GATEWAY_PORTS=1',
        '-v',
        `${cwd}:/workspace`,
        bundledImageTag(DOCKER_BASE_IMAGE),
        'touch',
        '/workspace/agent-ran',
      ]);
      expect(result.stderr).toContain('iptables does not work here');
      expect(result.code).toBe(70);
      expect(existsSync(join(cwd, 'agent-ran'))).toBe(false);
    });
  });

  describe('cleanup', () => {
    it('removes a stale labelled network at start, and leaves a fresh one alone', async () => {
      const stale = `vectra-stale-${RUN_ID}`;
      const fresh = `vectra-fresh-${RUN_ID}`;
      const labelled = (name: string, created: number) =>
        dockerOk([
          'network',
          'create',
          '--label',
          'vectra.isolation=network',
          '--label',
          `vectra.created=${created}`,
          name,
        ]);
      await labelled(stale, Date.now() - 10 * 60_000);
      await labelled(fresh, Date.now());
      try {
        const result = await runCli(runArgs(['true']), { env: runEnv() });
        expect(result.code).toBe(0);
        const names = await dockerOk(['network', 'ls', '--format', '{{.Name}}']);
        expect(names.split('\n')).not.toContain(stale);
        expect(names.split('\n')).toContain(fresh);
      } finally {
        await docker(['network', 'rm', stale]);
        await docker(['network', 'rm', fresh]);
      }
      expect(await leftovers()).toEqual(before);
    });
  });
});
