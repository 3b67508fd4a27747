/**
 * The three Dockerfiles in .docker/ stay in step: the Windows images cannot be built on this
 * machine, so this test reads all three and checks the runtime stage of each against the Linux
 * one (ports, ENV names and values up to the path style, volumes, health check, entry point,
 * version argument, what is copied in, a non-root user), and the ports and ENV names against
 * the configuration schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS } from '../../src/config/keys';

interface Instruction {
  keyword: string;
  args: string;
}

interface Dockerfile {
  /** ARGs declared before the first FROM. */
  globalArgs: string[];
  /** The instructions of each stage, the FROM included. */
  stages: Instruction[][];
}

const DOCKER_DIR = join(__dirname, '..', '..', '.docker');

/** Reads a Dockerfile: parser directives, comments, line continuations, stages. */
function parseDockerfile(file: string): Dockerfile {
  const lines = readFileSync(join(DOCKER_DIR, file), 'utf8').split(/\r?\n/);
  let escape = '\\';
  for (const line of lines) {
    const directive = /^#\s*(\w+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!directive) break;
    if (directive[1].toLowerCase() === 'escape') escape = directive[2];
  }
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith(escape)) {
      pending += line.slice(0, -escape.length) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const match = /^(\w+)\s+([\s\S]*)$/.exec(whole);
    if (!match) throw new Error(`${file}: cannot read "${whole}"`);
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim() });
  }
  const result: Dockerfile = { globalArgs: [], stages: [] };
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') result.stages.push([instruction]);
    else if (result.stages.length === 0 && instruction.keyword === 'ARG')
      result.globalArgs.push(instruction.args);
    else result.stages[result.stages.length - 1].push(instruction);
  }
  return result;
}

/** Splits on white space outside double quotes, dropping the quotes. */
function words(text: string): string[] {
  const out: string[] = [];
  let current: string | null = null;
  let quoted = false;
  for (const char of text) {
    if (char === '"') {
      quoted = !quoted;
      current ??= '';
    } else if (/\s/.test(char) && !quoted) {
      if (current !== null) out.push(current);
      current = null;
    } else {
      current = (current ?? '') + char;
    }
  }
  if (current !== null) out.push(current);
  return out;
}

function runtimeStage(dockerfile: Dockerfile): Instruction[] {
  return dockerfile.stages[dockerfile.stages.length - 1];
}

function all(stage: Instruction[], keyword: string): string[] {
  return stage.filter((i) => i.keyword === keyword).map((i) => i.args);
}

function last(stage: Instruction[], keyword: string): string {
  const found = all(stage, keyword);
  if (found.length === 0) throw new Error(`no ${keyword} in the runtime stage`);
  return found[found.length - 1];
}

function envOf(stage: Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const args of all(stage, 'ENV')) {
    for (const word of words(args)) {
      const at = word.indexOf('=');
      if (at <= 0) throw new Error(`ENV in the legacy "NAME value" form: ${args}`);
      env.set(word.slice(0, at), word.slice(at + 1));
    }
  }
  return env;
}

/** `C:\data\vectra.db` → `/data/vectra.db`, so Windows values compare with Linux ones. */
const posixPath = (value: string): string =>
  value.replace(/\b[A-Za-z]:[\\/]/g, '/').replace(/\\/g, '/');

/** The exec form of an instruction's argument, which every one checked here must use. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed)) throw new Error(`not the exec (JSON) form: ${args}`);
  return parsed as string[];
}

const isNode = (program: string): boolean => /(^|[\\/])node(\.exe)?$/i.test(program);

/** The source of a COPY, by its last path segment: `--from=build /src/dist` → `dist`. */
function copiedNames(stage: Instruction[]): string[] {
  return all(stage, 'COPY')
    .map((args) => words(args))
    .filter((parts) => parts[0] !== '--from=node')
    .map((parts) => {
      const sources = parts.filter((p) => !p.startsWith('--')).slice(0, -1);
      return sources.map((source) => posixPath(source).split('/').filter(Boolean).pop());
    })
    .flat()
    .filter((name): name is string => name !== undefined)
    .sort();
}

const LINUX = 'Dockerfile.linux';
const ENTRYPOINT_SCRIPT = readFileSync(join(DOCKER_DIR, 'docker-entrypoint.sh'), 'utf8');
const WINDOWS = ['Dockerfile.windows-ltsc2022', 'Dockerfile.windows-ltsc2025'];

