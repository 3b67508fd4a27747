/**
 * The Internal provider's rules, as tables: each turns one aspect of a request into at most one
 * factor per kind, with a weight and a clause that says why. The weights are tuned so that one
 * destructive signal alone stays below the default threshold 0.8, while a destructive verb on an
 * admin, bulk or sensitive target reaches it: `DELETE /admin/users/all` → 0.86,
 * `GET /repos/x/y` → 0.05 (test/unit/risk-internal-scorer.test.ts pins both).
 *
 * Body rules look for statements, not words: agents often send natural language (prompts to an
 * LLM API), so "delete from the list" must not read as SQL. Every pattern is linear (no nested
 * unbounded quantifiers) and runs on at most MAX_SCANNED_CHARS.
 */
import type { RiskFactor } from './types';

export const WEIGHTS = {
  method: { DELETE: 0.6, PUT: 0.2, PATCH: 0.2, POST: 0.15, read: 0.05, other: 0.2 },
  path: { destructive: 0.4, admin: 0.35, export: 0.3, bulk: 0.3, sensitive: 0.25 },
  body: { large: 0.1, huge: 0.2 },
  sql: { drop: 0.8, truncate: 0.8, deleteAll: 0.8, deleteWhere: 0.5, alter: 0.4 },
  graphql: { destructive: 0.6, mutation: 0.15 },
  shell: { forceRecursive: 0.8, recursive: 0.5 },
  /** Per refusal in the window, up to `deniedMax`. */
  denied: 0.15,
  deniedMax: 0.6,
} as const;

export const LARGE_BODY_BYTES = 1024 * 1024;
export const HUGE_BODY_BYTES = 10 * 1024 * 1024;
/** Keywords of a body are looked for in its first 64 KiB: a bound on CPU per request. */
export const MAX_SCANNED_CHARS = 64 * 1024;

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function methodFactor(method: string): RiskFactor {
  const m = /^[A-Za-z-]{1,20}$/.test(method) ? method.toUpperCase() : 'an unparsable method';
  const w = WEIGHTS.method;
  if (m === 'DELETE') return factor('method', w.DELETE, 'DELETE removes data');
  if (m === 'PUT' || m === 'PATCH') return factor('method', w[m], `${m} changes data`);
  if (m === 'POST') return factor('method', w.POST, 'POST creates or changes data');
  if (READS.has(m)) return factor('method', w.read, `${m} only reads`);
  return factor('method', w.other, `${m} is an uncommon method`);
}

/** Whole words of the path, so that "keys" matches `/keys` and `/apiKeys` but not `/monkeys`. */
const PATH_RULES: ReadonlyArray<{
  kind: keyof typeof WEIGHTS.path;
  words: ReadonlySet<string>;
  says: string;
}> = [
  {
    kind: 'destructive',
    words: set('delete destroy remove purge drop wipe truncate erase revoke terminate'),
    says: 'the path asks to delete',
  },
  {
    kind: 'admin',
    words: set('admin admins administration administrator superuser sudo root'),
    says: 'the path names an admin area',
  },
  {
    kind: 'export',
    words: set('export exports dump dumps backup backups snapshot snapshots download'),
    says: 'the path asks for an export',
  },
  {
    kind: 'bulk',
    words: set('all bulk batch mass everything *'),
    says: 'the path targets many things at once',
  },
  {
    kind: 'sensitive',
    words: set(
      'user users account accounts member members billing payment payments invoice invoices ' +
        'secret secrets key keys apikey apikeys credential credentials token tokens password ' +
        'passwords permission permissions role roles iam ssh gpg',
    ),
    says: 'the path names sensitive data',
  },
];

export function pathFactors(path: string): RiskFactor[] {
  const words = pathWords(path);
  return PATH_RULES.flatMap(({ kind, words: known, says }) => {
    const found = [...new Set(words.filter((w) => known.has(w)))];
    if (found.length === 0) return [];
    const quoted = found.map((w) => `"${w}"`).join(', ');
    return [factor(`path.${kind}`, WEIGHTS.path[kind], `${says} (${quoted})`)];
  });
}

