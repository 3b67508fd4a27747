/**
 * The 20 policies of the policy-cost comparison (./policy-comparison.ts): realistic rules a
 * platform team would write (read-only by default, no deletes on production, approval for
 * exports, no admin surfaces, known agents only, cloud metadata blocked, no credentials in URLs,
 * page-size caps, …), in the JSON format of policies/*.json, written to a directory that one
 * benchmark Vectra loads.
 *
 * Every policy allows the benchmark's request (BENCH_REQUEST), but not by doing nothing: 17 of
 * the 20 apply to it, and their Deny and Hitl rules are tried, highest priority first, over the
 * method, host, path (regex, glob, startsWith, …), headers, query, agent, vault, service, hour
 * and body size, and fail; three policies end in an Allow rule that matches, the others in
 * their `"default": "Allow"`. Three are left out by `appliesTo` (other services, vaults, agents).
 * checkBenchPolicies proves all of this with the engine from dist/ before anything is measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the load generator sends in the comparison: GET /bench/<n>?page=2&limit=50&format=json. */
export const BENCH_REQUEST = {
  agent: 'bench-agent',
  vault: 'bench',
  service: 'upstream',
  query: '?page=2&limit=50&format=json',
  headers: { accept: 'application/json', 'user-agent': 'vectra-bench/1 (agent)' },
} as const;

type Effect = 'Allow' | 'Deny' | 'Hitl';
interface Condition {
  field: string;
  operator: string;
  value?: unknown;
  ignoreCase?: boolean;
}
interface Rule {
  name: string;
  reason: string;
  priority: number;
  effect: Effect;
  risk?: number;
  conditions: Condition[];
}
interface PolicyDocument {
  name: string;
  description: string;
  owner: string;
  default: Effect;
  defaultReason?: string;
  appliesTo?: { agents?: string[]; vaults?: string[]; services?: string[] };
  rules: Rule[];
}

const c = (field: string, operator: string, value?: unknown, ignoreCase?: true): Condition => ({
  field,
  operator,
  ...(value === undefined ? {} : { value }),
  ...(ignoreCase ? { ignoreCase } : {}),
});
const rule = (
  name: string,
  effect: Effect,
  priority: number,
  reason: string,
  conditions: Condition[],
  risk?: number,
): Rule => ({
  name,
  reason,
  priority,
  effect,
  ...(risk === undefined ? {} : { risk }),
  conditions,
});
const policy = (
  name: string,
  description: string,
  rules: Rule[],
  extra: Partial<Pick<PolicyDocument, 'default' | 'defaultReason' | 'appliesTo'>> = {},
): PolicyDocument => ({
  name,
  description,
  owner: 'platform-team',
  default: extra.default ?? 'Allow',
  ...(extra.defaultReason ? { defaultReason: extra.defaultReason } : {}),
  ...(extra.appliesTo ? { appliesTo: extra.appliesTo } : {}),
  rules,
});

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];

