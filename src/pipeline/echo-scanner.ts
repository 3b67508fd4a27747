/**
 * One pass over a body that replaces every echo of a set of secrets (./echo-forms.ts) with the
 * redaction marker. Each pattern byte is accepted as itself (in either case for `anyCase`
 * patterns), percent-encoded (`%hh`, either hex case) and, for a space, as `+`. At one position
 * the longest echo wins; scanning goes on after it.
 *
 * Kept fast by trying patterns only where an echo can begin: where the lower-cased body holds a
 * pattern's lower-cased text (found by the engine's native string search), and within one
 * pattern's reach before a `%` (or a `+`, when a secret holds a space). Everywhere else no
 * pattern can match, so the result is that of trying every position.
 *
 * For a stream, an echo may be cut by a chunk boundary: a position where some pattern is still
 * matching when the bytes run out is pending, and everything from the first pending position on
 * is held back for the next chunk. So output is never delayed by more than an echo could still
 * span (at most three bytes per pattern byte, less one), and a stream gives the same bytes as
 * the whole body at once.
 */
import { BoundedMemo } from '../bounded-memo';
import { echoPatterns, type EchoPattern } from './echo-forms';

/** What an echo is replaced with. */
export const REDACTED = '[REDACTED]';
const MARKER = Buffer.from(REDACTED);

const PERCENT = 0x25;
const PLUS = 0x2b;
const SPACE = 0x20;
const NO_MATCH = -1;
const PENDING = -2;

/** ASCII upper case to lower case; every other byte to itself. */
const FOLD = new Uint8Array(256).map((_, byte) =>
  byte >= 0x41 && byte <= 0x5a ? byte + 32 : byte,
);
/** ASCII lower case to upper case; every other byte to itself. */
const UPPER = new Uint8Array(256).map((_, byte) =>
  byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte,
);
/** The value of a hex digit, or 16 for any other byte. */
const HEX = new Uint8Array(256).fill(16);
for (let digit = 0; digit < 16; digit++) {
  HEX['0123456789abcdef'.charCodeAt(digit)] = digit;
  HEX['0123456789ABCDEF'.charCodeAt(digit)] = digit;
}

export interface ScanResult {
  /** The bytes that may go out now, echoes replaced by the marker. */
  out: Buffer[];
  /** The bytes held back: an echo may begin there and go on in the next chunk. */
  rest: Buffer;
  /** Whether any echo was replaced. */
  replaced: boolean;
}

export class EchoScanner {
  /** For each byte, the patterns that can begin with it; undefined for most bytes. */
  private readonly starts: Array<EchoPattern[] | undefined> = new Array(256).fill(undefined);
  /** Lower-cased (latin1) texts, one of which begins every literal echo of every pattern. */
  private readonly anchors: string[];
  /** Bytes that begin an encoded pattern byte: `%`, and `+` when a pattern holds a space. */
  private readonly encodingBytes: number[] = [PERCENT];
  /** The most bytes one echo can span. */
  private readonly reach: number;
  /** Bytes some pattern holds (in either case where case does not count): worth a `%hh`. */
  private readonly held = new Uint8Array(256);

  constructor(patterns: readonly EchoPattern[]) {
    const startWith = (byte: number, pattern: EchoPattern): void => {
      const list = (this.starts[byte] ??= []);
      if (!list.includes(pattern)) list.push(pattern);
    };
    for (const pattern of patterns) {
      const first = pattern.bytes[0];
      startWith(first, pattern);
      startWith(PERCENT, pattern);
      if (pattern.anyCase) {
        startWith(FOLD[first], pattern);
        startWith(UPPER[first], pattern);
      }
      if (first === SPACE) startWith(PLUS, pattern);
    }
    for (const { bytes, anyCase } of patterns) {
      for (const byte of bytes) {
        this.held[byte] = 1;
        if (anyCase) this.held[FOLD[byte]] = this.held[UPPER[byte]] = 1;
      }
    }
    if (this.held[SPACE]) this.encodingBytes.push(PLUS);
    this.reach = 3 * Math.max(1, ...patterns.map((pattern) => pattern.bytes.length));
    // A text that begins with another anchor needs no search of its own.
    const texts = [...new Set(patterns.map((p) => p.bytes.toString('latin1').toLowerCase()))];
    this.anchors = texts.filter(
      (text) => !texts.some((other) => other !== text && text.startsWith(other)),
    );
  }

  /**
   * `buffer` with every echo replaced. Unless `final` (the whole body, or its last bytes), the
   * bytes from the first position where an echo may continue past the end are returned as
   * `rest`, to be scanned again with the next chunk.
   */
  scan(buffer: Buffer, final: boolean): ScanResult {
    const out: Buffer[] = [];
    const length = buffer.length;
    const spans = this.spansToTry(buffer, final);
    let emitted = 0;
    let position = 0;
    let pendingAt = length;
    scanning: for (const [from, to] of spans) {
      if (position < from) position = from;
      while (position < to) {
        const candidates = this.starts[buffer[position]];
        if (candidates !== undefined) {
          let end = NO_MATCH;
          for (const pattern of candidates) {
            const found = matchAt(buffer, position, pattern, final);
            if (found === PENDING) {
              pendingAt = position;
              break scanning;
            }
            if (found > end) end = found;
          }
          if (end !== NO_MATCH) {
            out.push(buffer.subarray(emitted, position), MARKER);
            emitted = position = end;
            continue;
          }
        }
        position++;
      }
    }
    const replaced = out.length > 0;
    out.push(buffer.subarray(emitted, pendingAt));
    return { out, rest: buffer.subarray(pendingAt), replaced };
  }

