/**
 * Renders docs/configuration.md from the schema: every key with its environment variable,
 * default, format and doc, one table per top-level section. `npm run docs:config` writes the
 * file; test/unit/docs-reference.test.ts fails when the file in the repository differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schema } from './schema';

/** What each named convict format accepts, in the words of its validation message. */
const NAMED_FORMATS: Readonly<Record<string, string>> = {
  text: 'string',
  'positive-int': 'whole number ≥ 1',
  'non-negative-int': 'whole number ≥ 0',
  'port-or-zero': 'port 0–65535 (0 picks a free port)',
  ratio: 'number from 0 to 1',
  'strict-boolean': '`true` or `false`',
  'http-url-or-empty': 'http(s) URL or empty',
};

interface Leaf {
  doc: string;
  format: unknown;
  default: unknown;
  sensitive?: boolean;
}

interface Row {
  path: string;
  envVar: string;
  defaultValue: unknown;
  format: string;
  doc: string;
}

const isLeaf = (node: unknown): node is Leaf =>
  typeof node === 'object' && node !== null && 'default' in node && 'doc' in node;

/** A function format describes itself: its error message for a value it cannot accept. */
function describeFormat(path: string, format: unknown): string {
  if (typeof format === 'string') {
    const text = NAMED_FORMATS[format];
    if (text === undefined) {
      throw new Error(`${path}: format '${format}' has no description in NAMED_FORMATS`);
    }
    return text;
  }
  if (typeof format === 'function') {
    try {
      format(undefined);
    } catch (error) {
      return (error as Error).message.replace(/^must be /, '');
    }
  }
  throw new Error(`${path}: cannot describe its format`);
}

function collect(node: Record<string, unknown>, prefix: string[], out: Row[]): void {
  for (const [name, child] of Object.entries(node)) {
    const path = [...prefix, name];
    if (isLeaf(child)) {
      const dotted = path.join('.');
      out.push({
        path: dotted,
        envVar: path.join('__'),
        defaultValue: child.default,
        format: describeFormat(dotted, child.format),
        doc: child.sensitive === true ? `${child.doc} Secret: masked in output.` : child.doc,
      });
    } else {
      collect(child as Record<string, unknown>, path, out);
    }
  }
}

const code = (text: string): string => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
const cell = (text: string): string => text.replace(/\|/g, '\\|');

function renderDefault(value: unknown): string {
  if (value === '') return '(empty)';
  return code(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A markdown table aligned the way prettier aligns it, so the file passes `prettier --check`. */
function table(header: string[], rows: string[][]): string {
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]))));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + ' '.repeat(widths[i] - width(c))).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const PREAMBLE = `# Configuration

\`config/appsettings.json\` holds every key with its default. Layers, later wins:

1. schema defaults (\`src/config/schema.ts\`)
2. \`config/appsettings.json\`
3. \`config/appsettings.<VECTRA_ENVIRONMENT>.json\` (when \`VECTRA_ENVIRONMENT\` is set)
4. \`--config FILE\`
5. environment variables: the key's path joined with \`__\`, e.g. \`System__Server__Http__Port=7099\`
   (section and key names match case-insensitively; \`"true"\`, \`"60"\`, \`"0.8"\` are coerced)
6. command-line flags (\`vectra serve --port 7099\`)

Invalid values and unknown keys stop start-up with exit code 2, listing every problem with its
key, environment variable, value and what is allowed. A variable under a known section that
names no key (\`System__Server__Htp__Port\`) is such a problem too. \`vectra config show\` prints
each effective value and where it came from, secrets masked; \`vectra config validate\` checks
without starting.

Relative paths resolve against the working directory. Connection strings keep their
ecosystem forms: SQLite \`Data Source=/data/vectra.db\`; PostgreSQL
\`Host=db;Port=5432;Database=vectra;Username=u;Password=p\` or \`postgres://u:p@db:5432/vectra\`;
Redis \`redis:6379\` (with \`,password=…,ssl=true\` options) or \`redis://…\`/\`rediss://…\`.

This page is generated from \`src/config/schema.ts\` by \`npm run docs:config\`; edit the schema,
not this page.
`;

/** The whole of docs/configuration.md. */
export function renderConfigReference(): string {
  const rows: Row[] = [];
  collect(schema as Record<string, unknown>, [], rows);
  const sections = [...new Set(rows.map((r) => r.path.split('.')[0]))];
  const parts = [PREAMBLE];
  for (const section of sections) {
    const body = rows
      .filter((r) => r.path.split('.')[0] === section)
      .map((r) => [
        code(r.path),
        code(r.envVar),
        cell(renderDefault(r.defaultValue)),
        cell(r.format),
        cell(r.doc),
      ]);
    parts.push(
      `## ${section}\n\n${table(['Key', 'Environment variable', 'Default', 'Format', 'Meaning'], body)}\n`,
    );
  }
  return parts.join('\n');
}

export const CONFIG_REFERENCE_FILE = join(__dirname, '..', '..', 'docs', 'configuration.md');

if (require.main === module) {
  writeFileSync(CONFIG_REFERENCE_FILE, renderConfigReference());
  process.stdout.write(`wrote ${CONFIG_REFERENCE_FILE}\n`);
}
