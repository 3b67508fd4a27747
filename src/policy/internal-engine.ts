/**
 * The Internal provider: the policies in Policy.Providers.Internal.Directory, compiled once and
 * judged in-process (./evaluate.ts). The directory is watched; changes are reloaded after a
 * short quiet time (editors write a file in several steps). A reload with any problem is refused
 * as a whole: each problem is logged naming the file, and the last good set stays active, so a
 * typo never opens or closes the gateway. When the first load already fails there is no good set
 * and every request is refused with VEC_POLICY_UNAVAILABLE (fail closed) until the files are
 * fixed; the watcher picks up the fix. A directory that cannot be watched (missing at start,
 * removed later) is retried on a timer.
 */
import { watch, type FSWatcher } from 'node:fs';
import { GatewayError } from '../errors';
import type { Logger } from '../observability/types';
import { evaluatePolicies, policySet, type PolicySet } from './evaluate';
import type { CompiledPolicy } from './policy-file';
import { formatProblem, loadPolicyDirectory } from './policy-directory';
import type {
  PolicyDecision,
  PolicyEngine,
  PolicyEngineStatus,
  PolicyExplanation,
  PolicyInput,
  PolicyProblem,
  PolicyTrace,
  ReloadResult,
} from './types';

export interface InternalEngineOptions {
  directory: string;
  logger: Logger;
  /** Watch the directory and reload on changes (default true; dry runs turn it off). */
  watch?: boolean;
  /** Quiet time after the last change before reloading, in ms (default 200). */
  debounceMs?: number;
  /** How often to retry watching a directory that cannot be watched, in ms (default 5000). */
  retryMs?: number;
}

export interface InternalPolicyEngine extends PolicyEngine {
  readonly provider: 'Internal';
  readonly directory: string;
  explain(input: PolicyInput): Promise<PolicyExplanation>;
  /** The active policies (empty when none is loaded). */
  policies(): readonly CompiledPolicy[];
  /** Reads the directory now; resolves once the result is active (or refused). */
  reload(): Promise<ReloadResult>;
  /** Resolves with the next reload's result, whatever triggers it (tests await this). */
  nextReload(): Promise<ReloadResult>;
  /** Calls `listener` after every reload; returns the function that unsubscribes. */
  onReload(listener: (result: ReloadResult) => void): () => void;
}

