/**
 * What the approval webhook sends: the generic JSON body or a Slack incoming-webhook message for
 * one ApprovalEvent, and the HMAC signature over it (docs/approvals.md, "Webhook"). Pure
 * functions; src/approvals/webhook.ts queues, signs and delivers.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Approval, ApprovalEvent } from './types';

export type WebhookFormat = 'generic' | 'slack';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['generic', 'slack'];

/** The link to an approval in the UI, or undefined without a link base. */
export function approvalLink(linkBase: string | undefined, id: string): string | undefined {
  if (!linkBase) return undefined;
  return `${linkBase.replace(/\/+$/, '')}/ui/approvals/${encodeURIComponent(id)}`;
}

/** The request body for `event` in `format`, as the exact bytes that are signed and sent. */
export function webhookBody(
  format: WebhookFormat,
  event: ApprovalEvent,
  link: string | undefined,
): string {
  if (format === 'slack') return JSON.stringify(slackMessage(event, link));
  const body: Record<string, unknown> = {
    type: `approval.${event.type}`,
    at: event.at,
    approval: event.approval,
  };
  if (link !== undefined) body.link = link;
  return JSON.stringify(body);
}

/** `sha256=` and the lower-hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`. */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  const hmac = createHmac('sha256', secret).update(`${timestamp}.`).update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * For receivers: true when `signature` is the signature of `body` sent at `timestamp` (unix
 * seconds, the X-Vectra-Timestamp header) under `secret`, and the timestamp is within
 * `toleranceSeconds` of `nowSeconds` (a replayed old delivery fails). Compares in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number,
  body: string | Buffer,
  signature: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (!secret) return false;
  const text = String(timestamp);
  if (!/^\d{1,12}$/.test(text)) return false;
  if (Math.abs(nowSeconds - Number(text)) > toleranceSeconds) return false;
  if (!/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
  const hmac = createHmac('sha256', secret).update(`${text}.`).update(body);
  const expected = Buffer.from(`sha256=${hmac.digest('hex')}`);
  return timingSafeEqual(expected, Buffer.from(signature));
}

/** Slack's mrkdwn control characters, escaped so request text cannot forge links or mentions. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface SlackBlock {
  type: string;
  [field: string]: unknown;
}

/** An incoming-webhook message: a one-line `text` fallback and blocks with the detail. */
export function slackMessage(
  event: ApprovalEvent,
  link: string | undefined,
): { text: string; blocks: SlackBlock[] } {
  const a = event.approval;
  const { headline, detail } = describe(event, MRKDWN);
  const blocks: SlackBlock[] = [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: detail ? `${headline}\n${detail}` : headline },
    },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `approval ${escapeSlack(a.id)} · ${when(event)}` }],
    },
  ];
  if (link !== undefined) {
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Open approval' }, url: link },
      ],
    });
  }
  // The fallback shown in notifications: the headline without emphasis.
  return { text: describe(event, PLAIN).headline, blocks };
}

/** How user text is set: escaped always, emphasised only in the blocks. */
interface Style {
  bold(text: string): string;
  code(text: string): string;
}

const MRKDWN: Style = {
  bold: (text) => `*${escapeSlack(text)}*`,
  // A glob's `*` would end a bold run; a code span shows it as is.
  code: (text) => `\`${escapeSlack(text.replace(/`/g, "'"))}\``,
};
const PLAIN: Style = { bold: escapeSlack, code: escapeSlack };

/** The headline (one line) and the detail lines of an event. */
function describe(event: ApprovalEvent, style: Style): { headline: string; detail: string } {
  const a = event.approval;
  const { bold } = style;
  const agent = bold(a.agent);
  const request = bold(`${a.method} ${a.url}`);
  const vault = bold(a.vault);
  const decider = a.decidedBy ? bold(a.decidedBy.name) : 'someone';
  const comment = a.comment ? escapeSlack(a.comment) : '';
  switch (event.type) {
    case 'created':
      return {
        headline: `Approval needed: ${agent} wants ${request} in vault ${vault}`,
        detail: escapeSlack(a.explanation),
      };
    case 'approved':
      return {
        headline: `${decider} approved ${agent}'s ${request} in vault ${vault} (${scope(a, style)})`,
        detail: comment ? `Comment: ${comment}` : '',
      };
    case 'denied':
      return {
        headline: `${decider} denied ${agent}'s ${request} in vault ${vault}`,
        detail: comment ? `Reason: ${comment}` : '',
      };
    case 'expired':
      return {
        headline: `Approval expired undecided: ${agent}'s ${request} in vault ${vault}`,
        detail: '',
      };
    case 'used':
      return {
        headline: `Approved request sent: ${agent}'s ${request} in vault ${vault}`,
        detail: '',
      };
    case 'revoked':
      return {
        headline: `Standing approval revoked: ${agent}'s ${request} in vault ${vault} (${scope(a, style)})`,
        detail: '',
      };
  }
}

function scope(a: Approval, style: Style): string {
  const pattern = a.pathPattern ? ` for paths ${style.code(a.pathPattern)}` : '';
  switch (a.scope) {
    case 'session':
      return `scope session${pattern}${a.standingUntil ? ` until ${utc(a.standingUntil)}` : ''}`;
    case 'always':
      return `scope always${pattern}`;
    default:
      return 'scope once';
  }
}

/** The context line's time: when a pending approval expires, or when the event happened. */
function when(event: ApprovalEvent): string {
  if (event.type === 'created') return `expires ${utc(event.approval.expiresAt)}`;
  return `${event.type} ${utc(event.at)}`;
}

/** `2024-05-01 12:00:00 UTC` for an ISO time; anything unparseable escaped as is. */
function utc(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return escapeSlack(iso);
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
