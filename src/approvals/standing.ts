/**
 * Whether a standing approval (`session` or `always`) covers a request: the store already matched
 * agent, vault, method and origin. The path must equal the approved request's path when the
 * approver gave no pattern; else every reading of it (as sent, `%2F` decoded, without
 * `;parameters`: src/http/request-target.ts) must match the pattern (a glob, see src/glob.ts).
 * So a pattern for `/repos/<name>/issues`, `*` for the name, does not cover
 * `/repos/a%2F..%2F..%2Fadmin/issues`, which a server that decodes `%2F` routes to `/admin/issues`.
 */
import { compileGlob } from '../glob';
import { pathReadings } from '../http/request-target';
import { pathOf } from './held-request';
import type { Approval } from './types';

export function standingMatch<T extends Approval>(
  candidates: readonly T[],
  target: string,
): T | undefined {
  const path = pathOf(target);
  const readings = pathReadings(path);
  return candidates.find((approval) => {
    if (!approval.pathPattern) return approval.path === path;
    const glob = compileGlob(approval.pathPattern);
    return readings.every((reading) => glob.matches(reading));
  });
}
