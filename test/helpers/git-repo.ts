/**
 * A bare git repository with one commit, laid out for git's dumb HTTP protocol: a directory of
 * plain files (`info/refs`, `HEAD`, `objects/…`) that any static web server can serve, such as
 * the test upstream with `serveDirectory`. Built with the git CLI, isolated from the machine's
 * and the user's git configuration (no signing hooks, no templates from ~/.gitconfig).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir';

export interface BareRepo {
  /** The bare repository's directory (`…/repo.git`). */
  directory: string;
  /** The one commit's id (40 hex digits). */
  commit: string;
  /** The branch holding it, e.g. `refs/heads/main`. */
  ref: string;
}

/** Environment for git commands that must not depend on this machine's git configuration. */
export function isolatedGitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

export function createBareRepo(branch = 'main'): BareRepo {
  const root = tempDir('vectra-git-');
  const work = join(root, 'work');
  const directory = join(root, 'repo.git');
  const git = (cwd: string, args: string[]) =>
    execFileSync('git', args, { cwd, env: isolatedGitEnv(), encoding: 'utf8' }).trim();

  git(root, ['init', '--quiet', `--initial-branch=${branch}`, work]);
  writeFileSync(join(work, 'README.md'), '# served over dumb HTTP through Vectra\n');
  git(work, ['add', 'README.md']);
  git(work, [
    '-c',
    'user.name=Vectra Test',
    '-c',
    'user.email=test@vectra.invalid',
    '-c',
    'commit.gpgSign=false',
    'commit',
    '--quiet',
    '-m',
    'initial commit',
  ]);
  const commit = git(work, ['rev-parse', 'HEAD']);
  git(root, ['clone', '--quiet', '--bare', work, directory]);
  // Writes info/refs and objects/info/packs, which dumb-HTTP clients read instead of asking.
  git(directory, ['update-server-info']);
  return { directory, commit, ref: `refs/heads/${branch}` };
}
