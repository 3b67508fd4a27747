/**
 * Approvals: a request a human must decide on (src/approvals/requirement.ts says when), held
 * while it waits, stored so that a decision on any replica releases it, and bound to the exact
 * request it was made for (agent, vault, method, canonical URL, body hash).
 */

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'used'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/**
 * What an approval covers: `once` the identical request, one time; `session` the same agent,
 * vault, method, host and path pattern for some minutes; `always` the same, until revoked.
 */
export const APPROVAL_SCOPES = ['once', 'session', 'always'] as const;
export type ApprovalScope = (typeof APPROVAL_SCOPES)[number];

/** Who decided: the admin token's id and name. */
export interface Decider {
  id: string;
  name: string;
}

/** One approval as the API, the CLI, the webhook and the event stream show it. */
export interface Approval {
  /** `apr_` and 26 base32 characters. */
  id: string;
  agent: string;
  vault: string;
  service: string | null;
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path without the query: what a standing approval's path pattern is matched against. */
  path: string;
  /** `scheme://host[:port]/path?query`, query values of credential-like names redacted. */
  url: string;
  /** Request headers as received, credential-like values redacted. */
  headers: Record<string, string>;
  /** Lower-case hex SHA-256 of the request body (of no bytes when there is none). */
  bodySha256: string;
  bodySize: number;
  /** The first HumanInTheLoop.BodyPreviewBytes of the body; JSON pretty-printed when it parses. */
  bodyPreview: string | null;
  /** The sentence saying why a human must approve (the same one dry runs show). */
  explanation: string;
  /** The risk score that counted, when one did. */
  risk: number | null;
  /** The policy reason and risk factors, one sentence each. */
  reasons: string[];
  createdAt: string;
  expiresAt: string;
  status: ApprovalStatus;
  decidedAt: string | null;
  decidedBy: Decider | null;
  scope: ApprovalScope | null;
  /** For `session`: when the standing approval ends; null otherwise. */
  standingUntil: string | null;
  /** For `session` and `always`: the glob the path must match (default: the request's path). */
  pathPattern: string | null;
  /** The approver's comment, or the reason of a denial. */
  comment: string | null;
  usedAt: string | null;
  /** For `session` and `always`: when an owner or approver revoked the standing approval. */
  revokedAt: string | null;
}

export const APPROVAL_EVENT_TYPES = [
  'created',
  'approved',
  'denied',
  'expired',
  'used',
  'revoked',
] as const;
export type ApprovalEventType = (typeof APPROVAL_EVENT_TYPES)[number];

/** Told to the event stream, the webhook and the other replicas. */
export interface ApprovalEvent {
  type: ApprovalEventType;
  /** ISO-8601 time of the event. */
  at: string;
  approval: Approval;
}
