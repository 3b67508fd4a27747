/**
 * The policy engine contract (DESIGN.md, "Request flow": the `policy` stage). Both providers —
 * the Internal one over JSON files and OPA — judge the same document, PolicyInput, and answer
 * with a PolicyDecision whose `reason` is one sentence: the same text goes into the deny body,
 * the log line, the approval prompt and the audit row (STYLE.md point 5).
 */

export const POLICY_EFFECTS = ['Allow', 'Deny', 'Hitl'] as const;
/** `Hitl`: a human must approve the request first (the approval stage holds it). */
export type PolicyEffect = (typeof POLICY_EFFECTS)[number];

/** What a policy sees of one request. Built by ./input.ts; sent to OPA as `input`. */
export interface PolicyInput {
  agent: {
    /** The agent's name; null for a session token minted without an agent. */
    name: string | null;
    /** The agent's id; null for session tokens and in dry runs. */
    id: string | null;
  };
  vault: string | null;
  request: {
    /** Upper-case (`GET`). */
    method: string;
    scheme: 'http' | 'https';
    /** Lower-case, without a trailing dot; IPv6 literals without brackets. */
    host: string;
    port: number;
    /**
     * The path without the query, exactly as it goes upstream, normalised the way common
     * servers route (src/http/request-target.ts): percent-encoded unreserved characters decoded
     * (`/%61dmin` is `/admin`), other escapes upper-cased, `//` collapsed, dot segments removed.
     * So a policy on `/admin` cannot be dodged by spelling it differently.
     */
    path: string;
    /** Decoded query parameters; a repeated parameter holds a list. */
    query: Record<string, string | string[]>;
    /**
     * Lower-case names; repeated headers joined with `, `. Credential headers (Authorization,
     * Cookie, X-Api-Key, anything named like a token or secret) are present with the value
     * `[REDACTED]`, so a policy can test that they exist but never read them.
     */
    headers: Record<string, string>;
    /**
     * The parsed JSON body, when it fits Policy.MaxBodyBytes and is JSON: by its Content-Type, or
     * by its content (the first character after an optional UTF-8 BOM and white space is `{` or
     * `[`), whatever the Content-Type says. The BOM is not part of the JSON.
     */
    body?: unknown;
    /**
     * Set when Vectra read for a body it could not judge: `too-large` (over Policy.MaxBodyBytes),
     * `not-json`, or `repeated-key` (an object names a key twice, which parsers read as its first
     * value or its last). A rule that reads `request.body` then refuses the request
     * (VEC_POLICY_BODY_UNREADABLE) unless it says `"onUnreadableBody": "ignore"`.
     */
    bodyUnreadable?: UnreadableBody;
    /**
     * Body size in bytes: Content-Length, or the size Vectra measured while reading the body;
     * 0 without a body; null when unknown (a chunked body that Vectra did not read).
     */
    bodySize: number | null;
  };
  /** The vault's service that matched; null when none did (unmatched host passed through). */
  service: { name: string } | null;
  /** When the request arrived, in UTC. */
  time: {
    /** 0..23 */
    hour: number;
    /** `Monday` … `Sunday` */
    weekday: string;
  };
}

/** Why a body could not be judged: over Policy.MaxBodyBytes, or not JSON. */
export type UnreadableBody = 'too-large' | 'not-json' | 'repeated-key';

export interface PolicyDecision {
  effect: PolicyEffect;
  /** One sentence saying why, naming the policy and rule that decided. */
  reason: string;
  /** The deciding policy, when one did. */
  policy?: string;
  /** The deciding rule; absent when a policy's default decided. */
  rule?: string;
  /** 0..1: the highest `risk` of the rules that matched (Internal) or OPA's `risk`. */
  risk?: number;
  /**
   * A Deny because the body could not be judged: refused with VEC_POLICY_BODY_UNREADABLE (413
   * for `too-large`, 400 for the others) rather than VEC_POLICY_DENIED.
   */
  unreadableBody?: UnreadableBody;
}

/** One policy's part in a decision, for dry runs (`vectra policy test`, /v1/policy/evaluate). */
export interface PolicyTrace {
  policy: string;
  file?: string;
  /** False when `appliesTo` leaves this request out (or the policy is disabled). */
  applies: boolean;
  /** Why it does not apply. */
  skipped?: string;
  effect?: PolicyEffect;
  /** The rule that decided this policy's effect; absent when its default did. */
  rule?: string;
  /** The rules tried, highest priority first, up to the one that matched. */
  rules?: Array<{ rule: string; priority: number; matched: boolean; failed?: string }>;
}

export interface PolicyExplanation {
  decision: PolicyDecision;
  trace: PolicyTrace[];
}

/** A problem found in a policy file: printed as `file:line:column: message` or `file: path: message`. */
export interface PolicyProblem {
  file: string;
  message: string;
  /** Where in the document (`rules[1].conditions[0].operator`). */
  path?: string;
  line?: number;
  column?: number;
}

/** What a reload of the policy directory did. */
export interface ReloadResult {
  /** False when a problem was found: the previous set stays active. */
  ok: boolean;
  /** False when the files had not changed since the active set was loaded. */
  changed: boolean;
  /** Policies active after the reload. */
  policies: number;
  files: string[];
  problems: PolicyProblem[];
}

export interface PolicyEngineStatus {
  /** False when there is no usable policy set (every request is refused). */
  ready: boolean;
  /** True when the last reload was refused and an older set is active. */
  stale: boolean;
  description: string;
}

export interface PolicyEngine {
  readonly provider: 'Internal' | 'Opa' | 'Disabled';
  /**
   * The decision for one request. Rejects with VEC_POLICY_UNAVAILABLE when the provider cannot
   * decide (OPA down, no policy set loaded) and fail-open is not configured.
   */
  evaluate(input: PolicyInput): Promise<PolicyDecision>;
  /** The decision with each policy's part in it (Internal only). */
  explain?(input: PolicyInput): Promise<PolicyExplanation>;
  /** Whether any policy reads `request.body`; when false the stage never buffers a body. */
  needsBody?(): boolean;
  /** For /health. */
  status?(): PolicyEngineStatus;
  close(): Promise<void>;
}
