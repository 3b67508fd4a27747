/**
 * `Environment`: credential values from environment variables, for deployments whose secrets
 * are already delivered that way (Kubernetes secrets, `docker compose` env files).
 *
 * Credential KEY of vault V is looked up, first match wins, as:
 *   1. `<Prefix><V>__<KEY>`  the vault's own value, e.g. VECTRA_SECRET_TEAM_A__STRIPE_KEY
 *   2. `<Prefix><KEY>`       a value shared by every vault, e.g. VECTRA_SECRET_STRIPE_KEY
 * V and KEY are upper-cased, and `-` and `.` become `_` (the only characters of vault and key
 * names that environment variable names cannot carry portably); Prefix is used as configured.
 * An empty variable counts as unset: `FOO=` in an env file means "not provided", and injecting
 * an empty credential would only move the failure upstream.
 *
 * The environment is captured once, at construction, and only the variables under Prefix are
 * kept: a request never reads `process.env` (STYLE.md), and no other variable is retained.
 */
import { GatewayError } from '../errors';
import type { SecretProvider } from './types';

/** The variable names tried for `key` of `vault`, in lookup order. */
export function environmentVariableNames(prefix: string, vault: string, key: string): string[] {
  return [`${prefix}${normalize(vault)}__${normalize(key)}`, `${prefix}${normalize(key)}`];
}

function normalize(name: string): string {
  return name.toUpperCase().replace(/[-.]/g, '_');
}

export function createEnvironmentSecretProvider(
  prefix: string,
  env: NodeJS.ProcessEnv,
): SecretProvider {
  const captured = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(prefix) && value !== undefined && value !== '') captured.set(name, value);
  }

  return {
    name: 'Environment',
    async resolve(vault, keys) {
      const values = new Map<string, string>();
      for (const key of keys) {
        const names = environmentVariableNames(prefix, vault, key);
        const found = names.find((name) => captured.has(name));
        if (found === undefined) {
          throw new GatewayError(
            'VEC_CREDENTIAL_NOT_FOUND',
            `Credential "${key}" of vault "${vault}" is not set: define the environment variable ${names[0]} (or ${names[1]} for every vault) and restart Vectra.`,
            { context: { vault, key, variables: names } },
          );
        }
        values.set(key, captured.get(found)!);
      }
      return values;
    },
    async health() {
      return {
        status: 'Healthy',
        description: `${captured.size} environment variable(s) with prefix ${prefix || '(none)'}.`,
      };
    },
  };
}
