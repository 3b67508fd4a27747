/**
 * Text an agent chose (its URL, body, and what policies and scorers said of them) made safe to
 * read: characters that reorder or hide text (bidi overrides and isolates, zero-width and other
 * invisible characters) and control characters but line breaks and tabs are shown as `[U+202E]`,
 * so that what the approver reads is what was sent: `"\u202E0001"` cannot pass for `1000`.
 */
import type { Approval, AuditRow } from './types';

/** Reorders or hides text, or controls a terminal: shown by its code point instead. */
function hidden(code: number): boolean {
  return (
    (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || // C0 but tab and newlines
    (code >= 0x7f && code <= 0x9f) || // DEL, C1
    code === 0xad || // soft hyphen
    code === 0x061c || // Arabic letter mark
    code === 0x180e || // Mongolian vowel separator
    (code >= 0x200b && code <= 0x200f) || // zero-width characters, LRM, RLM
    (code >= 0x2028 && code <= 0x202e) || // line and paragraph separators, bidi embeddings and overrides
    (code >= 0x2060 && code <= 0x206f) || // word joiner, invisible operators, bidi isolates
    code === 0xfeff || // zero-width no-break space
    (code >= 0xfff9 && code <= 0xfffb) // interlinear annotations
  );
}

export function visible(text: string): string;
export function visible(text: string | null): string | null;
export function visible(text: string | null): string | null {
  if (text === null) return null;
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += hidden(code) ? `[U+${code.toString(16).toUpperCase().padStart(4, '0')}]` : ch;
  }
  return out;
}

/** An approval with every field a request could have chosen made visible. */
export function visibleApproval(a: Approval): Approval {
  return {
    ...a,
    agent: visible(a.agent),
    vault: visible(a.vault),
    service: visible(a.service),
    method: visible(a.method),
    url: visible(a.url),
    path: visible(a.path),
    host: visible(a.host),
    bodyPreview: visible(a.bodyPreview),
    explanation: visible(a.explanation),
    reasons: a.reasons.map((reason) => visible(reason)),
    pathPattern: visible(a.pathPattern),
    comment: visible(a.comment),
  };
}

/** An audit row with the fields a request could have chosen made visible. */
export function visibleAuditRow(r: AuditRow): AuditRow {
  return {
    ...r,
    agent: visible(r.agent),
    method: visible(r.method),
    host: visible(r.host),
    path: visible(r.path),
    event: visible(r.event),
  };
}
