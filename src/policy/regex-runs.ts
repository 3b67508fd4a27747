/**
 * The polynomial half of the regex safety check (./safe-regex.ts refuses the exponential
 * shapes). A backtracking engine tries every way of sharing a stretch of text between
 * repetitions that can match the same characters: `^.*a.*b$` on 8 KiB of `a` splits the text
 * in every one of its 8,192 places twice over, tens of milliseconds on the event loop, and each
 * further `.*a` multiplies that by the length again. The rule, erring on the safe side:
 *
 * - Two unbounded repetitions (`*`, `+`, `{n,}`, of a character, a class or a group) may not
 *   follow one another when some character can be matched by both and nothing between them is
 *   required that neither can match. `.*a.*` is refused (`a` is matched by `.*` too), and so is
 *   `\w+\d*`; `[^/]+/[^/]+` and `.*a[^a]*b` are fine (`/` and `a` end the first repetition).
 * - Without a leading `^` the engine tries the pattern at every position, which counts as one
 *   such repetition before the pattern: `[0-9]+\.json$` is refused, `^.*[^0-9][0-9]+\.json$`
 *   or `/v[0-9]+/` are fine.
 * - A repetition that nothing after it can make fail (`^.*a.*`, or `\d+` alone) is fine.
 * - Bounded repetitions (`?`, `{1,3}`) count too: the choices of those that can share
 *   characters multiply, and more than BOUNDED_CHOICES of them are refused.
 * - An unbounded repetition inside a lookaround (`(?=.*a)`) is refused.
 *
 * Characters are compared on a sample alphabet (ASCII, a few others, and every character the
 * pattern names), each tested against the atom with the flags the pattern runs with (folding
 * case widens `a` but narrows `[^a]`).
 */

/** Most ways bounded repetitions that share characters may split a stretch of text. */
export const BOUNDED_CHOICES = 256;

/** A repeated atom (character, class, `.`, escape or repeated group) or a zero-width assertion. */
interface Leaf {
  /** Index of the leaf in pattern order. */
  index: number;
  /** Characters it can match, on the sample alphabet; empty for an assertion. */
  chars: Set<number>;
  min: number;
  max: number;
  /** The groups and alternation branches it sits in, outermost first. */
  within: Scope[];
  /** The atom's source (IMPLICIT for the search from every position; '' for an assertion). */
  source: string;
  /** The atom with its quantifier, for messages. */
  text: string;
}

/**
 * A group (optional when its quantifier allows zero) or one branch of one (optional when the
 * group has others).
 */
interface Scope {
  optional: boolean;
  /** For a branch: the alternation it belongs to. */
  alternation?: object;
}

/** Why `pattern` (with the `i` flag when `ignoreCase`) can take polynomial time, or undefined. */
export function polynomialReason(pattern: string, ignoreCase: boolean): string | undefined {
  const parsed = parse(pattern);
  if (typeof parsed === 'string') return parsed;
  const leaves = parsed;
  const alphabet = sampleAlphabet(pattern);
  for (const leaf of leaves) {
    if (leaf.source !== '') leaf.chars = charsOf(leaf.source, alphabet, ignoreCase);
  }
  // For each repetition: the costliest chain of repetitions ending in it that share characters.
  const chains = new Map<Leaf, { unbounded: number; choices: number; first: Leaf }>();
  for (const j of leaves) {
    if (j.max === j.min) continue;
    let best = { unbounded: 0, choices: 1, first: j };
    for (const [i, chain] of chains) {
      if (!interact(leaves, i, j)) continue;
      if (
        chain.unbounded > best.unbounded ||
        (chain.unbounded === best.unbounded && chain.choices > best.choices)
      ) {
        best = chain;
      }
    }
    const unbounded = j.max === Infinity;
    const chain = {
      unbounded: best.unbounded + (unbounded ? 1 : 0),
      choices: best.choices * (unbounded ? 1 : j.max - j.min + 1),
      first: best.first,
    };
    chains.set(j, chain);
    if (isFinal(leaves, j)) continue;
    if (chain.unbounded >= 2) {
      if (chain.first.source === IMPLICIT) {
        return (
          `can take polynomial time: ${j.text} can start at every position of a text it repeats ` +
          `over and then fail (like \\d+x on a long run of digits); anchor the pattern with ^, or ` +
          `put before ${j.text} a character it cannot match`
        );
      }
      return (
        `can take polynomial time: ${chain.first.text} and ${j.text} can share the same text, ` +
        `with nothing required between them that only one of them matches (like .*a.*b); ` +
        `make the first stop where the second starts (.*a[^a]*b), or test the parts in ` +
        `separate conditions`
      );
    }
    // Beside an unbounded repetition, each choice costs a pass over the text.
    if (chain.choices > (chain.unbounded > 0 ? BOUNDED_CHOICES / 8 : BOUNDED_CHOICES)) {
      return `can take too long: its repetitions up to ${j.text} share characters and multiply into more than ${BOUNDED_CHOICES} ways to split the text`;
    }
  }
  return undefined;
}

