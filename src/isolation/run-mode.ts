/**
 * Which mode `vectra run` works in, decided from its flags and environment alone (pure):
 *   - agent mode: a token is supplied (VECTRA_TOKEN, or the seed's AGENT_VAULT_TOKEN); nothing
 *     is minted, the vault must be named and `--ttl` is refused, because the token's lifetime
 *     was fixed when it was minted;
 *   - local mode: no token; a vault-scoped session token is minted with the saved admin login
 *     (or VECTRA_ADMIN_TOKEN), for `--vault` (default `default`) and `--ttl` (default 24h).
 * The primary names are VECTRA_*; the AGENT_VAULT_* names of the seed are accepted as aliases.
 */
import { normalizeAddress, resolveToken, UsageError } from '../client/api-client';
import type { SavedLogin } from '../client/login-store';
import { EXIT } from '../errors';

/** An expected refusal of `vectra run`: printed as one line (and a hint), then `exitCode`. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

/** Environment variables `run` reads, primary name first, then the seed's alias. */
export const RUN_ENV = {
  token: ['VECTRA_TOKEN', 'AGENT_VAULT_TOKEN'],
  address: ['VECTRA_ADDR', 'AGENT_VAULT_ADDR'],
  vault: ['VECTRA_VAULT', 'AGENT_VAULT_VAULT'],
} as const;

export const DEFAULT_VAULT = 'default';
export const DEFAULT_TTL_SECONDS = 24 * 3600;

export interface RunFlags {
  vault?: string;
  /** Seconds, already parsed. */
  ttl?: number;
  /** `--addr`: the gateway's API address. */
  addr?: string;
}

export type RunMode =
  | { kind: 'agent'; addr: string; vault: string; token: string }
  | { kind: 'local'; addr: string; vault: string; ttlSeconds: number; adminToken: string };

/** The first named variable that is set and not blank, with its name. */
export function fromEnv(
  env: NodeJS.ProcessEnv,
  names: readonly string[],
): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

/**
 * Local or agent mode, or a RunError (exit 2) saying what is missing. `readLogin` is called only
 * in local mode: an agent in a container has no saved login, and needs none.
 */
export function resolveRunMode(
  flags: RunFlags,
  env: NodeJS.ProcessEnv,
  readLogin: () => SavedLogin | undefined,
): RunMode {
  const token = fromEnv(env, RUN_ENV.token);
  const vault = flags.vault?.trim() || fromEnv(env, RUN_ENV.vault)?.value;
  const address = flags.addr
    ? { name: '--addr', value: flags.addr }
    : fromEnv(env, RUN_ENV.address);

  if (token) {
    if (flags.ttl !== undefined) {
      throw new RunError(
        '--ttl has no effect when VECTRA_TOKEN is supplied',
        EXIT.CONFIG_OR_USAGE,
        'drop --ttl: it only applies when `vectra run` mints a session token',
      );
    }
    if (!vault) {
      throw new RunError(
        'vault is required in agent mode',
        EXIT.CONFIG_OR_USAGE,
        'pass --vault or set VECTRA_VAULT',
      );
    }
    if (!address) {
      throw new RunError(
        'the gateway address is required in agent mode',
        EXIT.CONFIG_OR_USAGE,
        'pass --addr or set VECTRA_ADDR (e.g. http://vectra:7080)',
      );
    }
    return { kind: 'agent', addr: checkedAddress(address), vault, token: token.value };
  }

  const login = readLogin();
  const source = address ?? (login ? { name: 'the saved login', value: login.addr } : undefined);
  if (!source) {
    throw new RunError(
      'no gateway address',
      EXIT.CONFIG_OR_USAGE,
      'pass --addr, set VECTRA_ADDR, or run `vectra auth login --addr URL`',
    );
  }
  const addr = checkedAddress(source);
  let adminToken: string;
  try {
    adminToken = resolveToken(addr, env, login);
  } catch (err) {
    if (err instanceof UsageError) throw new RunError(err.message, EXIT.CONFIG_OR_USAGE);
    throw err;
  }
  return {
    kind: 'local',
    addr,
    vault: vault ?? DEFAULT_VAULT,
    ttlSeconds: flags.ttl ?? DEFAULT_TTL_SECONDS,
    adminToken,
  };
}

/** The address normalized, or a RunError naming where the bad value came from. */
function checkedAddress(source: { name: string; value: string }): string {
  try {
    return normalizeAddress(source.value);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new RunError(
      // The value is not echoed: a URL refused for holding credentials would print them.
      `the gateway address from ${source.name} must be an http(s) URL without credentials, query or fragment`,
      EXIT.CONFIG_OR_USAGE,
      'use the API address, e.g. http://127.0.0.1:7080',
    );
  }
}
