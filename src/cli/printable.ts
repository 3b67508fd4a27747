/**
 * Text an agent chose, made safe to print on a terminal: control characters (C0 but tab and
 * newlines, DEL, C1 such as CSI U+009B), bidi embeddings, overrides and isolates, and invisible
 * characters are shown as `[U+XXXX]`. Escape sequences cannot rewrite what the approver reads,
 * and `"\u202E0001"` cannot pass for `1000`. (The web UI does the same in ui/src/visible.ts.)
 */
const HIDDEN_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0x08],
  [0x0b, 0x0c],
  [0x0e, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x061c, 0x061c],
  [0x180e, 0x180e],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffb],
];

function hidden(code: number): boolean {
  return HIDDEN_RANGES.some(([from, to]) => code >= from && code <= to);
}

export function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += hidden(code) ? `[U+${code.toString(16).toUpperCase().padStart(4, '0')}]` : ch;
  }
  return out;
}
