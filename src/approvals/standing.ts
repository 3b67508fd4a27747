/**
 * Whether a standing approval (`session` or `always`) covers a request: the store already matched
 * agent, vault, method and origin; the path must match the approval's path pattern (a glob, see
 * src/glob.ts), or equal the approved request's path when the approver gave none.
 */
import { compileGlob } from '../glob';
import { pathOf } from './held-request';
import type { Approval } from './types';

export function standingMatch<T extends Approval>(
  candidates: readonly T[],
  target: string,
): T | undefined {
  const path = pathOf(target);
  return candidates.find((approval) =>
    approval.pathPattern ? compileGlob(approval.pathPattern).matches(path) : approval.path === path,
  );
}
