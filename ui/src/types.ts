/** The shapes the admin API answers with, as far as the pages read them. */

export type Role = 'owner' | 'approver' | 'auditor';

export interface SessionInfo {
  name: string;
  role: Role;
  csrfToken: string;
  expiresAt: string;
  idleMinutes: number;
}

export interface Approval {
  id: string;
  agent: string;
  vault: string;
  service: string | null;
  method: string;
  url: string;
  path: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  bodySize: number;
  bodyPreview: string | null;
  explanation: string;
  risk: number | null;
  reasons: string[];
  createdAt: string;
  expiresAt: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'used';
  decidedBy: { id: string; name: string } | null;
  scope: 'once' | 'session' | 'always' | null;
  standingUntil: string | null;
  pathPattern: string | null;
  comment: string | null;
}

export interface ApprovalEvent {
  type: 'created' | 'approved' | 'denied' | 'expired' | 'used' | 'revoked';
  at: string;
  approval: Approval;
}

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
