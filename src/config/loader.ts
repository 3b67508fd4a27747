/**
 * Loads the configuration: layers merged (later wins), values coerced, validated by the convict
 * schema, then frozen. Layers:
 *
 *   schema defaults < config/appsettings.json < config/appsettings.<VECTRA_ENVIRONMENT>.json
 *   < --config FILE < environment variables (`Section__Key__Sub`) < CLI flags
 *
 * Every problem (bad value, unknown key, unreadable file) is collected and reported together
 * in one ConfigError; nothing is half-loaded.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import convict from 'convict';
import { ConfigError, type ConfigProblem } from '../errors';
import { CONFIG_KEYS, findKey, isSection, isTopLevelSection, type KeyInfo } from './keys';
import { maskSecret } from './mask';
import { schema, type VectraConfig } from './schema';

export interface LoadOptions {
  /** Directory holding `config/` (default: the process's working directory). */
  baseDir?: string;
  /** Environment to read overrides and VECTRA_ENVIRONMENT from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** `--config FILE`: must exist when given. */
  configFile?: string;
  /** CLI flags as dotted keys, e.g. `{ 'System.Server.Http.Port': '7099' }`. */
  flags?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: Readonly<VectraConfig>;
  /** Where each key's value came from: `default`, a file path, `env NAME` or `flag`. */
  origins: ReadonlyMap<string, string>;
  /** Files that were read, in order. */
  files: readonly string[];
}

interface Layer {
  values: Map<KeyInfo, { raw: unknown; source: string }>;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const problems: ConfigProblem[] = [];
  const layers: Layer[] = [];
  const files: string[] = [];

  const addFile = (path: string, required: boolean) => {
    const layer = readFileLayer(path, required, problems);
    if (layer) {
      layers.push(layer);
      files.push(path);
    }
  };
  addFile(join(baseDir, 'config', 'appsettings.json'), false);
  const environment = env.VECTRA_ENVIRONMENT?.trim();
  if (environment) addFile(join(baseDir, 'config', `appsettings.${environment}.json`), false);
  if (options.configFile) addFile(resolve(baseDir, options.configFile), true);
  layers.push(readEnvLayer(env, problems));
  if (options.flags) layers.push(readFlagLayer(options.flags, problems));

  const merged: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const sourceOf = new Map<string, { source: string; raw: unknown }>();
  for (const key of CONFIG_KEYS) {
    setPath(merged, key.path, key.default);
    origins.set(key.path, 'default');
  }
  for (const layer of layers) {
    for (const [key, origin] of layer.values) {
      setPath(merged, key.path, coerce(key, origin.raw));
      origins.set(key.path, origin.source);
      sourceOf.set(key.path, origin);
    }
  }

  const instance = convict<VectraConfig>(schema);
  instance.load(merged);
  problems.push(...validate(instance, sourceOf));
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: deepFreeze(instance.getProperties()), origins, files };
}

function readFileLayer(
  path: string,
  required: boolean,
  problems: ConfigProblem[],
): Layer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    problems.push(fileProblem(path, `cannot read the file (${code ?? String(err)})`));
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    problems.push(fileProblem(path, `is not valid JSON: ${(err as Error).message}`));
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push(fileProblem(path, 'must hold a JSON object of sections'));
    return undefined;
  }
  const layer: Layer = { values: new Map() };
  walkFile(json as Record<string, unknown>, [], path, layer, problems);
  return layer;
}

function walkFile(
  node: Record<string, unknown>,
  prefix: string[],
  source: string,
  layer: Layer,
  problems: ConfigProblem[],
): void {
  for (const [name, value] of Object.entries(node)) {
    if (prefix.length === 0 && name.startsWith('$')) continue; // `$schema` and friends
    const segments = [...prefix, name];
    const key = findKey(segments);
    if (key) {
      layer.values.set(key, { raw: value, source });
    } else if (
      isSection(segments) &&
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value)
    ) {
      walkFile(value as Record<string, unknown>, segments, source, layer, problems);
    } else {
      problems.push(unknownKeyProblem(segments, source, value));
    }
  }
}

