/**
 * The flat view of the schema: every leaf key with its canonical dotted path, environment
 * variable, default and kind. Lookups are case-insensitive, as in the seed's ASP.NET host.
 */
import { schema } from './schema';

export type ValueKind = 'number' | 'boolean' | 'string';

export interface KeyInfo {
  /** Canonical dotted path, e.g. `System.Server.Http.Port`. */
  path: string;
  /** `System__Server__Http__Port`. */
  envVar: string;
  doc: string;
  default: unknown;
  kind: ValueKind;
  sensitive: boolean;
}

interface SchemaLeaf {
  doc: string;
  default: unknown;
  sensitive?: boolean;
}

const isLeaf = (node: unknown): node is SchemaLeaf =>
  typeof node === 'object' && node !== null && 'default' in node && 'doc' in node;

function collect(node: Record<string, unknown>, prefix: string[], out: KeyInfo[]): void {
  for (const [name, child] of Object.entries(node)) {
    const path = [...prefix, name];
    if (isLeaf(child)) {
      const kind: ValueKind =
        typeof child.default === 'number'
          ? 'number'
          : typeof child.default === 'boolean'
            ? 'boolean'
            : 'string';
      out.push({
        path: path.join('.'),
        envVar: path.join('__'),
        doc: child.doc,
        default: child.default,
        kind,
        sensitive: child.sensitive === true,
      });
    } else {
      collect(child as Record<string, unknown>, path, out);
    }
  }
}

const keys: KeyInfo[] = [];
collect(schema, [], keys);

/** Every key, in schema order. */
export const CONFIG_KEYS: readonly KeyInfo[] = Object.freeze(keys);

const byLowerPath = new Map(keys.map((k) => [k.path.toLowerCase(), k]));
const lowerSections = new Set(keys.map((k) => k.path.split('.')[0].toLowerCase()));
const lowerBranches = new Set(
  keys.flatMap((k) => {
    const parts = k.path.toLowerCase().split('.');
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'));
  }),
);

/** The key at `segments` (any case), or undefined. */
export function findKey(segments: readonly string[]): KeyInfo | undefined {
  return byLowerPath.get(segments.join('.').toLowerCase());
}

/** True when `segments` names a section (an object of keys) rather than a key. */
export function isSection(segments: readonly string[]): boolean {
  return lowerBranches.has(segments.join('.').toLowerCase());
}

/** True when `name` (any case) is one of the top-level sections (`System`, `Policy`, …). */
export function isTopLevelSection(name: string): boolean {
  return lowerSections.has(name.toLowerCase());
}
