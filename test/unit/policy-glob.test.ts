import { compileGlob } from '../../src/glob';

/** The documented semantics as a regex: fine as a reference for short texts. */
function reference(pattern: string, ignoreCase = false): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]);
    else if (c === '*') {
      let stars = 1;
      while (pattern[i + 1] === '*') {
        stars++;
        i++;
      }
      source += stars > 1 ? '.*' : '[^/]*';
    } else if (c === '?') source += '[^/]';
    else source += escape(c);
  }
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A small deterministic generator (no Math.random: the same cases on every run). */
function generator(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
}

describe('glob matching', () => {
  it('agrees with the reference semantics on thousands of generated patterns and texts', () => {
    const next = generator(42);
    const pick = <T>(items: readonly T[]) => items[next(items.length)];
    const patternParts = ['a', 'b', '/', '*', '**', '?', '.', 'é', '\\*'] as const;
    const textParts = ['a', 'b', '/', '.', 'é', '*', 'A'] as const;
    let checked = 0;
    for (let p = 0; p < 400; p++) {
      const pattern = Array.from({ length: 1 + next(8) }, () => pick(patternParts)).join('');
      const glob = compileGlob(pattern);
      const insensitive = compileGlob(pattern, { ignoreCase: true });
      const expected = reference(pattern);
      const expectedInsensitive = reference(pattern.toLowerCase(), true);
      for (let t = 0; t < 25; t++) {
        const text = Array.from({ length: next(10) }, () => pick(textParts)).join('');
        expect([pattern, text, glob.matches(text)]).toEqual([pattern, text, expected.test(text)]);
        expect([pattern, text, insensitive.matches(text)]).toEqual([
          pattern,
          text,
          expectedInsensitive.test(text.toLowerCase()),
        ]);
        checked++;
      }
    }
    expect(checked).toBe(10_000);
  });

  it('matches long patterns (beyond the bit automaton) the same way', () => {
    const pattern = `/${'a*'.repeat(20)}/**/end`; // 45 tokens
    const glob = compileGlob(pattern);
    const ok = `/${'ax'.repeat(20)}/deep/er/end`;
    expect(glob.matches(ok)).toBe(true);
    expect(reference(pattern).test(ok)).toBe(true);
    expect(glob.matches(`/${'ax'.repeat(19)}/deep/end`)).toBe(false);
    expect(glob.matches(`/${'a/'.repeat(20)}end`)).toBe(false);
  });

  it('stays linear on patterns that make backtracking matchers explode', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*b');
    const text = 'a'.repeat(5000);
    // A backtracking matcher takes ages here; the automaton answers in one pass.
    expect(glob.matches(text)).toBe(false);
    expect(glob.matches(`${text}b`)).toBe(true);
  });
});
