import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, GatewayError, type ErrorCode } from '../../src/errors';

const docs = readFileSync(join(__dirname, '../../docs/errors.md'), 'utf8');
const documented = new Map(
  [...docs.matchAll(/^\|\s*`(VEC_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [
    m[1],
    Number(m[2]),
  ]),
);

describe('error registry', () => {
  it('docs/errors.md lists every code with its status, and nothing else', () => {
    const registry = new Map(Object.entries(ERROR_CODES).map(([code, def]) => [code, def.status]));
    expect(documented).toEqual(registry);
  });

  it('codes follow VEC_<AREA>_<PROBLEM>', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^VEC_[A-Z]+(_[A-Z]+)+$/);
  });

  it('serialises to the wire format with context fields', () => {
    const err = new GatewayError('VEC_REQUEST_TOO_LARGE', 'too big', { context: { limit: 10 } });
    expect(err.toJSON()).toEqual({
      error: 'Request too large',
      code: 'VEC_REQUEST_TOO_LARGE',
      message: 'too big',
      statusCode: 413,
      limit: 10,
    });
  });

  it('context cannot overwrite the fixed fields', () => {
    const err = new GatewayError('VEC_INTERNAL_ERROR', undefined, {
      context: { code: 'VEC_FAKE', statusCode: 200 },
    });
    expect(err.toJSON().code).toBe<ErrorCode>('VEC_INTERNAL_ERROR');
    expect(err.toJSON().statusCode).toBe(500);
  });
});
