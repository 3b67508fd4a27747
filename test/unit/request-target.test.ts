import {
  canonicalPath,
  parseAbsoluteForm,
  parseOriginForm,
  parseRequestTarget,
  separatorsDecoded,
} from '../../src/http/request-target';
import cases from '../fixtures/request-targets.json';

/** An input, then what it becomes or (for the refusals) a word of the refusal's message. */
type Pairs = Array<[string, string]>;
/** The tables of test/fixtures/request-targets.json; absoluteForm: a target, then its parts. */
const table = cases as Record<Exclude<keyof typeof cases, 'absoluteForm'>, Pairs> & {
  absoluteForm: Array<[string, string, string, number, string, string]>;
};

/** The refusal of a request-target: VEC_REQUEST_INVALID, its message saying `why`. */
const invalid = (why: string) =>
  expect.objectContaining({ code: 'VEC_REQUEST_INVALID', message: expect.stringContaining(why) });

describe('canonical paths', () => {
  it.each(table.canonical)('%s is %s', (raw, canonical) => {
    expect(canonicalPath(raw)).toBe(canonical);
    // Canonical paths are fixed points.
    expect(canonicalPath(canonical)).toBe(canonical);
  });

  it.each(table.canonicalRefused)('refuses %s', (raw, why) => {
    expect(() => canonicalPath(raw)).toThrow(invalid(why));
  });

  it.each(table.separatorsDecoded)('%s with its separators decoded is %s', (path, decoded) => {
    expect(separatorsDecoded(path)).toBe(decoded);
  });

  it('has no decoded view without encoded separators', () => {
    expect(separatorsDecoded('/files/a%20b')).toBeUndefined();
  });
});

describe('request-targets', () => {
  it('splits origin-form into the canonical path and the query as received', () => {
    expect(parseOriginForm('//admin/./users?x=%2e%2e&y=//')).toEqual({
      path: '/admin/users',
      query: '?x=%2e%2e&y=//',
    });
    expect(parseOriginForm('/?')).toEqual({ path: '/', query: '?' });
  });

  it.each(table.absoluteForm)('parses %s', (raw, scheme, host, port, path, query) => {
    expect(parseAbsoluteForm(raw)).toEqual({ scheme, host, port, path, query });
    expect(parseRequestTarget(raw)).toEqual({ scheme, host, port, path, query });
  });

  it('leaves targets that are not http(s) URLs to the caller', () => {
    for (const raw of ['ftp://h/x', 'h.example:443', 'mailto:x@y', '', 'http:/h/x']) {
      expect(parseAbsoluteForm(raw)).toBeUndefined();
    }
  });

  it.each(table.absoluteRefused)('refuses %s', (raw, why) => {
    expect(() => parseAbsoluteForm(raw)).toThrow(invalid(why));
  });

  it.each(table.refusedInAnyForm)('refuses %s in any form', (raw, why) => {
    expect(() => parseRequestTarget(raw)).toThrow(invalid(why));
  });
});
