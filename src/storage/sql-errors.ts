/**
 * Recognising errors the same way on both providers, so repositories written once can react
 * to them (e.g. "name already taken") without knowing the driver.
 */

/** A UNIQUE or PRIMARY KEY constraint refused the row (SQLite or PostgreSQL SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}
