/**
 * Input rules of the identity model; like ../vault/validation.ts, every check throws
 * VEC_REQUEST_INVALID with `context.field` naming the offending field.
 */
import { invalid } from '../vault/validation';
import { ADMIN_ROLES, SESSION_TTL, type AdminRole } from './types';

export function validateAdminRole(value: unknown): AdminRole {
  if (!ADMIN_ROLES.includes(value as AdminRole)) {
    throw invalid('role', `role must be one of ${ADMIN_ROLES.join(', ')}`);
  }
  return value as AdminRole;
}

/** Session lifetime in whole seconds; the default when absent. */
export function validateSessionTtl(value: unknown): number {
  if (value === undefined) return SESSION_TTL.default;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < SESSION_TTL.min ||
    value > SESSION_TTL.max
  ) {
    throw invalid(
      'ttlSeconds',
      `ttlSeconds must be a whole number of seconds from ${SESSION_TTL.min} (5 minutes) to ${SESSION_TTL.max} (7 days)`,
    );
  }
  return value;
}
