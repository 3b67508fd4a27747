/**
 * `--mount src:dst[:ro]` checked before anything starts: the host path is resolved through its
 * symlinks first, then refused when it is `/`, the Docker socket (control of the engine is
 * control of the host), or inside or around Vectra's own directory (`~/.vectra`, the saved admin
 * login), which never enters a container.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { EXIT } from '../../errors';
import { RunError } from '../run-mode';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];

/** Whether `inner` is `outer` or below it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function refuse(spec: string, why: string): RunError {
  return new RunError(`--mount ${spec}: ${why}`, EXIT.CONFIG_OR_USAGE);
}

/** Resolves a path through symlinks, as far as it exists (a missing tail is kept as written). */
function realPath(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = resolve(head, '..');
    if (parent === head) break;
    tail.unshift(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
    head = parent;
  }
  return resolve(realpathSync(head), ...tail);
}

export function parseMount(spec: string, protectedDirs: readonly string[]): Mount {
  const parts = spec.split(':');
  const readOnly = parts.length === 3 && parts[2] === 'ro';
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    (parts.length === 3 && !readOnly) ||
    !parts[0] ||
    !parts[1]
  ) {
    throw refuse(spec, 'expected src:dst or src:dst:ro');
  }
  const [rawSource, target] = parts;
  if (!isAbsolute(target)) throw refuse(spec, 'the container path must be absolute');
  if (!existsSync(rawSource)) throw refuse(spec, 'the host path does not exist');
  const source = realPath(rawSource);
  if (source === sep) throw refuse(spec, 'the host root `/` cannot be mounted');
  const sockets = DOCKER_SOCKETS.filter(existsSync).map(realPath);
  if ([...DOCKER_SOCKETS, ...sockets].some((socket) => within(socket, source))) {
    throw refuse(spec, 'the Docker socket cannot be mounted (it controls the host)');
  }
  for (const dir of protectedDirs) {
    const real = existsSync(dir) ? realPath(dir) : resolve(dir);
    if (within(source, real) || within(real, source)) {
      throw refuse(
        spec,
        `Vectra's directory ${dir} (the saved admin login) never enters a container`,
      );
    }
  }
  return { source, target, readOnly };
}