export function benchPolicies(): PolicyDocument[] {
  return [
    policy(
      'read-only-by-default',
      'Agents may read; anything that can change state waits for a human.',
      [
        rule('no-trace-or-connect', 'Deny', 200, 'TRACE and CONNECT are never needed', [
          c('request.method', 'in', ['TRACE', 'CONNECT']),
        ]),
        rule('health-probes', 'Allow', 150, 'Health probes change nothing', [
          c('request.path', 'in', ['/health', '/healthz', '/ready']),
        ]),
        rule('reads-are-allowed', 'Allow', 100, 'Reading (GET, HEAD, OPTIONS) changes nothing', [
          c('request.method', 'in', ['GET', 'HEAD', 'OPTIONS']),
        ]),
      ],
      { default: 'Hitl', defaultReason: "Requests that can change state need a human's approval" },
    ),
    policy('no-destructive-verbs-on-production', 'No DELETE or bulk write on production hosts.', [
      rule(
        'no-delete-on-prod-hosts',
        'Deny',
        100,
        'DELETE is never allowed on production',
        [c('request.host', 'glob', '*.prod.*'), c('request.method', 'eq', 'DELETE')],
        1,
      ),
      rule(
        'no-delete-on-production-hosts',
        'Deny',
        100,
        'DELETE is never allowed on production',
        [c('request.host', 'glob', '*.production.*'), c('request.method', 'eq', 'DELETE')],
        1,
      ),
      rule(
        'bulk-writes-on-production',
        'Hitl',
        90,
        'Bulk writes to production need a human',
        [
          c('request.host', 'regex', '(^|\\.)(prod|production)\\.'),
          c('request.method', 'in', ['PUT', 'PATCH']),
          c('request.path', 'contains', '/bulk'),
        ],
        0.9,
      ),
    ]),
    policy('approval-for-exports', 'Exports move data out in bulk, so a human approves them.', [
      rule(
        'exports-need-approval',
        'Hitl',
        100,
        'Exports move data in bulk',
        [c('request.path', 'contains', '/export', true)],
        0.7,
      ),
      rule(
        'report-downloads',
        'Hitl',
        90,
        'Report and dump downloads move data in bulk',
        [
          c('request.method', 'eq', 'GET'),
          c('request.path', 'regex', '^/v[0-9]+/(reports|dumps|backups)/'),
        ],
        0.6,
      ),
      rule(
        'bulk-formats',
        'Hitl',
        80,
        'Spreadsheet and columnar formats are bulk exports',
        [c('request.query.format', 'in', ['csv', 'xlsx', 'parquet', 'ndjson'])],
        0.6,
      ),
    ]),
    policy('no-admin-surfaces', 'Agents never reach admin consoles or internal endpoints.', [
      rule(
        'admin-paths',
        'Deny',
        100,
        'Admin consoles are for people',
        [c('request.path', 'startsWith', '/admin')],
        1,
      ),
      rule(
        'internal-paths',
        'Deny',
        100,
        'Internal endpoints are not part of the API',
        [c('request.path', 'glob', '/**/internal/**')],
        1,
      ),
      rule(
        'well-known-probes',
        'Deny',
        90,
        'Paths that scanners probe are never legitimate',
        [
          c(
            'request.path',
            'regex',
            '^/(wp-admin|phpmyadmin|\\.env|\\.git|server-status)(/|$)',
            true,
          ),
        ],
        1,
      ),
    ]),
    policy(
      'change-freeze-outside-hours',
      'Writes outside 06:00–20:00 UTC, or deploys at weekends, wait for a human.',
      [
        rule(
          'no-writes-at-night',
          'Hitl',
          100,
          'Nobody is around to watch a write at night',
          [c('time.hour', 'lt', 6), c('request.method', 'in', WRITES)],
          0.5,
        ),
        rule(
          'no-writes-late-evening',
          'Hitl',
          100,
          'Nobody is around to watch a late write',
          [c('time.hour', 'ge', 20), c('request.method', 'in', WRITES)],
          0.5,
        ),
        rule(
          'no-weekend-deploys',
          'Hitl',
          90,
          'Deploys wait for a working day',
          [
            c('time.weekday', 'in', ['Saturday', 'Sunday']),
            c('request.path', 'startsWith', '/deploy'),
          ],
          0.5,
        ),
      ],
      { appliesTo: { vaults: ['bench', 'prod-*', 'staging-*'] } },
    ),
    policy('request-size-limits', 'Large bodies are refused or reviewed.', [
      rule(
        'huge-bodies',
        'Deny',
        100,
        'Bodies over 10 MiB are refused',
        [c('request.bodySize', 'gt', 10_485_760)],
        1,
      ),
      rule(
        'large-uploads',
        'Hitl',
        90,
        'Uploads over 1 MiB need a human',
        [c('request.method', 'in', ['POST', 'PUT']), c('request.bodySize', 'gt', 1_048_576)],
        0.5,
      ),
    ]),
    policy(
      'known-agents-only',
      'Only the agents listed here, in their own vaults, use the gateway.',
      [
        rule(
          'suspended-agents',
          'Deny',
          300,
          'This agent is suspended',
          [c('agent.name', 'in', ['legacy-agent', 'intern-agent'])],
          1,
        ),
        rule('ci-agents-read', 'Allow', 200, 'CI agents may read', [
          c('agent.name', 'glob', 'ci-*'),
          c('request.method', 'in', ['GET', 'HEAD']),
        ]),
        rule('listed-agents', 'Allow', 100, 'This agent works in its own vault', [
          c('agent.name', 'in', [
            'bench-agent',
            'support-agent',
            'billing-agent',
            'research-agent',
          ]),
          c('vault', 'in', ['bench', 'support', 'billing', 'research']),
        ]),
      ],
      {
        default: 'Deny',
        defaultReason: 'Only the agents listed in known-agents-only may use the gateway',
        appliesTo: { agents: ['*-agent', 'ci-*'] },
      },
    ),
    policy(
      'service-guards',
      'Per-service rules for the APIs agents reach.',
      [
        rule(
          'stripe-no-deletes',
          'Deny',
          100,
          'Nothing is deleted at Stripe by an agent',
          [c('service.name', 'eq', 'stripe'), c('request.method', 'eq', 'DELETE')],
          1,
        ),
        rule(
          'github-no-hooks-or-keys',
          'Deny',
          100,
          'Webhooks and deploy keys are for people',
          [
            c('service.name', 'eq', 'github'),
            c('request.path', 'regex', '^/repos/[^/]+/[^/]+/(hooks|keys)'),
          ],
          1,
        ),
        rule(
          'slack-no-admin-api',
          'Deny',
          100,
          "Slack's admin API is for people",
          [c('service.name', 'eq', 'slack'), c('request.path', 'startsWith', '/api/admin.')],
          1,
        ),
        rule(
          'upstream-config-is-read-only',
          'Deny',
          90,
          'Configuration is changed by people',
          [
            c('service.name', 'eq', 'upstream'),
            c('request.path', 'startsWith', '/config'),
            c('request.method', 'in', WRITES),
          ],
          1,
        ),
      ],
      { appliesTo: { services: ['upstream', 'github', 'stripe', 'slack'] } },
    ),
    policy('block-cloud-metadata', 'Cloud metadata endpoints hand out credentials.', [
      rule(
        'metadata-addresses',
        'Deny',
        100,
        'Link-local metadata addresses are off limits',
        [c('request.host', 'cidr', ['169.254.0.0/16', 'fd00:ec2::/32'])],
        1,
      ),
      rule(
        'metadata-names',
        'Deny',
        100,
        'Metadata host names are off limits',
        [c('request.host', 'in', ['metadata.google.internal', 'metadata.azure.com', 'metadata'])],
        1,
      ),
      rule(
        'metadata-header',
        'Deny',
        90,
        'Metadata requests are off limits',
        [c('request.headers.metadata-flavor', 'exists')],
        1,
      ),
    ]),
    policy('no-credentials-in-urls', 'Credentials in a URL end up in logs.', [
      rule(
        'api-key-in-query',
        'Deny',
        100,
        'An API key in the URL leaks into logs',
        [c('request.query.api_key', 'exists', true)],
        0.9,
      ),
      rule(
        'token-in-query',
        'Deny',
        100,
        'A token in the URL leaks into logs',
        [c('request.query.access_token', 'exists', true)],
        0.9,
      ),
      rule(
        'password-in-query',
        'Deny',
        100,
        'A password in the URL leaks into logs',
        [c('request.query.password', 'exists')],
        0.9,
      ),
    ]),
    policy('header-hygiene', 'Headers that rewrite routing, and scanners, are refused.', [
      rule(
        'no-host-override',
        'Deny',
        100,
        'X-Forwarded-Host would reroute the request',
        [c('request.headers.x-forwarded-host', 'exists')],
        1,
      ),
      rule(
        'no-url-override',
        'Deny',
        100,
        'X-Original-URL would reroute the request',
        [c('request.headers.x-original-url', 'exists')],
        1,
      ),
      rule(
        'scanner-user-agents',
        'Deny',
        90,
        'Security scanners are not agents',
        [c('request.headers.user-agent', 'regex', 'sqlmap|nikto|nmap|masscan|zgrab', true)],
        1,
      ),
    ]),
    policy('json-writes-only', 'APIs take JSON; forms and uploads are reviewed.', [
      rule(
        'writes-must-be-json',
        'Deny',
        100,
        'Writes must send JSON',
        [
          c('request.method', 'in', WRITES),
          c('request.headers.content-type', 'notIn', [
            'application/json',
            'application/json; charset=utf-8',
          ]),
        ],
        0.5,
      ),
      rule(
        'form-posts',
        'Hitl',
        90,
        'Form uploads need a human',
        [
          c('request.headers.content-type', 'startsWith', 'multipart/form-data'),
          c('request.method', 'eq', 'POST'),
        ],
        0.5,
      ),
    ]),
    policy(
      'upstream-json-api',
      'The upstream service is a JSON API: JSON reads pass, anything else is reviewed.',
      [
        rule(
          'no-html',
          'Deny',
          100,
          'The upstream API never serves HTML to agents',
          [c('request.headers.accept', 'contains', 'text/html')],
          0.5,
        ),
        rule('json-reads', 'Allow', 50, 'JSON reads of the upstream API are fine', [
          c('request.method', 'eq', 'GET'),
          c('request.headers.accept', 'contains', 'json'),
        ]),
      ],
      { default: 'Hitl', appliesTo: { services: ['upstream'] } },
    ),
    policy('pagination-limits', 'Page sizes and depths are capped.', [
      rule(
        'page-size-cap',
        'Deny',
        100,
        'Pages over 1000 items are refused',
        [c('request.query.limit', 'gt', 1000)],
        0.6,
      ),
      rule(
        'page-size-review',
        'Hitl',
        90,
        'Pages over 200 items need a human',
        [c('request.query.limit', 'gt', 200)],
        0.4,
      ),
      rule(
        'deep-pagination',
        'Deny',
        80,
        'Paging this deep is scraping',
        [c('request.query.page', 'gt', 10_000)],
        0.6,
      ),
    ]),
    policy(
      'git-hosting-safety',
      'Repositories are not deleted, and merges are reviewed.',
      [
        rule(
          'no-repo-deletes',
          'Deny',
          100,
          'Repositories are deleted by people',
          [c('request.method', 'eq', 'DELETE'), c('request.path', 'regex', '^/repos/[^/]+/[^/]+$')],
          1,
        ),
        rule(
          'merges-need-review',
          'Hitl',
          90,
          'Merges need a human',
          [c('request.path', 'endsWith', '/merge')],
          0.7,
        ),
      ],
      { appliesTo: { services: ['github', 'gitlab'] } },
    ),
    policy(
      'payments-review',
      'Money moves only with a human.',
      [
        rule(
          'charges',
          'Hitl',
          100,
          'Charges need a human',
          [c('request.method', 'eq', 'POST'), c('request.path', 'startsWith', '/v1/charges')],
          0.8,
        ),
        rule(
          'payouts',
          'Deny',
          100,
          'Payouts are made by people',
          [c('request.path', 'startsWith', '/v1/payouts')],
          1,
        ),
      ],
      { appliesTo: { vaults: ['payments', 'billing-*'] } },
    ),
    policy(
      'ops-internal-hosts',
      'Ops agents may reach internal hosts, but never delete there.',
      [
        rule(
          'no-internal-deletes',
          'Deny',
          100,
          'Deletes on internal hosts are for people',
          [c('request.host', 'glob', '*.internal'), c('request.method', 'eq', 'DELETE')],
          1,
        ),
        rule('internal-reads', 'Allow', 50, 'Ops agents read internal hosts', [
          c('request.host', 'glob', '*.internal'),
        ]),
      ],
      { appliesTo: { agents: ['ops-*'] } },
    ),
    policy('secret-files-guard', 'Key material and database dumps are not fetched by agents.', [
      rule(
        'key-material',
        'Deny',
        100,
        'Key material never leaves through an agent',
        [c('request.path', 'regex', '\\.(pem|key|p12|pfx|kdbx|jks)$', true)],
        1,
      ),
      rule(
        'ssh-directories',
        'Deny',
        100,
        'SSH directories hold keys',
        [c('request.path', 'glob', '/**/.ssh/**')],
        1,
      ),
      rule(
        'database-dumps',
        'Hitl',
        90,
        'Database dumps need a human',
        [c('request.path', 'endsWith', '.sql', true)],
        0.6,
      ),
    ]),
    policy('graphql-guard', 'No schema introspection; GraphQL mutations are reviewed.', [
      rule(
        'no-introspection',
        'Deny',
        100,
        'Schema introspection maps the whole API',
        [
          c('request.path', 'endsWith', '/graphql'),
          c('request.query.query', 'contains', '__schema'),
        ],
        0.7,
      ),
      rule(
        'mutations-need-review',
        'Hitl',
        90,
        'GraphQL writes need a human',
        [c('request.path', 'eq', '/graphql'), c('request.method', 'eq', 'POST')],
        0.5,
      ),
    ]),
    policy('ports-and-schemes', 'Plain HTTP stays on loopback; service ports are off limits.', [
      rule(
        'plain-http-off-loopback',
        'Deny',
        100,
        'Plain HTTP leaves the machine unencrypted',
        [
          c('request.scheme', 'eq', 'http'),
          c('request.host', 'notIn', ['127.0.0.1', 'localhost', '::1']),
        ],
        1,
      ),
      rule(
        'service-ports',
        'Deny',
        100,
        'Database and remote-shell ports are not APIs',
        [c('request.port', 'in', [22, 23, 25, 445, 3306, 3389, 5432, 6379, 9200, 27017])],
        1,
      ),
      rule(
        'ci-high-ports',
        'Hitl',
        90,
        'CI agents stay on registered ports',
        [c('agent.name', 'glob', 'ci-*'), c('request.port', 'gt', 49_151)],
        0.5,
      ),
    ]),
  ];
}