/** Whether repetitions i (earlier) and j can share a stretch of text. */
function interact(leaves: Leaf[], i: Leaf, j: Leaf): boolean {
  if (inDifferentBranches(i, j)) return false;
  const shared = new Set([...i.chars].filter((c) => j.chars.has(c)));
  if (shared.size === 0) return false;
  for (let k = i.index + 1; k < j.index; k++) {
    const x = leaves[k];
    if (x.min === 0 || x.source === '' || skippable(x, i, j)) continue;
    if (![...x.chars].some((c) => shared.has(c))) return false;
  }
  return true;
}

/** True when `x` may be left out on a match that uses both i and j. */
function skippable(x: Leaf, i: Leaf, j: Leaf): boolean {
  return x.within.some(
    (scope) => scope.optional && !i.within.includes(scope) && !j.within.includes(scope),
  );
}

function inDifferentBranches(a: Leaf, b: Leaf): boolean {
  return a.within.some(
    (scope) =>
      scope.alternation !== undefined &&
      !b.within.includes(scope) &&
      b.within.some((other) => other.alternation === scope.alternation),
  );
}

/** Nothing after `j` can fail: the match is made once `j` is reached. */
function isFinal(leaves: Leaf[], j: Leaf): boolean {
  for (let k = j.index + 1; k < leaves.length; k++) {
    if (!inDifferentBranches(j, leaves[k])) return false;
  }
  return true;
}

const IMPLICIT = '[\\s\\S]';

/** An open group: its scope, where it starts, its current branch and its first leaf. */
interface OpenGroup {
  scope: Scope;
  start: number;
  branch: Scope;
  lookaround: boolean;
  from: number;
}

/**
 * The leaves of `pattern` in order. Groups repeated more than once are leaves (./safe-regex.ts
 * has made sure they hold neither quantifiers nor alternations); other groups are opened.
 */
function parse(pattern: string): Leaf[] | string {
  const leaves: Leaf[] = [];
  const scopes: Scope[] = [];
  const open: OpenGroup[] = [];
  const top: OpenGroup = {
    scope: { optional: false },
    start: 0,
    branch: { optional: false },
    lookaround: false,
    from: 0,
  };
  top.branch.alternation = top;
  scopes.push(top.branch);
  const leaf = (source: string, min = 1, max = 1, text = source): Leaf => {
    const made = {
      index: 0,
      chars: new Set<number>(),
      min,
      max,
      within: [...scopes],
      source,
      text,
    };
    leaves.push(made);
    return made;
  };
  const branchStart = (at: number) => {
    if (pattern[at] !== '^') leaf(IMPLICIT, 0, Infinity);
  };
  branchStart(0);
  let i = 0;
  let last: Leaf | OpenGroup | undefined;
  while (i < pattern.length) {
    const c = pattern[i];
    const quantifier = readQuantifier(pattern, i);
    if (quantifier) {
      const written = pattern.slice(i, i + quantifier.length);
      i += quantifier.length + (pattern[i + quantifier.length] === '?' ? 1 : 0);
      if (last === undefined) continue;
      if ('scope' in last) {
        if (quantifier.max > 1) {
          // A repeated group becomes one leaf matching any of its characters.
          leaves.splice(last.from);
          const source = pattern.slice(last.start, i - written.length);
          leaf(source, quantifier.min, quantifier.max, source + written);
        } else if (quantifier.min === 0) {
          last.scope.optional = true;
        }
      } else {
        last.min *= quantifier.min;
        last.max = quantifier.max === Infinity ? Infinity : last.max * quantifier.max;
        last.text += written;
      }
      last = undefined;
      continue;
    }
    last = undefined;
    if (c === '(') {
      const group: OpenGroup = {
        scope: { optional: false },
        start: i,
        branch: { optional: false },
        lookaround: /^\(\?<?[=!]/.test(pattern.slice(i, i + 4)),
        from: leaves.length,
      };
      group.branch.alternation = group;
      open.push(group);
      scopes.push(group.scope, group.branch);
      i += pattern.startsWith('(?', i) ? groupPrefixLength(pattern, i) : 1;
    } else if (c === ')' && open.length > 0) {
      const group = open.pop()!;
      scopes.splice(scopes.indexOf(group.scope));
      i += 1;
      if (!group.lookaround) {
        last = group;
        continue;
      }
      if (leaves.slice(group.from).some((l) => l.max === Infinity)) {
        return 'repeats without bound inside a lookaround, which can take polynomial time';
      }
      leaves.splice(group.from);
      leaf('', 0, 1);
    } else if (c === '|') {
      // With a second branch, each branch may be the one not taken.
      const group = open[open.length - 1] ?? top;
      group.branch.optional = true;
      const branch: Scope = { optional: true, alternation: group };
      scopes.splice(scopes.indexOf(group.branch), 1, branch);
      group.branch = branch;
      i += 1;
      if (open.length === 0) branchStart(i);
    } else if (c === '^' || c === '$') {
      leaf('');
      i += 1;
    } else {
      const source = pattern.slice(i, i + atomLength(pattern, i));
      i += source.length;
      if (/^\\[bB]$/.test(source)) leaf('');
      else last = leaf(source);
    }
  }
  leaves.forEach((l, index) => (l.index = index));
  return leaves;
}

/** Length of the atom at `i`: a class, an escape (`\x41`, `\u{1F600}`, `\cA`) or one character. */
function atomLength(pattern: string, i: number): number {
  if (pattern[i] === '[') return skipClass(pattern, i) - i;
  if (pattern[i] !== '\\') return 1;
  const escape = /^\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]+\}|c[A-Za-z]|[\s\S])/.exec(
    pattern.slice(i, i + 12),
  );
  return escape ? escape[0].length : 1;
}

