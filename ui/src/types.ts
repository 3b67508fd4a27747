/** The shapes the admin API answers with, as far as the pages read them. */

export type Role = 'owner' | 'approver' | 'auditor';

export interface SessionInfo {
  name: string;
  role: Role;
  csrfToken: string;
  expiresAt: string;
  idleMinutes: number;
}

// The approval record and its events are the server's own types (type-only: nothing of src/
// reaches the bundle), so the page cannot drift from what /v1/approvals answers.
export type { Approval, ApprovalEvent } from '../../src/approvals/types';

export interface Agent {
  id: string;
  name: string;
  vaults: string[];
  createdAt: string;
  rotatedAt: string | null;
}

export interface Vault {
  name: string;
  unmatchedHosts?: string;
  createdAt?: string;
}

export interface Credential {
  key: string;
  createdAt: string;
  updatedAt: string;
}

export interface Service {
  name: string;
  host: string;
  scheme?: string;
  enabled?: boolean;
  auth: { type: string; [field: string]: unknown };
}

export interface AuditRow {
  id: number;
  at: string;
  agent: string | null;
  vault: string | null;
  method: string;
  host: string;
  port: number;
  path: string;
  service: string | null;
  decision: string;
  status: number | null;
  latencyMs: number;
  errorCode: string | null;
  event: string | null;
  approvalId: string | null;
}
