/**
 * Where a JSON text is broken, and why. JSON.parse on Node 20 often says neither ("Unexpected
 * token '}', …"), and a policy author needs the line and column, so a failed parse is scanned
 * again by this small checker of the JSON grammar, which stops at the first error.
 */

export interface JsonErrorLocation {
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** The first syntax error in `text` (undefined when it is valid JSON). */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  let offset: number;
  let message: string;
  try {
    scan(text);
    return undefined;
  } catch (err) {
    if (err instanceof Stop) {
      offset = err.offset;
      message = err.message;
    } else {
      offset = text.length; // nested too deep for this scanner
      message = 'the document is nested too deeply';
    }
  }
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1, message };
}

function scan(text: string): void {
  let i = 0;
  const found = () => {
    if (i >= text.length) return 'the end of the file';
    return text[i] < ' ' ? JSON.stringify(text[i]) : `'${text[i]}'`;
  };
  const fail = (message: string): never => {
    throw new Stop(i, message);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (char: string, after: string) => {
    if (text[i] !== char) fail(`expected '${char}' ${after}, found ${found()}`);
    i++;
  };

  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
          continue;
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) fail('invalid escape in a string');
        i += 2;
        continue;
      }
      if (c < ' ') fail('a line break or control character inside a string (write \\n)');
      i++;
    }
    fail('a string is not closed (missing ")');
  };

  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) {
      const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      number.lastIndex = i;
      if (!number.test(text)) fail('invalid number');
      i = number.lastIndex;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail(`expected a value, found ${found()}`);
  };

  /** An object's members or an array's elements, each read by `entry`, up to `close`. */
  const entries = (close: '}' | ']', entry: () => void, what: string) => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      entry();
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      expect(',', `or '${close}' after ${what}`);
      space();
      if (text[i] === close) fail(`a comma before '${close}' (JSON allows no trailing comma)`);
    }
  };

  const member = () => {
    space();
    if (text[i] !== '"') fail(`expected a property name in double quotes, found ${found()}`);
    string();
    space();
    expect(':', 'after a property name');
    value();
  };

  const object = () => entries('}', member, 'a property value');
  const array = () => entries(']', value, 'a list element');

  value();
  space();
  if (i < text.length) fail(`unexpected ${found()} after the JSON value`);
}