function readEnvLayer(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Layer {
  const layer: Layer = { values: new Map() };
  for (const name of Object.keys(env).sort()) {
    if (!name.includes('__')) continue;
    const segments = name.split('__');
    if (!isTopLevelSection(segments[0])) continue;
    const key = findKey(segments);
    if (!key) {
      problems.push(unknownKeyProblem(segments, `env ${name}`, env[name]));
      continue;
    }
    layer.values.set(key, { raw: env[name], source: `env ${name}` });
  }
  return layer;
}

function readFlagLayer(flags: Record<string, unknown>, problems: ConfigProblem[]): Layer {
  const layer: Layer = { values: new Map() };
  for (const [path, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const key = findKey(path.split('.'));
    if (!key) problems.push(unknownKeyProblem(path.split('.'), 'flag', value));
    else layer.values.set(key, { raw: value, source: 'flag' });
  }
  return layer;
}

/** Strings from the environment, flags or lenient files become numbers and booleans. */
function coerce(key: KeyInfo, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const text = raw.trim();
  if (key.kind === 'number' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text))
    return Number(text);
  if (key.kind === 'boolean' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  return raw;
}

function validate(
  instance: convict.Config<VectraConfig>,
  sourceOf: Map<string, { source: string; raw: unknown }>,
): ConfigProblem[] {
  try {
    instance.validate({ allowed: 'strict' });
    return [];
  } catch (err) {
    // convict reports one problem per line as `<Full.Key>: <message>[: value was …]`.
    return (err as Error).message
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const key = CONFIG_KEYS.find((k) => line.startsWith(`${k.path}: `));
        if (!key) return fileProblem('configuration', line);
        const message = line
          .slice(key.path.length + 2)
          .replace(/: value was .*$/s, '')
          .trim();
        const origin = sourceOf.get(key.path);
        return {
          key: key.path,
          envVar: key.envVar,
          source: origin?.source ?? 'default',
          value: displayValue(key, origin ? origin.raw : key.default),
          message,
        };
      });
  }
}

function displayValue(key: KeyInfo | undefined, raw: unknown): string {
  if (key?.sensitive) return maskSecret(key.path, raw);
  return typeof raw === 'string' ? raw : JSON.stringify(raw);
}

function unknownKeyProblem(segments: string[], source: string, raw: unknown): ConfigProblem {
  const suggestion = closestKey(segments);
  const hint = suggestion ? ` (did you mean ${suggestion.path}?)` : '';
  const isBranch = isSection(segments);
  return {
    key: segments.join('.'),
    envVar: segments.join('__'),
    source,
    value: isBranch ? undefined : displayValue(undefined, raw),
    message: isBranch
      ? `is a section, not a key; set one of its keys instead${hint}`
      : `is not a known configuration key${hint}`,
  };
}

function fileProblem(path: string, message: string): ConfigProblem {
  return { key: '(file)', envVar: '-', source: path, message: `${path} ${message}` };
}

/** The known key sharing the longest prefix with an unknown one, for "did you mean". */
function closestKey(segments: string[]): KeyInfo | undefined {
  const wanted = segments.map((s) => s.toLowerCase());
  let best: KeyInfo | undefined;
  let bestScore = 0;
  for (const key of CONFIG_KEYS) {
    const parts = key.path.toLowerCase().split('.');
    let score = 0;
    while (score < parts.length && score < wanted.length && parts[score] === wanted[score]) score++;
    const lastMatches = parts.at(-1) === wanted.at(-1) ? 1 : 0;
    const total = score * 2 + lastMatches + (parts.length === wanted.length ? 1 : 0);
    if (score > 0 && total > bestScore) {
      best = key;
      bestScore = total;
    }
  }
  return best;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The value at a dotted path of a loaded configuration. */
export function valueAt(config: Readonly<VectraConfig>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], config);
}
