/**
 * `vectra run --isolation=container`: the command runs in a Docker container whose only
 * reachable destination is the gateway. Per invocation: a labelled bridge network, host-side
 * relays on its gateway address for the API and proxy ports, and a home volume; the image's
 * entrypoint applies and verifies the firewall (OUTPUT DROP but for the two relay ports, no
 * DNS) before dropping to an unprivileged user. The admin token and `~/.vectra` never enter the
 * container: it gets the session (or agent-mode) token in its proxy URL, and Vectra's CA.
 * Everything is removed at exit (the container too, unless `--keep`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SavedLogin } from '../../client/login-store';
import { configHome } from '../../client/login-store';
import { EXIT } from '../../errors';
import { runChild, hasTerminal, type ChildOptions, type ChildOutcome } from '../child-process';
import { resolveGatewayAccess } from '../gateway-access';
import { proxyUrlWithToken } from '../proxy-url';
import { RunError, type RunFlags } from '../run-mode';
import { checkEngine, createDocker, type Docker } from './docker';
import { ensureImage } from './image';
import { parseMount, type Mount } from './mounts';
import { createNetwork, pruneStaleNetworks, removeNetwork } from './network';
import { startRelay, subnetList, type Relay } from './relay';

export interface ContainerFlags extends RunFlags {
  proxy?: string;
  image?: string;
  /** `--mount src:dst[:ro]`, repeatable. */
  mount?: string[];
  keep?: boolean;
  /** `--no-firewall` (commander: firewall false). */
  firewall?: boolean;
  homeVolumeShared?: boolean;
  shareAgentDir?: boolean;
}

export interface ContainerRunRequest {
  flags: ContainerFlags;
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  readLogin: () => SavedLogin | undefined;
  /** Where warnings and the build's progress go. */
  stderr: (text: string) => void;
}

export interface ContainerRunDeps {
  fetch?: typeof fetch;
  docker?: Docker;
  child?: Omit<ChildOptions, 'env'>;
  platform?: NodeJS.Platform;
  /** Called with the container's name once it is being started (tests). */
  onContainer?: (name: string) => void;
}

/** Where things are inside the container. */
const IN_CONTAINER = {
  workspace: '/workspace',
  home: '/home/agent',
  ca: '/etc/vectra/ca.pem',
  bundle: '/etc/ssl/certs/ca-certificates.crt',
  gatewayHost: 'host.docker.internal',
} as const;

/** Only what the entrypoint needs, beyond the default capability set being dropped. */
const CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID', 'CHOWN', 'KILL'];

export const SHARED_HOME_VOLUME = 'vectra-home';
/** The host's agent state directory that `--share-agent-dir` bind-mounts. */
export const AGENT_DIR = '.claude';