/** Lower-case words of the path without its query: segments percent-decoded, camelCase split. */
export function pathWords(path: string): string[] {
  const bare = path.slice(0, 4096).split(/[?#]/, 1)[0];
  return bare.split('/').flatMap((segment) => {
    const text = safeDecode(segment);
    if (text === '*') return ['*'];
    return text
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean);
  });
}

export function bodySizeFactor(size: number | undefined): RiskFactor | undefined {
  if (size === undefined || !(size >= LARGE_BODY_BYTES)) return undefined;
  const weight = size >= HUGE_BODY_BYTES ? WEIGHTS.body.huge : WEIGHTS.body.large;
  const mib = (size / (1024 * 1024)).toFixed(1);
  return factor('body.size', weight, `the body is large (${mib} MiB)`);
}

/** Destructive statements in a body another stage read: SQL, GraphQL mutations, `rm -rf`. */
export function bodyFactors(bodyText: string): RiskFactor[] {
  // JSON strings escape line breaks; read `\n` as the whitespace it stands for.
  const text = bodyText.slice(0, MAX_SCANNED_CHARS).replace(/\\[nrt]/g, ' ');
  return [sqlFactor(text), graphqlFactor(text), shellFactor(text)].filter(
    (f): f is RiskFactor => f !== undefined,
  );
}

const IDENT = '[\\w."`\\[\\]]{1,128}';
const SQL_DROP = new RegExp(
  `\\bdrop\\s+(table|database|schema|view|index)\\s+(?:if\\s+exists\\s+)?${IDENT}`,
  'i',
);
const SQL_TRUNCATE = /\btruncate\s+table\s+[\w."`[\]]/i;
// A table name followed by the end of a statement or a clause: "delete from the list" is prose.
const SQL_DELETE = new RegExp(
  `\\bdelete\\s+from\\s+${IDENT}\\s*(where\\b|returning\\b|limit\\b|using\\b|;|"|'|\\\\|$)`,
  'i',
);
const SQL_ALTER = new RegExp(`\\balter\\s+(table|database|schema|user|role)\\s+${IDENT}`, 'i');

function sqlFactor(text: string): RiskFactor | undefined {
  const w = WEIGHTS.sql;
  const drop = SQL_DROP.exec(text);
  if (drop) return factor('body.sql', w.drop, `the body drops a ${drop[1].toLowerCase()} (SQL)`);
  if (SQL_TRUNCATE.test(text))
    return factor('body.sql', w.truncate, 'the body empties a table (SQL TRUNCATE)');
  const del = SQL_DELETE.exec(text);
  if (del) {
    return del[1].toLowerCase() === 'where'
      ? factor('body.sql', w.deleteWhere, 'the body deletes rows (SQL DELETE … WHERE)')
      : factor(
          'body.sql',
          w.deleteAll,
          'the body deletes every row of a table (SQL DELETE without WHERE)',
        );
  }
  const alter = SQL_ALTER.exec(text);
  if (alter)
    return factor('body.sql', w.alter, `the body alters a ${alter[1].toLowerCase()} (SQL)`);
  return undefined;
}

// `mutation {`, `mutation Name {`, `mutation Name($id: ID!) {`: an operation, not the word.
const GRAPHQL_MUTATION = /\bmutation\b(?:\s+\w{1,100})?\s*[({]/i;
const DESTRUCTIVE_FIELD = /\b(?:delete|remove|destroy|purge|wipe|drop)\w{0,100}/i;

function graphqlFactor(text: string): RiskFactor | undefined {
  const start = text.search(GRAPHQL_MUTATION);
  if (start < 0) return undefined;
  const field = DESTRUCTIVE_FIELD.exec(text.slice(start));
  if (field) {
    return factor(
      'body.graphql',
      WEIGHTS.graphql.destructive,
      `the body is a GraphQL mutation that deletes (${field[0]})`,
    );
  }
  return factor('body.graphql', WEIGHTS.graphql.mutation, 'the body is a GraphQL mutation');
}

// `rm` followed by up to six options: `rm -rf`, `rm -r -f`, `rm --recursive --force`, `rm -Rf`.
const RM = /\brm((?:\s+-{1,2}[A-Za-z-]{1,20}){1,6})/g;

function shellFactor(text: string): RiskFactor | undefined {
  let recursiveOnly = false;
  for (const match of text.matchAll(RM)) {
    const flags = match[1];
    const recursive = /(?:^|\s)-[A-Za-z]*[rR]|--recursive\b/.test(flags);
    const force = /(?:^|\s)-[A-Za-z]*f|--force\b/.test(flags);
    if (recursive && force) {
      return factor(
        'body.shell',
        WEIGHTS.shell.forceRecursive,
        'the body runs a forced recursive delete (rm -rf)',
      );
    }
    recursiveOnly ||= recursive;
  }
  return recursiveOnly
    ? factor('body.shell', WEIGHTS.shell.recursive, 'the body runs a recursive delete (rm -r)')
    : undefined;
}

export function denialFactor(count: number, windowMs: number): RiskFactor | undefined {
  if (count <= 0) return undefined;
  const weight = Math.min(WEIGHTS.deniedMax, WEIGHTS.denied * count);
  const times = count === 1 ? 'once' : `${count} times`;
  const minutes = Math.round(windowMs / 60_000);
  const window = minutes >= 1 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${windowMs} ms`;
  return factor(
    'agent.recentDenials',
    weight,
    `the agent was refused ${times} in the last ${window}`,
  );
}

function factor(name: string, weight: number, detail: string): RiskFactor {
  return { name, weight, detail };
}

function set(words: string): ReadonlySet<string> {
  return new Set(words.split(/\s+/).filter(Boolean));
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a stray `%` is not an error here; the words around it still count
  }
}
