/**
 * The per-invocation bridge network `vectra-<id>`, labelled so that stale ones (a crashed run's)
 * can be found: at start, those older than a minute with no container attached are removed (the
 * grace period keeps concurrent runs from removing each other's fresh networks).
 */
import { EXIT } from '../../errors';
import { RunError } from '../run-mode';
import { lastLines, type Docker } from './docker';

export const NETWORK_LABEL = 'vectra.isolation=network';
const STALE_AFTER_MS = 60_000;

export interface AgentNetwork {
  name: string;
  /** The bridge's address on the host: where the relay listens, host.docker.internal inside. */
  gateway: string;
  /** The network's IPv4 subnet (`a.b.c.d/n`): the only sources the relay answers. */
  subnet: string;
}

export async function createNetwork(docker: Docker, name: string): Promise<AgentNetwork> {
  const created = await docker.run([
    'network',
    'create',
    '--driver',
    'bridge',
    '--label',
    NETWORK_LABEL,
    '--label',
    `vectra.created=${Date.now()}`,
    name,
  ]);
  if (created.code !== 0) {
    throw new RunError(
      `could not create the container network ${name}: ${lastLines(created.stderr, 2)}`,
      EXIT.FAILURE,
    );
  }
  const inspected = await docker.run([
    'network',
    'inspect',
    '--format',
    '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}',
    name,
  ]);
  const words = inspected.stdout.split(/\s+/);
  const ipv4 = /^\d+\.\d+\.\d+\.\d+$/;
  const subnetAt = words.findIndex((word) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(word));
  const [subnet, gateway] = subnetAt < 0 ? [] : words.slice(subnetAt, subnetAt + 2);
  if (!subnet || !gateway || !ipv4.test(gateway)) {
    await removeNetwork(docker, name);
    throw new RunError(`the container network ${name} has no IPv4 gateway`, EXIT.FAILURE);
  }
  return { name, gateway, subnet };
}

export async function removeNetwork(docker: Docker, name: string): Promise<void> {
  await docker.run(['network', 'rm', name]);
}

/** Removes `vectra-*` networks left by earlier runs; returns their names. */
export async function pruneStaleNetworks(docker: Docker, now = Date.now()): Promise<string[]> {
  const listed = await docker.run([
    'network',
    'ls',
    '--filter',
    `label=${NETWORK_LABEL}`,
    '--format',
    '{{.Name}}',
  ]);
  const removed: string[] = [];
  for (const name of listed.stdout
    .split('\n')
    .map((n) => n.trim())
    .filter(Boolean)) {
    const inspected = await docker.run([
      'network',
      'inspect',
      '--format',
      '{{index .Labels "vectra.created"}} {{len .Containers}}',
      name,
    ]);
    const [created, containers] = inspected.stdout.trim().split(' ').map(Number);
    if (containers === 0 && Number.isFinite(created) && now - created > STALE_AFTER_MS) {
      if ((await docker.run(['network', 'rm', name])).code === 0) removed.push(name);
    }
  }
  return removed;
}
