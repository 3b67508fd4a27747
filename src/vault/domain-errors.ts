/**
 * The 404 and 409 errors the vault and identity operations throw: lookups by name, and the
 * UNIQUE → 409 mapping.
 */
import { GatewayError, type ErrorCode } from '../errors';
import { isUniqueViolation } from '../storage/sql-errors';

export function notFound(
  code: ErrorCode,
  message: string,
  context: Record<string, unknown>,
): GatewayError {
  return new GatewayError(code, message, { context });
}

export function conflict(message: string, context: Record<string, unknown> = {}): GatewayError {
  return new GatewayError('VEC_RESOURCE_CONFLICT', message, { context });
}

/** What `find` returns for `name`; a 404 with `code` when it finds nothing (or `name` is no string). */
export async function named<T>(
  what: 'vault' | 'agent',
  code: ErrorCode,
  name: string,
  find: (name: string) => Promise<T | undefined>,
): Promise<T> {
  const found = typeof name === 'string' ? await find(name) : undefined;
  if (!found) throw notFound(code, `No ${what} is named "${name}".`, { [what]: name });
  return found;
}

/** Runs `write`; a UNIQUE violation becomes 409 with `message`. */
export async function uniquely<T>(message: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(message);
    throw error;
  }
}
