/**
 * The value formats of the configuration schema: the named ones registered with convict on
 * import, the enum and override-list format builders, and the types that read a config type off
 * a schema (each leaf becomes the type of its format).
 */
import convict from 'convict';
import {
  overrideListSyntax,
  parseOverrideList,
  type OverrideTier,
} from './rate-limit-override-list';

declare const accepts: unique symbol;

/** A format function, tagged (in the type only) with the type of the values it accepts. */
export type TypedFormat<T> = ((x: unknown) => void) & { readonly [accepts]?: T };

/** The value type of each named format registered below. */
interface NamedFormatTypes {
  'port-or-zero': number;
  'positive-int': number;
  'non-negative-int': number;
  ratio: number;
  'strict-boolean': boolean;
  text: string;
  'http-url-or-empty': string;
}

interface SchemaLeaf {
  doc: string;
  format: keyof NamedFormatTypes | TypedFormat<unknown>;
  default: unknown;
  sensitive?: boolean;
}

export interface SchemaSection {
  [name: string]: SchemaLeaf | SchemaSection;
}

type ValueOf<F> = F extends keyof NamedFormatTypes
  ? NamedFormatTypes[F]
  : F extends TypedFormat<infer T>
    ? T
    : never;

/** The configuration a schema section describes: each leaf becomes the type of its format. */
export type ConfigOf<S> = {
  -readonly [K in keyof S]: S[K] extends { readonly format: infer F } ? ValueOf<F> : ConfigOf<S[K]>;
};

function addFormat(name: keyof NamedFormatTypes, validate: (x: unknown) => void): void {
  convict.addFormat({ name, validate });
}

function assertThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

addFormat('port-or-zero', (x: unknown) =>
  assertThat(
    isInt(x) && x >= 0 && x <= 65535,
    'must be an integer from 0 to 65535 (0 picks a free port)',
  ),
);
addFormat('positive-int', (x: unknown) =>
  assertThat(isInt(x) && x >= 1, 'must be a whole number of at least 1'),
);
addFormat('non-negative-int', (x: unknown) =>
  assertThat(isInt(x) && x >= 0, 'must be a whole number of at least 0'),
);
addFormat('ratio', (x: unknown) =>
  assertThat(typeof x === 'number' && x >= 0 && x <= 1, 'must be a number from 0 to 1'),
);
addFormat('strict-boolean', (x: unknown) =>
  assertThat(typeof x === 'boolean', 'must be true or false'),
);
addFormat('text', (x: unknown) => assertThat(typeof x === 'string', 'must be a string'));
addFormat('http-url-or-empty', (x: unknown) => {
  assertThat(typeof x === 'string', 'must be an http(s) URL or empty');
  if (x === '') return;
  let url: URL | undefined;
  try {
    url = new URL(x as string);
  } catch {
    url = undefined;
  }
  assertThat(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'must be an http(s) URL or empty',
  );
});

/** `name=requestsPerMinute` pairs of one rate-limit override tier (see rate-limit-override-list.ts). */
export const overrideListFormat =
  (tier: OverrideTier): TypedFormat<string> =>
  (x: unknown) => {
    assertThat(typeof x === 'string', `must be ${overrideListSyntax(tier)}`);
    try {
      parseOverrideList(x as string, tier);
    } catch (error) {
      throw new Error(`must be ${overrideListSyntax(tier)}: ${(error as Error).message}`);
    }
  };

/** One of a few whole numbers (e.g. the HTTP statuses a refusal may be sent with). */
export const intChoiceFormat =
  (values: readonly number[]): TypedFormat<number> =>
  (x: unknown) =>
    assertThat(isInt(x) && values.includes(x), `must be one of: ${values.join(', ')}`);

export const enumFormat =
  <const T extends string>(values: readonly T[]): TypedFormat<T> =>
  (x: unknown) =>
    assertThat(
      typeof x === 'string' && (values as readonly string[]).includes(x),
      `must be one of: ${values.join(', ')}`,
    );
