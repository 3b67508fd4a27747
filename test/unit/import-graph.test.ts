// The dependency rule of STYLE.md 13 and docs/architecture.md, checked over src/'s
// relative imports: no cycles between files, no cycles between folders, and no import
// from a lower layer to a higher one. Type-only imports count: a type that two layers
// share belongs in the lower one. Known violations are listed below; the lists may only
// shrink, so a fixed violation fails here until its entry is removed.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve(__dirname, '../../src');

// Layers from the top down. A module is a top-level folder ('cli') or file ('errors.ts').
// Imports may go sideways within a layer or down, never up.
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'isolation'],
  ['client'],
  ['server', 'proxy', 'gateway', 'gateway.ts'],
  ['pipeline'],
  ['policy', 'guards', 'semantic', 'vault', 'identity', 'approvals', 'secrets', 'audit'],
  [
    'storage',
    'cache',
    'observability',
    'config',
    'http',
    'errors.ts',
    'bounded-memo.ts',
    'names.ts',
    'thenable.ts',
    'timers.ts',
    'glob.ts',
  ],
];

// Known upward imports, as "from -> to" (paths under src/). Each must still exist.
const ALLOWED_UPWARD: readonly string[] = [];

// Known groups of files that import each other in a circle (strongly connected
// components), each as its sorted members joined by ' + '. Each must still exist as is.
const ALLOWED_FILE_CYCLES: readonly string[] = [];

// Known groups of top-level modules (folders or files) of one layer that import each
// other in a circle, written the same way. Each must still exist as is.
const ALLOWED_MODULE_CYCLES: readonly string[] = [];

const IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*|\.{1,2})['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function resolveImport(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [
    base,
    `${base}.ts`,
    `${base}.tsx`,
    `${base}.d.ts`,
    join(base, 'index.ts'),
    base.replace(/\.js$/, '.ts'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function rel(path: string): string {
  return relative(SRC, path).split(sep).join('/');
}

function moduleOf(file: string): string {
  return file.split('/')[0];
}

function buildGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(IMPORT)) {
      const target = resolveImport(file, match[1]);
      if (target === undefined) throw new Error(`${rel(file)}: cannot resolve '${match[1]}'`);
      if (target.startsWith(SRC + sep)) targets.add(rel(target));
    }
    graph.set(rel(file), targets);
  }
  return graph;
}

// Strongly connected components with more than one node (Tarjan), each as a sorted list.
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

// One cycle through the component, starting at its first member, as "a -> b -> a".
function describeCycle(graph: Map<string, Set<string>>, component: string[]): string {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start].join(' -> ');
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component.join(', ');
}

function layerOf(module: string): number {
  const layer = LAYERS.findIndex((members) => members.includes(module));
  if (layer === -1) throw new Error(`src/${module} is in no layer; add it to LAYERS`);
  return layer;
}

// Imports between different modules of one layer. Upward imports are reported on their
// own; a circle of sideways imports is the folder loop this graph exists to find.
function sidewaysGraph(graph: Map<string, Set<string>>): Map<string, Set<string>> {
  const modules = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = moduleOf(file);
    const set = modules.get(from) ?? new Set<string>();
    for (const target of targets) {
      const to = moduleOf(target);
      if (to !== from && layerOf(to) === layerOf(from)) set.add(to);
    }
    modules.set(from, set);
  }
  return modules;
}

function compare(
  name: string,
  found: string[],
  allowed: readonly string[],
  explain: (entry: string) => string = (entry) => entry,
): void {
  const foundSet = new Set(found);
  const allowedSet = new Set(allowed);
  const fresh = found.filter((entry) => !allowedSet.has(entry));
  const fixed = allowed.filter((entry) => !foundSet.has(entry));
  const problems: string[] = [];
  if (fresh.length > 0) problems.push(`new ${name}:\n  ${fresh.map(explain).join('\n  ')}`);
  if (fixed.length > 0) {
    problems.push(
      `${name} no longer present; remove from the allow-list:\n  ${fixed.join('\n  ')}`,
    );
  }
  expect(problems.join('\n')).toBe('');
}

function compareCycles(
  name: string,
  graph: Map<string, Set<string>>,
  allowed: readonly string[],
): void {
  const components = new Map(cycles(graph).map((c) => [c.join(' + '), c]));
  compare(name, [...components.keys()], allowed, (entry) => {
    return `${entry}\n    e.g. ${describeCycle(graph, components.get(entry)!)}`;
  });
}

describe('import graph of src/', () => {
  const graph = buildGraph();

  it('places every top-level module in a layer', () => {
    const modules = [...new Set([...graph.keys()].map(moduleOf))];
    for (const module of modules) expect(() => layerOf(module)).not.toThrow();
  });

  it('has no cycles between files beyond the known ones', () => {
    compareCycles('file cycles', graph, ALLOWED_FILE_CYCLES);
  });

  it('has no cycles between modules of one layer beyond the known ones', () => {
    compareCycles('module cycles', sidewaysGraph(graph), ALLOWED_MODULE_CYCLES);
  });

  it('has no upward imports beyond the known ones', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (layerOf(moduleOf(target)) < layerOf(moduleOf(file))) {
          upward.push(`${file} -> ${target}`);
        }
      }
    }
    compare('upward imports', upward.sort(), ALLOWED_UPWARD);
  });

  it('finds imports at all', () => {
    const edges = [...graph.values()].reduce((sum, targets) => sum + targets.size, 0);
    expect(edges).toBeGreaterThan(100);
  });
});
