/**
 * Vectra's schema history. Append only: a released migration is never edited or renumbered
 * (databases remember versions by number). Each one runs in a transaction, so it must not
 * contain its own BEGIN/COMMIT or statements that cannot run in one (PostgreSQL's
 * `CREATE INDEX CONCURRENTLY`, SQLite's `PRAGMA foreign_keys`).
 *
 * Portable conventions, so repositories can be written once: timestamps are ISO-8601 TEXT,
 * identifiers TEXT, counters INTEGER/BIGINT, booleans INTEGER 0/1 on SQLite and BOOLEAN on
 * PostgreSQL only if every reader copes with both.
 */
import type { Migration } from './types';

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'settings',
    sqlite: `CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);`,
    postgres: `CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);`,
  },
  {
    version: 2,
    name: 'vaults and identities',
    sqlite: vaultsAndIdentities("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"),
    postgres: vaultsAndIdentities(
      `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    ),
  },
  {
    version: 3,
    name: 'audit log',
    sqlite: auditLog('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER'),
    postgres: auditLog('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT'),
  },
  {
    version: 4,
    name: 'rate limit overrides',
    sqlite: rateLimitOverrides(),
    postgres: rateLimitOverrides(),
  },
  {
    version: 5,
    name: 'service scheme',
    sqlite: serviceScheme(),
    postgres: serviceScheme(),
  },
  {
    version: 6,
    name: 'approvals',
    sqlite: approvals('REAL'),
    postgres: approvals('DOUBLE PRECISION'),
  },
]);

/**
 * Vaults, credentials, services, agents, grants, sessions and admin tokens. The SQL is the same
 * on both providers except for the expression giving the current time (`nowIso`). Flags are
 * INTEGER 0/1 on both, so readers see numbers everywhere. Credential values are stored only as
 * ciphertext (src/vault/crypto.ts) and tokens only as SHA-256 hashes.
 *
 * The `default` vault is created here, with `unmatched_hosts = 'deny'`: a fresh install fails
 * closed, forwarding nothing for hosts no service names until an operator chooses otherwise.
 */
function vaultsAndIdentities(nowIso: string): string {
  return `CREATE TABLE vaults (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  unmatched_hosts TEXT NOT NULL CHECK (unmatched_hosts IN ('passthrough', 'deny')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE credentials (
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (vault_id, key)
);
CREATE TABLE services (
  id TEXT PRIMARY KEY,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  host_pattern TEXT NOT NULL,
  auth_json TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  position INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (vault_id, name)
);
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  rotated_at TEXT
);
CREATE TABLE agent_vaults (
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  PRIMARY KEY (agent_id, vault_id)
);
CREATE INDEX agent_vaults_by_vault ON agent_vaults (vault_id);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  agent_id TEXT REFERENCES agents (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX sessions_by_vault ON sessions (vault_id);
CREATE INDEX sessions_by_agent ON sessions (agent_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE admin_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'approver', 'auditor')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
INSERT INTO vaults (id, name, unmatched_hosts, created_at, updated_at)
  VALUES ('default', 'default', 'deny', ${nowIso}, ${nowIso});`;
}

/**
 * One row per proxied request (src/audit/audit-log.ts): metadata only, never headers or
 * bodies, and `path` keeps query parameter names without their values. `vault`, `agent` and
 * `service` are names, not ids: they are what operators query by and they survive a deletion.
 * Ids only grow (AUTOINCREMENT on SQLite, so pruning everything never hands out an old id again)
 * and serve as cursors. Byte counts and latency may exceed 2^31, hence BIGINT on PostgreSQL.
 */
function auditLog(idColumn: string, bigInteger: string): string {
  return `CREATE TABLE audit_log (
  id ${idColumn},
  at TEXT NOT NULL,
  agent TEXT,
  vault TEXT,
  method TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  path TEXT NOT NULL,
  service TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'error')),
  status INTEGER,
  latency_ms ${bigInteger} NOT NULL,
  bytes_in ${bigInteger} NOT NULL,
  bytes_out ${bigInteger} NOT NULL,
  error_code TEXT,
  request_id TEXT NOT NULL
);
CREATE INDEX audit_log_by_vault_time ON audit_log (vault, at);
CREATE INDEX audit_log_by_time ON audit_log (at);`;
}

/**
 * Rate-limit overrides set through the admin API (src/guards/rate-limit-overrides.ts); the ones
 * from the configuration are never stored. `name` is an agent, a vault, or a service as
 * `<service>` or `<vault>/<service>`. The same SQL on both providers.
 */
function rateLimitOverrides(): string {
  return `CREATE TABLE rate_limit_overrides (
  tier TEXT NOT NULL CHECK (tier IN ('agents', 'vaults', 'services')),
  name TEXT NOT NULL,
  requests_per_minute INTEGER NOT NULL CHECK (requests_per_minute > 0),
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tier, name)
);`;
}

/**
 * The scheme a service's credential is sent over. Services stored before it matched any scheme
 * (and any port when their pattern named none); they become `https`, so a pattern without a
 * port now means 443 only. Plain-HTTP services must be switched to `http` by the operator
 * (CHANGELOG.md). The same SQL on both providers; SQLite accepts the CHECK on an added column.
 */
function serviceScheme(): string {
  return `ALTER TABLE services
  ADD COLUMN scheme TEXT NOT NULL DEFAULT 'https' CHECK (scheme IN ('https', 'http'));`;
}

/**
 * Approvals (src/approvals/): one row per request a human must decide on, bound to the request
 * by `request_key` (a SHA-256 over agent, vault, method, canonical URL and body hash). Approved
 * `session` and `always` rows are the standing approvals. Headers and the URL's query are stored
 * with credential-like values redacted; the body only as its hash and a bounded preview. Audit
 * rows gain the approval event they record (`event`, `approval_id`; null for proxied requests).
 */
function approvals(real: string): string {
  return `CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  request_key TEXT NOT NULL,
  agent TEXT NOT NULL,
  vault TEXT NOT NULL,
  service TEXT,
  method TEXT NOT NULL,
  scheme TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  path TEXT NOT NULL,
  url TEXT NOT NULL,
  headers TEXT NOT NULL,
  body_sha256 TEXT NOT NULL,
  body_size BIGINT NOT NULL,
  body_preview TEXT,
  explanation TEXT NOT NULL,
  risk ${real},
  reasons TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'used')),
  decided_at TEXT,
  decided_by_id TEXT,
  decided_by_name TEXT,
  scope TEXT CHECK (scope IN ('once', 'session', 'always')),
  standing_until TEXT,
  path_pattern TEXT,
  comment TEXT,
  used_at TEXT,
  revoked_at TEXT
);
CREATE INDEX approvals_by_request ON approvals (request_key, created_at);
CREATE INDEX approvals_by_status ON approvals (status, expires_at);
CREATE INDEX approvals_by_agent ON approvals (agent, status);
ALTER TABLE audit_log ADD COLUMN event TEXT;
ALTER TABLE audit_log ADD COLUMN approval_id TEXT;`;
}
