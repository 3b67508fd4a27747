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
  // Literal characters before the first wildcard and after the last one must be there: checked
  // first, they turn most texts away without running the automaton.
  let head = 0;
  while (tokens[head].kind === 'char') head++;
  let tail = tokens.length;
  while (tokens[tail - 1].kind === 'char') tail--;
  const prefix = literalOf(tokens.slice(0, head));
  const suffix = literalOf(tokens.slice(tail));
  const automaton = tokens.length < 31 ? createBitAutomaton(tokens) : createAutomaton(tokens);
  return {
    pattern,
    matches: (raw) => {
      const text = ignoreCase ? raw.toLowerCase() : raw;
      if (text.length < prefix.length + suffix.length) return false;
      if (!text.startsWith(prefix) || !text.endsWith(suffix)) return false;
      return automaton(text);
    },
  };
}

function literalOf(tokens: Token[]): string {
  return tokens.map((t) => (t as { char: string }).char).join('');
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

/**
 * The same automaton with its states as the bits of one integer (patterns under 31 tokens, i.e.
 * all real ones): each character costs a handful of integer operations (the Shift-And idea).
 * Bit n set = "the first n tokens matched"; a star's bit stays set while it absorbs characters.
 */
function createBitAutomaton(tokens: Token[]): (text: string) => boolean {
  // The pattern's distinct characters (UTF-16 units, as the text is read) and the token bits
  // each one advances: a handful of entries in two small arrays, which stay in one or two cache
  // lines (a 128-entry table per glob would be touched all over on every match).
  const byChar = new Map<number, number>();
  let one = 0;
  let segment = 0;
  let any = 0;
  tokens.forEach((token, n) => {
    const bit = 1 << n;
    if (token.kind === 'char') {
      const code = token.char.charCodeAt(0);
      byChar.set(code, (byChar.get(code) ?? 0) | bit);
    } else if (token.kind === 'one') one |= bit;
    else if (token.kind === 'segment') segment |= bit;
    else any |= bit;
  });
  const codes = Int32Array.from(byChar.keys());
  const masks = Int32Array.from(byChar.values());
  const distinct = codes.length;
  const stars = segment | any;
  const accept = 1 << tokens.length;
  // Stars are never adjacent (tokenize merges them), so one step of closure is enough.
  const close = (states: number) => states | ((states & stars) << 1);
  const start = close(1);
  return (text) => {
    let states = start;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let chars = 0;
      for (let c = 0; c < distinct; c++) {
        if (codes[c] === code) {
          chars = masks[c];
          break;
        }
      }
      let next = ((states & chars) << 1) | (states & any);
      if (code !== 47) next |= ((states & one) << 1) | (states & segment); // 47: '/'
      if (next === 0) return false;
      states = close(next);
    }
    return (states & accept) !== 0;
  };
}

/**
 * The automaton whose states are "the first n tokens matched", as a function of the text. Its two
 * state vectors are allocated once per glob (matching is synchronous, so they are never shared).
 */
function createAutomaton(tokens: Token[]): (text: string) => boolean {
  const size = tokens.length + 1;
  let states = new Uint8Array(size);
  let next = new Uint8Array(size);
  return (text) => {
    states.fill(0);
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
  };
}

/** A star may match nothing: reaching it also reaches the state after it. */
function closure(tokens: Token[], states: Uint8Array): void {
  for (let n = 0; n < tokens.length; n++) {
    const kind = tokens[n].kind;
    if (states[n] && (kind === 'segment' || kind === 'any')) states[n + 1] = 1;
  }
}
