/**
 * Reads a policy directory: every `*.json` file directly in it (symbolic links followed, as
 * Kubernetes ConfigMap mounts need; sub-directories and other files ignored), in name order,
 * each compiled by ./policy-file.ts. Policy names must be unique across files.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compilePolicyText, type CompiledPolicy } from './policy-file';
import { policyWarnings } from './policy-warnings';
import type { PolicyProblem } from './types';

/** A policy file larger than this is refused (a policy is a few kilobytes). */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

export interface LoadedDirectory {
  directory: string;
  /** Paths of the `*.json` files read, in order. */
  files: string[];
  /** The compiled policies; use them only when `problems` is empty. */
  policies: CompiledPolicy[];
  problems: PolicyProblem[];
  /** What loads but may not do what was meant (./policy-warnings.ts); never refuses a file. */
  warnings: PolicyProblem[];
  /** Hash of the file names and contents: unchanged files give the same value. */
  fingerprint: string;
}

export async function loadPolicyDirectory(directory: string): Promise<LoadedDirectory> {
  const result: LoadedDirectory = {
    directory,
    files: [],
    policies: [],
    problems: [],
    warnings: [],
    fingerprint: '',
  };
  let names: string[];
  try {
    names = (await readdir(directory)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    result.problems.push({
      file: directory,
      message: `the policy directory cannot be read (${code})`,
    });
    return result;
  }
  const hash = createHash('sha256');
  const owners = new Map<string, string>();
  for (const name of names) {
    const file = join(directory, name);
    let text: string;
    try {
      const info = await stat(file);
      if (!info.isFile()) continue;
      if (info.size > MAX_POLICY_FILE_BYTES) {
        result.files.push(file);
        result.problems.push({
          file,
          message: `is larger than ${MAX_POLICY_FILE_BYTES} bytes; a policy file should be small`,
        });
        continue;
      }
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Deleted between readdir and read (an editor's save): the next change event reloads.
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code === 'ENOENT') continue;
      result.files.push(file);
      result.problems.push({ file, message: `cannot be read (${code})` });
      continue;
    }
    result.files.push(file);
    hash.update(name).update('\0').update(text).update('\0');
    const { policy, problems } = compilePolicyText(file, text);
    result.problems.push(...problems);
    if (!policy) continue;
    const other = owners.get(policy.name);
    if (other !== undefined) {
      result.problems.push({
        file,
        path: 'name',
        message: `policy name "${policy.name}" is already used by ${other}`,
      });
      continue;
    }
    owners.set(policy.name, file);
    result.policies.push(policy);
    result.warnings.push(...policyWarnings(policy));
  }
  result.fingerprint = hash.digest('hex');
  return result;
}

/** `file:line:column: message`, or `file: path: message` (the path inside the document). */
export function formatProblem(problem: PolicyProblem): string {
  const where =
    problem.line !== undefined
      ? `${problem.file}:${problem.line}:${problem.column ?? 1}`
      : problem.file;
  return `${where}: ${problem.path ? `${problem.path}: ` : ''}${problem.message}`;
}
