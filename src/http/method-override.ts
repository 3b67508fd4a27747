/**
 * Method-override headers: many frameworks and APIs (Rails, Express's method-override, ASP.NET,
 * Google's APIs) run a request as the method one of these names instead of its own, so the
 * policies judge it as that method too, and an approval for one method does not stand for
 * another.
 */
import type { HeaderMap } from './types';

export const METHOD_OVERRIDE_HEADERS = [
  'x-http-method',
  'x-http-method-override',
  'x-method-override',
] as const;

/**
 * The upper-case methods `headers` (lower-case names) ask for other than `method`, each once;
 * empty when none does.
 */
export function overriddenMethods(
  method: string,
  headers: HeaderMap | Record<string, string>,
): string[] {
  const own = method.toUpperCase();
  const asked = new Set<string>();
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const item of [value].flat().join(',').split(',')) {
      const other = item.trim().toUpperCase();
      if (other !== '' && other !== own) asked.add(other);
    }
  }
  return [...asked];
}
