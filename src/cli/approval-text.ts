/**
 * How `vectra approvals` shows an approval to a person: a table row, every field (`show`), a
 * short block for a new one (`watch`) and one line for what became of it.
 */
import type { Approval, ApprovalEvent } from '../approvals/types';
import { table } from './output';
import { printable } from './printable';

/** `list`: one row per approval; the last column is the expiry while pending, else the decision. */
export function approvalTable(approvals: Approval[]): string {
  const rows = approvals.map((a) => [
    a.id,
    a.status,
    a.agent,
    a.vault,
    a.method,
    a.url,
    a.status === 'pending' || a.status === 'expired' ? a.expiresAt : (a.decidedAt ?? a.expiresAt),
  ]);
  return printable(
    table(['ID', 'STATUS', 'AGENT', 'VAULT', 'METHOD', 'URL', 'EXPIRES/DECIDED'], rows),
  );
}

/** `standing`: what each standing approval lets through, and until when. */
export function standingTable(approvals: Approval[]): string {
  const rows = approvals.map((a) => [
    a.id,
    a.scope ?? '-',
    a.agent,
    a.vault,
    a.method,
    hostPort(a),
    a.pathPattern ?? a.path,
    a.scope === 'always' ? 'revoked' : (a.standingUntil ?? '-'),
    a.decidedBy?.name ?? '-',
  ]);
  return printable(
    table(
      ['ID', 'SCOPE', 'AGENT', 'VAULT', 'METHOD', 'HOST', 'PATH PATTERN', 'UNTIL', 'APPROVED BY'],
      rows,
    ),
  );
}

/** `show`: every field, labelled, the body preview and headers indented below. */
export function approvalDetails(a: Approval): string {
  const lines: Array<[string, string]> = [
    ['approval', a.id],
    ['status', a.status],
    ['agent', a.agent],
    ['vault', a.vault],
    ['service', a.service ?? '-'],
    ['request', `${a.method} ${a.url}`],
    ['why', a.explanation],
  ];
  a.reasons.forEach((reason, i) => lines.push([i === 0 ? 'reasons' : '', `- ${reason}`]));
  if (a.risk !== null) lines.push(['risk', String(a.risk)]);
  lines.push(['created', a.createdAt], ['expires', a.expiresAt]);
  const decision = decisionText(a);
  if (decision) lines.push(['decision', decision]);
  if (a.comment) lines.push([a.status === 'denied' ? 'reason' : 'comment', a.comment]);
  if (a.usedAt) lines.push(['used', a.usedAt]);
  if (a.revokedAt) lines.push(['revoked', a.revokedAt]);
  lines.push(['body', `${a.bodySize} bytes, sha256 ${a.bodySha256}`]);
  const width = Math.max(...lines.map(([label]) => label.length));
  const out = lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  if (a.bodyPreview !== null) {
    out.push('body preview:', ...a.bodyPreview.split('\n').map((line) => `  ${line}`));
  }
  const headers = Object.entries(a.headers);
  if (headers.length > 0) {
    out.push('headers:', ...headers.map(([name, value]) => `  ${name}: ${value}`));
  }
  return printable(out.join('\n'));
}

/** `watch`: a new or pending approval in a few lines. */
export function approvalBlock(a: Approval): string {
  return printable(
    [
      `approval ${a.id} waits for a decision`,
      `  agent    ${a.agent}`,
      `  vault    ${a.vault}`,
      `  request  ${a.method} ${a.url}`,
      `  why      ${a.explanation}`,
      `  expires  ${a.expiresAt}`,
    ].join('\n'),
  );
}

/** `watch`: what became of an approval, in one line. */
export function eventLine(event: ApprovalEvent): string {
  return printable(eventText(event));
}

function eventText(event: ApprovalEvent): string {
  const a = event.approval;
  switch (event.type) {
    case 'approved':
      return `${a.id} approved ${decisionText(a) ?? ''}`.trimEnd() + commentText(a);
    case 'denied':
      return `${a.id} denied by ${a.decidedBy?.name ?? 'someone'}: ${a.comment ?? ''}`;
    case 'expired':
      return `${a.id} expired: nobody decided by ${a.expiresAt}`;
    case 'used':
      return `${a.id} used: the approved ${a.method} ${a.url} went through`;
    case 'revoked':
      return `${a.id} revoked: ${a.method} ${hostPort(a)}${a.pathPattern ?? a.path} needs a human again`;
    case 'created':
      return approvalBlock(a);
  }
}

/** `host`, or `host:port` when the port is not the scheme's default. */
export function hostPort(a: Approval): string {
  const standard =
    (a.scheme === 'https' && a.port === 443) || (a.scheme === 'http' && a.port === 80);
  return standard ? a.host : `${a.host}:${a.port}`;
}

/** `by alice at T, scope session until T2, path /x/*`, or undefined while undecided. */
function decisionText(a: Approval): string | undefined {
  if (!a.decidedBy && !a.decidedAt) return undefined;
  const parts = [`by ${a.decidedBy?.name ?? 'someone'} at ${a.decidedAt ?? '?'}`];
  if (a.scope) {
    const until = a.standingUntil ? ` until ${a.standingUntil}` : '';
    parts.push(`scope ${a.scope}${until}`);
  }
  if (a.pathPattern) parts.push(`path ${a.pathPattern}`);
  return parts.join(', ');
}

function commentText(a: Approval): string {
  return a.comment ? ` (${a.comment})` : '';
}
