/**
 * VECTRA_RUNNING_IN_CONTAINER=true (set by the Linux image): published ports reach the gateway
 * from outside the container's network namespace, so listeners bound to a loopback address
 * answer only inside it. The default (0.0.0.0) is right there; a loopback Host is warned about
 * at start, not refused: a sidecar called only from its own pod may want exactly that.
 */
import type { VectraConfig } from './schema';

export function runningInContainer(env: NodeJS.ProcessEnv): boolean {
  return /^(true|1)$/i.test(env.VECTRA_RUNNING_IN_CONTAINER?.trim() ?? '');
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** What `vectra serve` prints before it starts, one line each; none outside a container. */
export function containerWarnings(
  config: Readonly<VectraConfig>,
  env: NodeJS.ProcessEnv,
): string[] {
  if (!runningInContainer(env)) return [];
  const host = config.System.Server.Host;
  if (!isLoopbackHost(host)) return [];
  return [
    `warning: System.Server.Host is ${host} in a container (VECTRA_RUNNING_IN_CONTAINER): ` +
      'published ports cannot reach the API or the proxy; set System__Server__Host=0.0.0.0 ' +
      'unless only this container calls the gateway',
  ];
}

/** The address a local client (`vectra health`) calls: loopback for a wildcard Host. */
export function localHost(host: string): string {
  const h = host.trim();
  if (h === '' || h === '0.0.0.0' || h === '::' || h === '[::]') return '127.0.0.1';
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}