  /**
   * Whether `text` (latin1 characters only) may hold an echo: false when scan() would find no
   * place to try, that is no anchor in it and no byte that may begin an encoded one.
   */
  mayHold(text: string): boolean {
    for (const byte of this.encodingBytes)
      if (text.includes(String.fromCharCode(byte))) return true;
    const lower = text.toLowerCase();
    return this.anchors.some((anchor) => lower.includes(anchor));
  }

  /** Whether the `%` at `at` may stand for a byte of some pattern (or is cut short). */
  private mayEncodeHeldByte(buffer: Buffer, at: number): boolean {
    if (at + 2 >= buffer.length) return true;
    const high = HEX[buffer[at + 1]];
    const low = HEX[buffer[at + 2]];
    return high < 16 && low < 16 && this.held[high * 16 + low] === 1;
  }

  /** Where an echo may begin, as sorted, disjoint [from, to) spans of `buffer`. */
  private spansToTry(buffer: Buffer, final: boolean): Array<[number, number]> {
    const spans: Array<[number, number]> = [];
    const text = buffer.toString('latin1').toLowerCase();
    for (const anchor of this.anchors) {
      for (let at = text.indexOf(anchor); at >= 0; at = text.indexOf(anchor, at + 1)) {
        spans.push([at, at + 1]);
      }
    }
    for (const byte of this.encodingBytes) {
      for (let at = buffer.indexOf(byte); at >= 0; at = buffer.indexOf(byte, at + 1)) {
        if (byte === PERCENT && !this.mayEncodeHeldByte(buffer, at)) continue;
        spans.push([Math.max(0, at - this.reach + 1), at + 1]);
      }
    }
    if (!final) spans.push([Math.max(0, buffer.length - this.reach + 1), buffer.length]);
    if (spans.length < 2) return spans;
    spans.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [spans[0]];
    for (const span of spans) {
      const last = merged[merged.length - 1];
      if (span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
      else merged.push(span);
    }
    return merged;
  }
}

/**
 * Where an echo of `pattern` starting at `start` ends (the longest one), NO_MATCH, or PENDING
 * when the bytes ran out while it could still match (never when `final`). A pattern byte `%`
 * met as `%25` can be read two ways; only then is a second path followed.
 */
function matchAt(buffer: Buffer, start: number, pattern: EchoPattern, final: boolean): number {
  const { bytes, anyCase } = pattern;
  const size = bytes.length;
  const length = buffer.length;
  let best = NO_MATCH;
  let pending = false;
  let forks: number[] | undefined;
  let forked: Set<number> | undefined;
  let position = start;
  let index = 0;
  for (;;) {
    let alive = true;
    while (index < size) {
      if (position >= length) {
        pending = true;
        alive = false;
        break;
      }
      const want = bytes[index];
      const got = buffer[position];
      const literal = got === want || (anyCase && FOLD[got] === FOLD[want]);
      if (got === PERCENT) {
        const encoded = encodedByteAt(buffer, position, want, anyCase);
        if (encoded === PENDING) pending = true;
        if (encoded === 3) {
          if (literal) {
            // `%25` for a pattern `%`: also try the `%` alone, once per place.
            const key = (position + 1 - start) * (size + 1) + index + 1;
            forked ??= new Set();
            if (!forked.has(key)) {
              forked.add(key);
              (forks ??= []).push(position + 1, index + 1);
            }
          }
          position += 3;
          index++;
          continue;
        }
      }
      if (literal || (want === SPACE && got === PLUS)) {
        position++;
        index++;
        continue;
      }
      alive = false;
      break;
    }
    if (alive && position > best) best = position;
    if (forks === undefined || forks.length === 0) break;
    index = forks.pop()!;
    position = forks.pop()!;
  }
  if (pending && !final) return PENDING;
  return best;
}

/** 3 when `%hh` at `position` encodes `want`, PENDING when cut short, else NO_MATCH. */
function encodedByteAt(buffer: Buffer, position: number, want: number, anyCase: boolean): number {
  if (position + 2 >= buffer.length) {
    const high = position + 1 < buffer.length ? HEX[buffer[position + 1]] : 0;
    return high < 16 ? PENDING : NO_MATCH;
  }
  const high = HEX[buffer[position + 1]];
  const low = HEX[buffer[position + 2]];
  if (high > 15 || low > 15) return NO_MATCH;
  const byte = high * 16 + low;
  return byte === want || (anyCase && FOLD[byte] === FOLD[want]) ? 3 : NO_MATCH;
}

const scanners = new BoundedMemo<string, EchoScanner>(256);

/** The scanner for `secrets` (values, as redactionSecrets gives them), built once per set. */
export function echoScanner(secrets: readonly string[]): EchoScanner {
  return scanners.get(secrets.join('\0'), () => {
    const patterns = new Set<EchoPattern>();
    for (const secret of secrets) for (const pattern of echoPatterns(secret)) patterns.add(pattern);
    return new EchoScanner([...patterns]);
  });
}
