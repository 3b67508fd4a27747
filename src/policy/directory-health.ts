/**
 * Health of the policy source: the Internal provider's directory must exist and be readable
 * (without it every request would be refused); the OPA provider must answer its /health. Given
 * the running engine, the Internal provider also reports its policy set: Unhealthy when no valid
 * set is loaded (every request is refused), Degraded when the last change was refused and an
 * older set is still active.
 */
import { readdir } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { VectraConfig } from '../config/schema';
import type { HealthCheck } from '../observability/health';
import type { PolicyEngine } from './types';

export function policyHealthCheck(
  policy: VectraConfig['Policy'],
  engine?: Pick<PolicyEngine, 'status'>,
): HealthCheck {
  return {
    name: 'policies',
    async run() {
      if (!policy.Enabled) {
        return {
          status: 'Healthy',
          description: 'policy engine disabled: every request is allowed',
        };
      }
      if (policy.DefaultProvider === 'Opa') {
        const url = new URL('/health', policy.Providers.Opa.BaseUrl);
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (!res.ok)
          return {
            status: 'Unhealthy',
            description: `OPA answered ${res.status} at ${url.origin}`,
          };
        return { status: 'Healthy', description: `OPA at ${url.origin}` };
      }
      const directory = resolve(policy.Providers.Internal.Directory);
      let files: string[];
      try {
        files = (await readdir(directory)).filter((f) => f.endsWith('.json'));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        return {
          status: 'Unhealthy',
          // The path stays out of this public answer; `vectra config show` has it.
          description: `policy directory is not readable (${code})`,
        };
      }
      const data = { files: files.length };
      const status = engine?.status?.();
      // /health is public: the engine's own words, without the directory's path.
      const loaded = status && {
        ...status,
        description: withoutPath(status.description, directory),
      };
      if (loaded && !loaded.ready) {
        return { status: 'Unhealthy', description: loaded.description, data };
      }
      if (loaded?.stale) return { status: 'Degraded', description: loaded.description, data };
      return {
        status: 'Healthy',
        description: loaded?.description ?? `${files.length} policy file(s)`,
        data,
      };
    },
  };
}

/** `text` with `directory/` dropped before file names and the directory itself named, not shown. */
function withoutPath(text: string, directory: string): string {
  return text.split(`${directory}${sep}`).join('').split(directory).join('the policy directory');
}