describe('Dockerfiles', () => {
  const linux = runtimeStage(parseDockerfile(LINUX));

  it.each([LINUX, ...WINDOWS])('%s: a multi-stage build taking APP_VERSION', (file) => {
    const dockerfile = parseDockerfile(file);
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const runtime = runtimeStage(dockerfile);
    const args = [...dockerfile.globalArgs, ...all(runtime, 'ARG')].map((a) => a.split('=')[0]);
    expect(args).toContain('APP_VERSION');
    expect(all(runtime, 'LABEL').join(' ')).toContain(
      'org.opencontainers.image.version="${APP_VERSION}"',
    );
    // The build stage builds dist/ and drops the dev dependencies before the runtime copies them.
    const build = dockerfile.stages.find((stage) => / AS build$/i.test(stage[0].args));
    const runs = all(build ?? [], 'RUN').join('\n');
    expect(runs).toMatch(/npm ci /);
    expect(runs).toMatch(/npm prune --omit=dev/);
  });

  it('the Linux image exposes the default ports and sets only real configuration keys', () => {
    const byPath = new Map(CONFIG_KEYS.map((key) => [key.path, key]));
    const ports = ['System.Server.Http.Port', 'System.Proxy.Port', 'System.Server.Https.Port'].map(
      (path) => String(byPath.get(path)?.default),
    );
    expect(words(last(linux, 'EXPOSE')).sort()).toEqual(ports.sort());
    const envVars = new Set(CONFIG_KEYS.map((key) => key.envVar));
    for (const name of envOf(linux).keys()) {
      if (name.includes('__')) expect(envVars).toContain(name);
    }
    // No USER line: the entry point hands an empty /data to vectra, then drops to it.
    expect(ENTRYPOINT_SCRIPT).toMatch(/^APP_USER=vectra$/m);
    expect(ENTRYPOINT_SCRIPT).toMatch(/exec setpriv --reuid="\$APP_USER"/);
  });

  describe.each(WINDOWS)('%s, against the Linux image', (file) => {
    const windows = runtimeStage(parseDockerfile(file));

    it('exposes the same ports', () => {
      expect(words(last(windows, 'EXPOSE')).sort()).toEqual(words(last(linux, 'EXPOSE')).sort());
    });

    it('sets the same ENV names, with the same values up to the path style', () => {
      const linuxEnv = envOf(linux);
      const windowsEnv = envOf(windows);
      expect([...windowsEnv.keys()].sort()).toEqual([...linuxEnv.keys()].sort());
      for (const [name, value] of windowsEnv) {
        expect([name, posixPath(value)]).toEqual([name, linuxEnv.get(name)]);
      }
      // Windows values really are Windows paths, not Linux ones copied over.
      expect(windowsEnv.get('System__Storage__DataDirectory')).toBe('C:\\data');
    });

    it('declares the corresponding volumes', () => {
      const volumes = execForm(last(windows, 'VOLUME'));
      expect(volumes.every((v) => /^C:\\/.test(v))).toBe(true);
      expect(volumes.map(posixPath).sort()).toEqual(execForm(last(linux, 'VOLUME')).sort());
    });

    it('copies the same files into the runtime image', () => {
      // The Linux entry point script fixes bind-mount ownership; Windows has no such step.
      const linuxNames = copiedNames(linux).filter((name) => name !== 'docker-entrypoint.sh');
      expect(copiedNames(windows)).toEqual(linuxNames);
    });

    it('runs as ContainerUser, not an administrator', () => {
      expect(last(windows, 'USER')).toBe('ContainerUser');
    });
  });

  describe.each([LINUX, ...WINDOWS])('%s: health check and entry point', (file) => {
    const runtime = runtimeStage(parseDockerfile(file));

    it('checks health with `vectra health`', () => {
      const match = /^(.*?)\bCMD\s+(\[.*\])$/.exec(last(runtime, 'HEALTHCHECK'));
      expect(match).not.toBeNull();
      const [program, ...rest] = execForm(match![2]);
      expect(isNode(program)).toBe(true);
      expect(rest).toEqual(['bin/vectra.js', 'health']);
    });

    it('runs bin/vectra.js with `serve` as the default command', () => {
      const entry = execForm(last(runtime, 'ENTRYPOINT'));
      // Linux: the entry point script execs `node /app/bin/vectra.js "$@"` as vectra.
      const [program, ...rest] =
        entry[0] === 'docker-entrypoint.sh'
          ? [
              ENTRYPOINT_SCRIPT.match(/ (node) \/app\/(bin\/vectra\.js) "\$@"$/m)?.[1] ?? '',
              'bin/vectra.js',
            ]
          : entry;
      expect(isNode(program)).toBe(true);
      expect(rest).toEqual(['bin/vectra.js']);
      expect(execForm(last(runtime, 'CMD'))).toEqual(['serve']);
    });
  });
});