/** Index after the character class starting at `start` (`[` … `]`, escapes honoured). */
export function skipClass(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i += 1;
  if (pattern[i] === ']') i += 1; // a leading `]` is literal
  while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Length of `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!` or `(?<name>`. */
export function groupPrefixLength(pattern: string, start: number): number {
  const named = /^\(\?<[A-Za-z_$][\w$]*>/.exec(pattern.slice(start));
  if (named) return named[0].length;
  return pattern.startsWith('(?<', start) ? 4 : 3;
}

/** The quantifier at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`) and its length, if any. */
export function readQuantifier(
  pattern: string,
  i: number,
): { min: number; max: number; length: number } | undefined {
  const c = pattern[i];
  if (c === '*') return { min: 0, max: Infinity, length: 1 };
  if (c === '+') return { min: 1, max: Infinity, length: 1 };
  if (c === '?') return { min: 0, max: 1, length: 1 };
  if (c !== '{') return undefined;
  const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : match[3] ? Number(match[3]) : Infinity;
  return { min, max, length: match[0].length };
}

/** ASCII, some characters beyond it, and every character the pattern writes. */
function sampleAlphabet(pattern: string): number[] {
  const codes = new Set<number>();
  for (let c = 0; c < 128; c++) codes.add(c);
  for (const c of [0xa0, 0xe9, 0x130, 0x17f, 0x3b1, 0x2028, 0x212a, 0xfeff, 0xfffd]) codes.add(c);
  for (const ch of pattern) codes.add(ch.codePointAt(0)!);
  return [...codes];
}

/** The sample characters that the atom `source` matches (a repeated group: any of its atoms). */
function charsOf(source: string, alphabet: number[], ignoreCase: boolean): Set<number> {
  if (source === IMPLICIT) return new Set(alphabet);
  const tests = atomsOf(source).map((atom) => {
    try {
      return new RegExp(`^(?:${atom})$`, ignoreCase ? 'i' : '');
    } catch {
      return /^[\s\S]$/;
    }
  });
  const chars = new Set<number>();
  for (const code of alphabet) {
    const ch = String.fromCodePoint(code);
    if (tests.some((test) => test.test(ch))) chars.add(code);
  }
  return chars;
}

/** The atoms of a repeated group `(…)`, or the atom itself. */
function atomsOf(source: string): string[] {
  if (!source.startsWith('(')) return [source];
  const inside = source.slice(source.startsWith('(?') ? groupPrefixLength(source, 0) : 1, -1);
  const atoms: string[] = [];
  for (let k = 0; k < inside.length;) {
    const atom = inside.slice(k, k + atomLength(inside, k));
    k += atom.length;
    if (atom.length > 1 || !'()|^$*+?{}'.includes(atom)) atoms.push(atom);
  }
  return atoms.length > 0 ? atoms : [IMPLICIT];
}
