/**
 * The approval webhook (HumanInTheLoop.NotificationWebhookUrl): tells a receiver about every new
 * approval and every decision, as generic JSON or a Slack message, signed with
 * HumanInTheLoop.WebhookSecret (docs/approvals.md, "Webhook").
 *
 * `notify` only queues, so the request path never waits on the receiver. One delivery is in
 * flight at a time, in order; network errors, timeouts, 429 and 5xx are retried with doubling
 * delays, any other answer is final. Each attempt resolves the host through the SSRF guard and
 * dials the address it checked (no second DNS lookup); a blocked host is never retried.
 *
 * The URL is a secret (Slack's carries a token in the path): it is never logged, and neither is
 * an error's message, which might quote it. Log lines name the origin and a reason we wrote.
 */
import { randomUUID } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { request as httpRequest, type ClientRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isGatewayError } from '../errors';
import type { Logger } from '../observability/types';
import type { Timers } from '../timers';
import type { ApprovalEvent } from './types';
import {
  checkedLookup,
  classifyStatus,
  configProblem,
  loadSecureContext,
  networkReason,
  nonNegative,
  parseTarget,
  positiveInt,
  type Outcome,
} from './webhook-target';
import {
  approvalLink,
  signWebhook,
  webhookBody,
  WEBHOOK_FORMATS,
  type WebhookFormat,
} from './webhook-message';

export { verifyWebhookSignature } from './webhook-message';

/** What the webhook needs of the SSRF guard (src/proxy/ssrf-guard.ts's SsrfGuard has it). */
export interface WebhookGuard {
  /** The host's addresses, all checked; rejects with VEC_UPSTREAM_BLOCKED for a blocked one. */
  resolve(host: string): Promise<string[]>;
}

export interface ApprovalWebhookOptions {
  /** HumanInTheLoop.NotificationWebhookUrl, http or https. A secret: only its origin is logged. */
  url: string;
  /** HumanInTheLoop.WebhookSecret; '' sends unsigned requests. */
  secret: string;
  /** HumanInTheLoop.WebhookFormat. */
  format: WebhookFormat;
  /** Base of the link to an approval (`${linkBase}/ui/approvals/${id}`); absent: no link. */
  linkBase?: string;
  guard: WebhookGuard;
  logger: Logger;
  /** Attempts per event, the first included. Default 5. */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one. Default 1000. */
  backoffMs?: number;
  /** Spread each delay over 50–100 % of its value, so replicas do not retry in step. Default true. */
  jitter?: boolean;
  /** Time allowed per attempt, until the whole answer arrived. Default 10 000. */
  timeoutMs?: number;
  /** Events waiting beyond the one in flight; a further one drops the oldest. Default 1000. */
  maxQueued?: number;
  /** How long `close` waits for an attempt in flight before abandoning it. Default 2000. */
  closeWaitMs?: number;
  /** Clock for the X-Vectra-Timestamp header. */
  now?: () => number;
  timers?: Timers;
  /** PEM file of extra CA certificates trusted for an https receiver (besides the bundled roots). */
  caFile?: string;
  /** The same as PEM text. */
  ca?: string;
}

export interface ApprovalWebhook {
  /** Queues `event` for delivery. Never throws and never waits. */
  notify(event: ApprovalEvent): void;
  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void>;
  /** Stops delivering: queued events are dropped (and counted in a log line). */
  close(): Promise<void>;
}

interface Job {
  type: string;
  approval: string;
  /** Stays the same across retries, so a receiver can drop a duplicate. */
  delivery: string;
  body: string;
}

const FORMAT_KEY = 'HumanInTheLoop.WebhookFormat';
/** The answer's body is read and discarded, but not without end. */
const MAX_ANSWER_BYTES = 64 * 1024;