/** Writes the policies to `directory` (created), one `NN-name.json` each; returns the paths. */
export function writeBenchPolicies(directory: string): string[] {
  mkdirSync(directory, { recursive: true });
  return benchPolicies().map((doc, i) => {
    const file = join(directory, `${String(i + 1).padStart(2, '0')}-${doc.name}.json`);
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    return file;
  });
}

/** What the engine made of the directory for one benchmark request. */
export interface PolicyCheck {
  policies: number;
  /** Policies whose appliesTo takes the request in. */
  applying: number;
  /** Rules tried across them, and those that matched (Allow rules). */
  rulesTried: number;
  rulesMatched: number;
  decision: string;
}

/**
 * Loads `directory` with the compiled policy loader (dist/) and judges the benchmark's request
 * with a trace. Throws, naming the file and the problem, when a file is refused, when a policy
 * is missing, or when the request would not be allowed: the comparison would measure nothing.
 */
export async function checkBenchPolicies(
  repoRoot: string,
  directory: string,
  request: { host: string; port: number; path: string },
): Promise<PolicyCheck> {
  const dist = (...parts: string[]) => join(repoRoot, 'dist', 'policy', ...parts);
  const { loadPolicyDirectory, formatProblem } = (await import(
    dist('policy-directory.js')
  )) as typeof import('../src/policy/policy-directory');
  const { evaluatePolicies, policySet } = (await import(
    dist('evaluate.js')
  )) as typeof import('../src/policy/evaluate');
  const { buildPolicyInput } = (await import(
    dist('input.js')
  )) as typeof import('../src/policy/input');

  const loaded = await loadPolicyDirectory(directory);
  if (loaded.problems.length > 0) {
    throw new Error(
      `bench policies refused by the policy loader:\n  ${loaded.problems.map(formatProblem).join('\n  ')}`,
    );
  }
  const expected = benchPolicies().length;
  if (loaded.policies.length !== expected) {
    throw new Error(`bench policies: ${loaded.policies.length} loaded, ${expected} written`);
  }
  const input = buildPolicyInput({
    agent: { name: BENCH_REQUEST.agent, id: null },
    vault: BENCH_REQUEST.vault,
    method: 'GET',
    scheme: 'https',
    host: request.host,
    port: request.port,
    target: `${request.path}${BENCH_REQUEST.query}`,
    headers: {
      host: `${request.host}:${request.port}`,
      connection: 'keep-alive',
      ...BENCH_REQUEST.headers,
    },
    body: { size: 0 },
    service: BENCH_REQUEST.service,
    now: Date.now(),
  });
  const trace: NonNullable<Parameters<typeof evaluatePolicies>[2]> = [];
  const decision = evaluatePolicies(policySet(loaded.policies), input, trace);
  if (decision.effect !== 'Allow' || decision.risk !== undefined) {
    throw new Error(`bench policies do not simply allow the bench request: ${decision.reason}`);
  }
  const applying = trace.filter((t) => t.applies);
  const tried = applying.flatMap((t) => t.rules ?? []);
  return {
    policies: loaded.policies.length,
    applying: applying.length,
    rulesTried: tried.length,
    rulesMatched: tried.filter((r) => r.matched).length,
    decision: decision.reason,
  };
}
