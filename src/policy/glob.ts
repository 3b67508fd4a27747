/**
 * Globs for the `glob` operator and for `appliesTo` names. `*` matches any run of characters
 * except `/` (so `*.prod.*` matches `api.prod.example.com`, and `/repos/*` one path segment),
 * `**` any run including `/`, `?` one character except `/`, `\` escapes the next character;
 * everything else is literal. Matching simulates the pattern as a small automaton, one step per
 * character, so it takes time proportional to text × pattern whatever the input (no regex, no
 * backtracking).
 */

type Token =
  | { kind: 'char'; char: string }
  | { kind: 'one' }
  | { kind: 'segment' } // *
  | { kind: 'any' }; // **

export interface Glob {
  readonly pattern: string;
  matches(text: string): boolean;
}

export function compileGlob(pattern: string, options: { ignoreCase?: boolean } = {}): Glob {
  const ignoreCase = options.ignoreCase === true;
  const tokens = tokenize(ignoreCase ? pattern.toLowerCase() : pattern);
  if (tokens.every((t) => t.kind === 'char')) {
    const literal = tokens.map((t) => (t as { char: string }).char).join('');
    return {
      pattern,
      matches: (text) => (ignoreCase ? text.toLowerCase() : text) === literal,
    };
  }
  return { pattern, matches: (text) => run(tokens, ignoreCase ? text.toLowerCase() : text) };
}

/** Whether `pattern` uses a wildcard (else it is matched as a plain name). */
export function isGlob(pattern: string): boolean {
  return /[*?\\]/.test(pattern);
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      tokens.push({ kind: 'char', char: pattern[++i] });
    } else if (c === '*') {
      let stars = 1;
      while (pattern[i + 1] === '*') {
        stars++;
        i++;
      }
      const token: Token = stars > 1 ? { kind: 'any' } : { kind: 'segment' };
      // `*` next to `**` adds nothing; `**` absorbs a neighbouring `*`.
      const previous = tokens[tokens.length - 1];
      if (previous?.kind === 'any' || previous?.kind === 'segment') {
        if (token.kind === 'any') tokens[tokens.length - 1] = token;
        continue;
      }
      tokens.push(token);
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'char', char: c });
    }
  }
  return tokens;
}

/** Runs the automaton whose states are "the first n tokens matched". */
function run(tokens: Token[], text: string): boolean {
  const size = tokens.length + 1;
  let states = new Uint8Array(size);
  let next = new Uint8Array(size);
  states[0] = 1;
  closure(tokens, states);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    next.fill(0);
    let alive = false;
    for (let n = 0; n < tokens.length; n++) {
      if (!states[n]) continue;
      const token = tokens[n];
      let target = -1;
      if (token.kind === 'char') target = token.char === c ? n + 1 : -1;
      else if (token.kind === 'one') target = c !== '/' ? n + 1 : -1;
      else if (token.kind === 'any' || c !== '/') target = n;
      if (target >= 0) {
        next[target] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    closure(tokens, next);
    [states, next] = [next, states];
  }
  return states[tokens.length] === 1;
}

/** A star may match nothing: reaching it also reaches the state after it. */
function closure(tokens: Token[], states: Uint8Array): void {
  for (let n = 0; n < tokens.length; n++) {
    const kind = tokens[n].kind;
    if (states[n] && (kind === 'segment' || kind === 'any')) states[n + 1] = 1;
  }
}