export async function createInternalEngine(
  options: InternalEngineOptions,
): Promise<InternalPolicyEngine> {
  const { directory } = options;
  const debounceMs = options.debounceMs ?? 200;
  const retryMs = options.retryMs ?? 5000;
  const log = options.logger.child({ component: 'policy' });
  const listeners = new Set<(result: ReloadResult) => void>();

  let active: (PolicySet & { fingerprint: string }) | undefined;
  let problems: PolicyProblem[] = [];
  let refusedFingerprint: string | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  async function load(): Promise<ReloadResult> {
    const loaded = await loadPolicyDirectory(directory);
    const changed = loaded.fingerprint !== active?.fingerprint;
    let result: ReloadResult;
    if (loaded.problems.length > 0) {
      const repeated = loaded.fingerprint !== '' && loaded.fingerprint === refusedFingerprint;
      refusedFingerprint = loaded.fingerprint;
      problems = loaded.problems;
      if (!repeated) {
        const outcome = active
          ? `the last good set (${active.policies.length} policies) stays active`
          : 'no policy set is active, so every request is refused';
        for (const problem of loaded.problems) {
          log.error(`policy file refused: ${formatProblem(problem)}; ${outcome}`, {
            code: 'VEC_POLICY_INVALID',
            file: problem.file,
          });
        }
      }
      result = {
        ok: false,
        changed,
        policies: active?.policies.length ?? 0,
        files: loaded.files,
        problems: loaded.problems,
      };
    } else {
      const recovered = problems.length > 0;
      problems = [];
      refusedFingerprint = undefined;
      if (!changed && active && recovered) {
        log.info(`policy files in ${directory} are valid again; the active set is unchanged`);
      }
      if (changed || !active) {
        active = { ...policySet(loaded.policies), fingerprint: loaded.fingerprint };
        if (loaded.policies.length === 0) {
          log.warn(`no policies in ${directory}: every request is refused until one is added`);
        } else {
          log.info(`policies loaded: ${loaded.policies.length} from ${directory}`, {
            policies: loaded.policies.map((p) => p.name),
          });
          for (const warning of loaded.warnings)
            log.warn(`policy warning: ${formatProblem(warning)}`);
        }
      }
      result = {
        ok: true,
        changed,
        policies: loaded.policies.length,
        files: loaded.files,
        problems: [],
      };
    }
    for (const listener of [...listeners]) listener(result);
    return result;
  }

  function reload(): Promise<ReloadResult> {
    const next = queue.then(load);
    queue = next.catch(() => undefined);
    return next;
  }

  function scheduleReload(): void {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      reload().catch((err) => log.error('policy reload failed', { err }));
    }, debounceMs);
    debounce.unref();
  }

  function startWatching(): boolean {
    try {
      // Not persistent: the watcher never keeps the process alive.
      watcher = watch(directory, { persistent: false }, (_event, filename) => {
        const name = filename?.toString();
        // `..data` is how a Kubernetes ConfigMap mount swaps its files.
        if (!name || name.endsWith('.json') || name.startsWith('..')) scheduleReload();
      });
      watcher.on('error', (err) => {
        log.warn(`stopped watching the policy directory ${directory}; retrying`, { err });
        watcher?.close();
        watcher = undefined;
        scheduleRetry();
      });
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      log.warn(
        `cannot watch the policy directory ${directory} (${code}); retrying every ${retryMs} ms`,
      );
      return false;
    }
  }

  function scheduleRetry(): void {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (closed) return;
      if (startWatching()) scheduleReload();
      else scheduleRetry();
    }, retryMs);
    retry.unref();
  }

  function current(): PolicySet {
    if (active) return active;
    const first = problems[0] ? formatProblem(problems[0]) : 'not loaded yet';
    throw new GatewayError(
      'VEC_POLICY_UNAVAILABLE',
      `No valid policy set is loaded from ${directory} (${first}); requests are refused until the policy files are fixed (check them with vectra policy validate).`,
      { context: { directory } },
    );
  }

  await reload();
  if (options.watch !== false && !startWatching()) scheduleRetry();

  return {
    provider: 'Internal',
    directory,
    async evaluate(input): Promise<PolicyDecision> {
      return evaluatePolicies(current(), input);
    },
    async explain(input) {
      const trace: PolicyTrace[] = [];
      const decision = evaluatePolicies(current(), input, trace);
      return { decision, trace };
    },
    needsBody: () => active?.readsBody ?? false,
    policies: () => active?.policies ?? [],
    status(): PolicyEngineStatus {
      const first = problems[0] && formatProblem(problems[0]);
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      if (!active) {
        return {
          ready: false,
          stale: false,
          description: `no valid policy set loaded from ${directory}: ${first ?? 'not loaded'}${more}`,
        };
      }
      const summary =
        active.policies.length === 0
          ? `no policies in ${directory}: every request is refused`
          : `${active.policies.length} policies from ${directory}`;
      return problems.length === 0
        ? { ready: true, stale: false, description: summary }
        : {
            ready: true,
            stale: true,
            description: `${summary}; the last change was refused: ${first}${more}`,
          };
    },
    reload,
    nextReload: () =>
      new Promise((resolve) => {
        const off = subscribe((result) => {
          off();
          resolve(result);
        });
      }),
    onReload: (listener) => subscribe(listener),
    async close() {
      closed = true;
      watcher?.close();
      watcher = undefined;
      if (debounce) clearTimeout(debounce);
      if (retry) clearTimeout(retry);
      await queue;
    },
  };

  function subscribe(listener: (result: ReloadResult) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }
}
