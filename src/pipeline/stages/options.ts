/**
 * Construction-time checks shared by the stage factories: a stage with a wrong option or a
 * missing dependency refuses to be built (VEC_CONFIG_INVALID at start-up), rather than failing
 * on the first request.
 */
import { GatewayError } from '../../errors';

/** `options` is a plain object holding only `known` keys. */
export function checkOptions(stage: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw configInvalid(stage, 'options', 'must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw configInvalid(
        stage,
        key,
        `is not an option of this stage (known: ${known.join(', ') || 'none'})`,
      );
    }
  }
}

/** `deps[name]` has every method in `methods`. */
export function checkDependency(
  stage: string,
  deps: unknown,
  name: string,
  methods: readonly string[],
): void {
  const dependency = (deps as Record<string, unknown> | undefined)?.[name] as
    Record<string, unknown> | undefined;
  for (const method of methods) {
    if (typeof dependency?.[method] !== 'function') {
      throw configInvalid(stage, name, `must provide ${method}()`);
    }
  }
}

export function configInvalid(stage: string, field: string, problem: string): GatewayError {
  return new GatewayError('VEC_CONFIG_INVALID', `pipeline stage ${stage}: ${field} ${problem}.`, {
    context: { stage, field },
  });
}
