/** The 404 and 409 errors the vault and identity operations throw, and the UNIQUE → 409 mapping. */
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

/** Runs `write`; a UNIQUE violation becomes 409 with `message`. */
export async function uniquely<T>(message: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(message);
    throw error;
  }
}