export async function runContainer(
  request: ContainerRunRequest,
  deps: ContainerRunDeps = {},
): Promise<ChildOutcome> {
  const { flags, env } = request;
  if ((deps.platform ?? process.platform) === 'win32') {
    throw new RunError(
      'container isolation is not supported on Windows',
      EXIT.CONFIG_OR_USAGE,
      'use --isolation host',
    );
  }
  if (flags.homeVolumeShared && flags.shareAgentDir) {
    throw new RunError(
      '--home-volume-shared and --share-agent-dir cannot be used together',
      EXIT.CONFIG_OR_USAGE,
    );
  }
  const protectedDirs = [configHome(env), join(env.HOME || homedir(), '.vectra')];
  const mounts = (flags.mount ?? []).map((spec) => parseMount(spec, protectedDirs));
  const workspace = parseMount(`${process.cwd()}:${IN_CONTAINER.workspace}`, protectedDirs);

  const docker = deps.docker ?? createDocker();
  await checkEngine(docker);
  const access = await resolveGatewayAccess(request, deps.fetch);
  const image = await ensureImage(docker, {
    custom: flags.image,
    baseImage: env.VECTRA_ISOLATION_BASE_IMAGE,
    progress: request.stderr,
  });
  await pruneStaleNetworks(docker);

  const id = randomBytes(6).toString('hex');
  const name = `vectra-${id}`;
  const network = await createNetwork(docker, name);
  const relays: Relay[] = [];
  const caDir = mkdtempSync(join(tmpdir(), 'vectra-ca-'));
  const homeVolume = flags.homeVolumeShared ? SHARED_HOME_VOLUME : `vectra-home-${id}`;
  let keepNetwork = false;
  try {
    const api = new URL(access.mode.addr);
    const agentNetwork = subnetList(network.subnet);
    relays.push(
      await startRelay(
        network.gateway,
        { host: api.hostname.replace(/^\[|\]$/g, ''), port: portOf(api) },
        agentNetwork,
      ),
    );
    relays.push(
      await startRelay(
        network.gateway,
        {
          host: access.proxyBase.hostname.replace(/^\[|\]$/g, ''),
          port: portOf(access.proxyBase),
        },
        agentNetwork,
      ),
    );
    const [apiRelay, proxyRelay] = relays;
    const caFile = join(caDir, 'ca.pem');
    writeFileSync(caFile, access.vectraCa, { mode: 0o644 });

    const proxyUrl = proxyUrlWithToken(
      new URL(`http://${IN_CONTAINER.gatewayHost}:${proxyRelay.port}`),
      access.token,
      access.mode.vault,
    );
    const containerEnv: Record<string, string> = {
      HTTPS_PROXY: proxyUrl,
      HTTP_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      http_proxy: proxyUrl,
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
      NODE_USE_ENV_PROXY: '1',
      NODE_EXTRA_CA_CERTS: IN_CONTAINER.ca,
      SSL_CERT_FILE: IN_CONTAINER.bundle,
      REQUESTS_CA_BUNDLE: IN_CONTAINER.bundle,
      CURL_CA_BUNDLE: IN_CONTAINER.bundle,
      GIT_SSL_CAINFO: IN_CONTAINER.bundle,
      AWS_CA_BUNDLE: IN_CONTAINER.bundle,
      VECTRA_ADDR: `${api.protocol}//${IN_CONTAINER.gatewayHost}:${apiRelay.port}`,
      VECTRA_TOKEN: access.token,
      VECTRA_VAULT: access.mode.vault,
      VECTRA_GATEWAY_PORTS: `${apiRelay.port},${proxyRelay.port}`,
      HOST_UID: env.HOST_UID || String(process.getuid?.() ?? 1000),
      HOST_GID: env.HOST_GID || String(process.getgid?.() ?? 1000),
      TERM: env.TERM || 'xterm',
    };
    if (flags.firewall === false) {
      request.stderr(
        'vectra: WARNING: --no-firewall: the container can reach any address; the agent can bypass the gateway. Debug only.\n',
      );
      containerEnv.VECTRA_NO_FIREWALL = '1';
    }
    const volumes: Mount[] = [
      workspace,
      { source: caFile, target: IN_CONTAINER.ca, readOnly: true },
      ...mounts,
    ];
    if (flags.shareAgentDir) {
      const agentDir = join(env.HOME || homedir(), AGENT_DIR);
      volumes.push(parseMount(`${agentDir}:${IN_CONTAINER.home}/${AGENT_DIR}`, protectedDirs));
    }
    const terminal = deps.child?.terminal ?? hasTerminal();
    const args = [
      'run',
      '-i',
      ...(terminal && process.stdin.isTTY ? ['-t'] : []),
      ...(flags.keep ? [] : ['--rm']),
      '--name',
      name,
      '--label',
      'vectra.isolation=container',
      '--network',
      network.name,
      '--add-host',
      `${IN_CONTAINER.gatewayHost}:${network.gateway}`,
      '--cap-drop',
      'ALL',
      ...CAPABILITIES.flatMap((cap) => ['--cap-add', cap]),
      '--security-opt',
      'no-new-privileges',
      '-v',
      `${homeVolume}:${IN_CONTAINER.home}`,
      ...volumes.flatMap((m) => ['-v', `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`]),
      '-w',
      IN_CONTAINER.workspace,
      // Values travel in docker's environment, not its command line (visible in `ps`).
      ...Object.keys(containerEnv).flatMap((key) => ['-e', key]),
      image,
      ...request.command,
    ];
    deps.onContainer?.(name);
    const outcome = await runChild(docker.binary, args, {
      ...deps.child,
      env: { ...process.env, ...env, ...containerEnv },
    });
    if (flags.keep) {
      keepNetwork = true;
      request.stderr(
        `vectra: kept container ${name} (docker logs ${name}; docker rm ${name} when done)\n`,
      );
    }
    return outcome;
  } finally {
    await Promise.all(relays.map((relay) => relay.close()));
    rmSync(caDir, { recursive: true, force: true });
    if (!keepNetwork) {
      await removeNetwork(docker, network.name);
      if (!flags.homeVolumeShared) await docker.run(['volume', 'rm', '-f', homeVolume]);
    }
  }
}

function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
