/**
 * The saved CLI login: `~/.vectra/login.json` = `{ addr, token }`, written by `vectra auth
 * login`. The directory is owner-only (0700) and the file owner-only (0600) because the token is
 * an admin credential. `VECTRA_CONFIG_HOME` replaces `~/.vectra`. The token is never printed.
 */
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface SavedLogin {
  addr: string;
  token: string;
}

/** The directory holding the CLI's own files. */
export function configHome(env: NodeJS.ProcessEnv): string {
  if (env.VECTRA_CONFIG_HOME) return env.VECTRA_CONFIG_HOME;
  return join(env.HOME || homedir(), '.vectra');
}

export function loginFile(env: NodeJS.ProcessEnv): string {
  return join(configHome(env), 'login.json');
}

/** The saved login, or undefined when there is none. A damaged file is an error naming it. */
export function readLogin(env: NodeJS.ProcessEnv): SavedLogin | undefined {
  const file = loginFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: Partial<SavedLogin>;
  try {
    parsed = JSON.parse(text) as Partial<SavedLogin>;
  } catch {
    parsed = {};
  }
  if (typeof parsed.addr !== 'string' || typeof parsed.token !== 'string') {
    throw new Error(`${file} is damaged; run \`vectra auth logout\`, then log in again`);
  }
  return { addr: parsed.addr, token: parsed.token };
}

/** Saves the login owner-only; the file is replaced atomically so it is never half written. */
export function saveLogin(env: NodeJS.ProcessEnv, login: SavedLogin): string {
  const dir = configHome(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tightenDirectory(dir);
  const file = loginFile(env);
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ addr: login.addr, token: login.token }, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  try {
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  return file;
}

/**
 * mkdir leaves an existing directory's mode alone: tighten ours when others can read it. A
 * directory owned by someone else (say VECTRA_CONFIG_HOME=/tmp) is left as is; the file itself
 * is still 0600.
 */
function tightenDirectory(dir: string): void {
  const stat = statSync(dir);
  if ((stat.mode & 0o077) !== 0 && stat.uid === process.getuid?.()) chmodSync(dir, 0o700);
}

/** Forgets the saved login; true when there was one. */
export function removeLogin(env: NodeJS.ProcessEnv): boolean {
  const file = loginFile(env);
  try {
    rmSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
