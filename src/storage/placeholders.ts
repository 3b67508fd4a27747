/**
 * SQL is written once with PostgreSQL placeholders (`$1`, `$2`, …). SQLite understands `?NNN`,
 * which binds by number just like `$NNN` (repeats and any order work), so the translation is a
 * rename. `$` inside string literals, quoted identifiers, comments and identifiers (`a$1`) is
 * left alone.
 */

export interface TranslatedSql {
  sql: string;
  /** Highest placeholder number used; the statement takes exactly this many parameters. */
  parameterCount: number;
}

export function toSqlitePlaceholders(sql: string): TranslatedSql {
  let out = '';
  let highest = 0;
  const used = new Set<number>();
  let i = 0;
  while (i < sql.length) {
    const char = sql[i];
    const skipTo = endOfSkippedRegion(sql, i);
    if (skipTo > i) {
      out += sql.slice(i, skipTo);
      i = skipTo;
      continue;
    }
    if (char === '$' && !isIdentifierChar(sql[i - 1]) && isDigit(sql[i + 1])) {
      let end = i + 1;
      while (isDigit(sql[end])) end += 1;
      const index = Number(sql.slice(i + 1, end));
      if (index < 1)
        throw new Error(`SQL placeholder $${index} is invalid; placeholders start at $1`);
      used.add(index);
      highest = Math.max(highest, index);
      out += `?${index}`;
      i = end;
      continue;
    }
    out += char;
    i += 1;
  }
  for (let n = 1; n <= highest; n += 1) {
    // PostgreSQL refuses a gap too ("could not determine data type of parameter"); say it early.
    if (!used.has(n))
      throw new Error(
        `SQL uses $${highest} but not $${n}; placeholders must be numbered from $1 without gaps`,
      );
  }
  return { sql: out, parameterCount: highest };
}

/** If a literal, quoted identifier or comment starts at `i`, the index just after it; else `i`. */
function endOfSkippedRegion(sql: string, i: number): number {
  const char = sql[i];
  if (char === "'" || char === '"') {
    // A doubled quote inside ('it''s') closes and reopens, which this loop handles naturally.
    const close = sql.indexOf(char, i + 1);
    return close < 0 ? sql.length : close + 1;
  }
  if (char === '-' && sql[i + 1] === '-') {
    const newline = sql.indexOf('\n', i + 2);
    return newline < 0 ? sql.length : newline + 1;
  }
  if (char === '/' && sql[i + 1] === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close < 0 ? sql.length : close + 2;
  }
  return i;
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function isIdentifierChar(char: string | undefined): boolean {
  return char !== undefined && /[A-Za-z0-9_$]/.test(char);
}
