import { toSqlitePlaceholders } from '../../src/storage/placeholders';

describe('toSqlitePlaceholders', () => {
  it.each([
    ['SELECT * FROM t WHERE a = $1', 'SELECT * FROM t WHERE a = ?1', 1],
    [
      'INSERT INTO t (a, b, c) VALUES ($2, $1, $2)',
      'INSERT INTO t (a, b, c) VALUES (?2, ?1, ?2)',
      2,
    ],
    [
      'SELECT $10, $1, $2, $3, $4, $5, $6, $7, $8, $9',
      'SELECT ?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9',
      10,
    ],
    ['SELECT 1', 'SELECT 1', 0],
    ["SELECT '$1', 'it''s $2', $1", "SELECT '$1', 'it''s $2', ?1", 1],
    ['SELECT "col$1", a$1, $1 FROM t', 'SELECT "col$1", a$1, ?1 FROM t', 1],
    ['SELECT $1 -- not $2\n, /* nor $3 */ $2', 'SELECT ?1 -- not $2\n, /* nor $3 */ ?2', 2],
    ['SELECT $1+$2', 'SELECT ?1+?2', 2],
    ['SELECT price$ FROM t WHERE x = $1', 'SELECT price$ FROM t WHERE x = ?1', 1],
  ])('%j', (sql, translated, parameterCount) => {
    expect(toSqlitePlaceholders(sql)).toEqual({ sql: translated, parameterCount });
  });

  it('refuses $0 and gaps, as PostgreSQL would', () => {
    expect(() => toSqlitePlaceholders('SELECT $0')).toThrow(/start at \$1/);
    expect(() => toSqlitePlaceholders('SELECT $1, $3')).toThrow(/uses \$3 but not \$2/);
  });

  it('leaves an unterminated literal or comment as it is', () => {
    expect(toSqlitePlaceholders("SELECT $1, 'open $2").sql).toBe("SELECT ?1, 'open $2");
    expect(toSqlitePlaceholders('SELECT $1 /* open $2').sql).toBe('SELECT ?1 /* open $2');
  });
});