const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function createApprovalWebhook(options: ApprovalWebhookOptions): ApprovalWebhook {
  const target = parseTarget(options.url);
  if (!WEBHOOK_FORMATS.includes(options.format)) {
    throw configProblem(FORMAT_KEY, String(options.format), `must be one of ${WEBHOOK_FORMATS}`);
  }
  const attempts = positiveInt('attempts', options.attempts ?? 5);
  const backoffMs = nonNegative('backoffMs', options.backoffMs ?? 1000);
  const timeoutMs = positiveInt('timeoutMs', options.timeoutMs ?? 10_000);
  const maxQueued = positiveInt('maxQueued', options.maxQueued ?? 1000);
  const closeWaitMs = nonNegative('closeWaitMs', options.closeWaitMs ?? 2000);
  const jitter = options.jitter ?? true;
  const now = options.now ?? Date.now;
  const timers = options.timers ?? systemTimers;
  const secureContext = target.https ? loadSecureContext(options) : undefined;
  const { secret, format, guard, linkBase } = options;
  const log = options.logger.child({ component: 'approvals', webhook: target.origin });

  const queue: Job[] = [];
  const idleWaiters: Array<() => void> = [];
  let running = false;
  let closed = false;
  let inFlight: { req?: ClientRequest; done: Promise<unknown> } | undefined;
  let backoff: { handle: unknown; wake: () => void } | undefined;

  function notify(event: ApprovalEvent): void {
    try {
      if (closed) {
        log.warn('approval webhook closed; event not sent', describeEvent(event));
        return;
      }
      const link = approvalLink(linkBase, event.approval.id);
      queue.push({
        type: `approval.${event.type}`,
        approval: event.approval.id,
        delivery: randomUUID(),
        body: webhookBody(format, event, link),
      });
      if (queue.length > maxQueued) {
        const dropped = queue.shift()!;
        log.warn('approval webhook queue full; oldest event dropped', {
          ...jobMeta(dropped),
          maxQueued,
        });
      }
      if (!running) {
        running = true;
        void drain();
      }
    } catch (error) {
      log.error('approval webhook could not queue an event', {
        ...describeEvent(event),
        reason: error instanceof Error ? error.name : 'unknown',
      });
    }
  }

  async function drain(): Promise<void> {
    while (!closed && queue.length > 0) {
      const job = queue.shift()!;
      try {
        await deliver(job);
      } catch (error) {
        log.error('approval webhook delivery failed unexpectedly; event dropped', {
          ...jobMeta(job),
          reason: error instanceof Error ? error.name : 'unknown',
        });
      }
    }
    running = false;
    for (const wake of idleWaiters.splice(0)) wake();
  }

  async function deliver(job: Job): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const pending = attemptOnce(job);
      inFlight = { done: pending };
      const outcome = await pending.finally(() => (inFlight = undefined));
      const meta = { ...jobMeta(job), attempt };
      if (outcome.kind === 'delivered') {
        log.debug('approval webhook delivered', { ...meta, status: outcome.status });
        return;
      }
      if (outcome.kind === 'blocked') {
        log.error('approval webhook destination blocked by the SSRF guard; event dropped', {
          ...meta,
          reason: outcome.reason,
        });
        return;
      }
      const failure = { ...meta, reason: outcome.reason, status: outcome.status };
      if (outcome.kind === 'final') {
        log.error('approval webhook receiver refused the event; not retried', failure);
        return;
      }
      if (closed) {
        log.warn('approval webhook closed; event not delivered', failure);
        return;
      }
      if (attempt >= attempts) {
        log.error(`approval webhook failed ${attempts} times; event dropped`, failure);
        return;
      }
      const delayMs = retryDelay(attempt);
      log.warn('approval webhook delivery failed; retrying', { ...failure, retryInMs: delayMs });
      await sleep(delayMs);
      if (closed) {
        log.warn('approval webhook closed; event not delivered', failure);
        return;
      }
    }
  }

  function retryDelay(attempt: number): number {
    const base = backoffMs * 2 ** (attempt - 1);
    return Math.round(jitter ? base * (0.5 + Math.random() / 2) : base);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        backoff = undefined;
        resolve();
      };
      backoff = { handle: timers.setTimeout(wake, ms), wake };
    });
  }

  async function attemptOnce(job: Job): Promise<Outcome> {
    let addresses: string[];
    try {
      addresses = await guard.resolve(target.hostname);
    } catch (error) {
      if (isGatewayError(error) && error.code === 'VEC_UPSTREAM_BLOCKED') {
        return { kind: 'blocked', reason: String(error.context.addressKind ?? 'blocked address') };
      }
      return { kind: 'retry', reason: 'the host could not be resolved' };
    }
    if (closed) return { kind: 'retry', reason: 'closed' };
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(job.body)),
      'user-agent': 'vectra-webhook',
      'x-vectra-event': job.type,
      'x-vectra-delivery': job.delivery,
    };
    if (secret) {
      const timestamp = Math.floor(now() / 1000);
      headers['x-vectra-timestamp'] = String(timestamp);
      headers['x-vectra-signature'] = signWebhook(secret, timestamp, job.body);
    }
    return send(addresses, headers, job.body);
  }

  function send(addresses: string[], headers: Record<string, string>, body: string) {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let timedOut = false;
      const finish = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(timer);
        resolve(outcome);
      };
      const requestOptions: RequestOptions & { secureContext?: SecureContext } = {
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        headers,
        auth: target.auth,
        // A fresh connection per attempt, dialling only the checked addresses.
        agent: false,
        lookup: checkedLookup(addresses),
        ...(secureContext ? { secureContext } : {}),
      };
      const req = (target.https ? httpsRequest : httpRequest)(requestOptions, (res) => {
        const status = res.statusCode ?? 0;
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('error', () => undefined);
        res.on('close', () => finish(classifyStatus(status)));
      });
      if (inFlight) inFlight.req = req;
      const timer = timers.setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (timedOut) finish({ kind: 'retry', reason: `no answer within ${timeoutMs} ms` });
        else if (closed) finish({ kind: 'retry', reason: 'closed' });
        else finish({ kind: 'retry', reason: networkReason(error) });
      });
      req.end(body);
    });
  }

  function idle(): Promise<void> {
    if (!running) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  async function close(): Promise<void> {
    if (closed) return idle();
    closed = true;
    if (queue.length > 0) {
      log.warn('approval webhook closed; queued events not delivered', { dropped: queue.length });
      queue.length = 0;
    }
    if (backoff) {
      timers.clearTimeout(backoff.handle);
      backoff.wake();
    }
    const current = inFlight;
    if (current) {
      let handle: unknown;
      const waited = new Promise<void>((resolve) => {
        handle = timers.setTimeout(resolve, closeWaitMs);
      });
      await Promise.race([current.done, waited]);
      timers.clearTimeout(handle);
      current.req?.destroy();
    }
    await idle();
  }

  return { notify, idle, close };
}

function describeEvent(event: ApprovalEvent): Record<string, unknown> {
  return { event: `approval.${event?.type}`, approval: event?.approval?.id };
}

function jobMeta(job: Job): Record<string, unknown> {
  return { event: job.type, approval: job.approval, delivery: job.delivery };
}
