/**
 * The plumbing of the admin API's server-sent event streams (the audit log's and the
 * approvals'): the response head, a writer that drops a follower too slow to keep up rather
 * than buffering without bound, a heartbeat comment that keeps proxies from closing an idle
 * stream, and the set of open streams that shutdown ends at once. A stream is authorized when it
 * opens and again before each event and heartbeat: once its admin token is revoked or its web UI
 * session ended, it ends rather than go on serving someone who may no longer read.
 */
import type { Request, RequestHandler, Response } from 'express';
import { GatewayError } from '../../errors';
import type { Logger } from '../../observability/types';
import type { Access, RouteSpec } from './route';

/**
 * Checks a caller's access, as the admin router's authorizer does; `touch: false` for a re-check
 * that must not count as the activity of a web UI session.
 */
export type Authorize = (
  access: Access,
  req: Request,
  options?: { touch?: boolean },
) => Promise<unknown>;

/** Whether the stream's caller may still read it (its token not revoked, its session alive). */
export type StillAllowed = () => Promise<boolean>;

/** A streaming route: documented like the others, served by its own express handler. */
export interface EventStreamRoute {
  /** The route as documented in OpenAPI; the RouteSpec loop must not mount it (see `handler`). */
  readonly doc: RouteSpec;
  /** The express handler, checking access with the router's authorizer. */
  handler(authorize: Authorize): RequestHandler;
  /**
   * Ends every open stream, and any opened later at once: call when shutdown starts, so the
   * listeners need not wait for followers that would never leave by themselves.
   */
  close(): void;
}

/** A GET route any admin role may follow; `serve` runs `follow` for each caller. */
export function eventStreamRoute(
  path: string,
  summary: string,
  heartbeatMs: number,
  serve: (
    req: Request,
    res: Response,
    streams: OpenStreams,
    stillAllowed: StillAllowed,
  ) => Promise<void>,
): EventStreamRoute {
  const streams = new OpenStreams(heartbeatMs);
  const doc: RouteSpec = {
    method: 'get',
    path,
    access: 'any',
    summary,
    handle: async () => {
      throw new GatewayError('VEC_INTERNAL_ERROR', `${path} is served by its own handler`);
    },
  };
  return {
    doc,
    handler(authorize) {
      return async function followStream(req, res) {
        await authorize(doc.access, req);
        const stillAllowed = () =>
          authorize(doc.access, req, { touch: false }).then(
            () => true,
            () => false,
          );
        await serve(req, res, streams, stillAllowed);
      };
    },
    close: () => streams.close(),
  };
}

/** A follower that reads this slowly is disconnected rather than buffered without bound. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** Writes an event stream's head and first comment. */
export function beginEventStream(res: Response): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // A finished stream closes its connection, so shutdown is not held by an idle keep-alive.
    Connection: 'close',
    // nginx and similar buffer responses unless told otherwise.
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 3000\n: connected\n\n');
  // Open for as long as the follower stays: its log lines carry what it follows, not a scope.
  (res.locals.endLogScope as (() => void) | undefined)?.();
}

/** Writes `text` unless the stream ended; disconnects a follower that falls too far behind. */
export function eventWriter(
  res: Response,
  logger: Logger,
  what: string,
  meta: Record<string, unknown> = {},
): (text: string) => void {
  return (text) => {
    if (res.writableEnded) return;
    res.write(text);
    if (res.writableLength > MAX_UNSENT_BYTES) {
      logger.warn(`${what} follower too slow; disconnected`, meta);
      res.destroy();
    }
  };
}

/**
 * Writes each text only once `stillAllowed` confirmed, after it was queued, that the follower
 * may still read; ends the stream instead when not. One check at a time: texts queued while
 * one runs wait for the next, so a busy stream costs a check per batch, not per event.
 */
export function gatedWriter(
  res: Response,
  write: (text: string) => void,
  stillAllowed: StillAllowed,
): (text: string) => void {
  let queue: string[] = [];
  let checking = false;
  const drain = async () => {
    checking = true;
    while (queue.length > 0 && !res.writableEnded) {
      const allowed = await stillAllowed();
      const batch = queue;
      queue = [];
      if (res.writableEnded) break;
      if (!allowed) {
        res.end();
        break;
      }
      for (const text of batch) write(text);
    }
    queue = [];
    checking = false;
  };
  return (text) => {
    queue.push(text);
    if (!checking) void drain();
  };
}

/** The open streams of one route: each gets a heartbeat; `close` ends them all, and any later. */
export class OpenStreams {
  private readonly open = new Set<Response>();
  private closed = false;

  constructor(private readonly heartbeatMs: number) {}

  /**
   * Keeps `res` open with a heartbeat until it closes; ends it at once after `close`, or at a
   * heartbeat when `stillAllowed` says its follower may no longer read.
   */
  keep(res: Response, stillAllowed?: StillAllowed): void {
    if (this.closed) {
      res.end(); // shutdown began while this stream was being set up
      return;
    }
    this.open.add(res);
    const write = (text: string) => {
      if (!res.writableEnded) res.write(text);
    };
    const ping = stillAllowed ? gatedWriter(res, write, stillAllowed) : write;
    const heartbeat = setInterval(() => ping(': ping\n\n'), this.heartbeatMs);
    heartbeat.unref();
    res.once('close', () => {
      clearInterval(heartbeat);
      this.open.delete(res);
    });
  }

  close(): void {
    this.closed = true;
    for (const res of this.open) res.end();
    this.open.clear();
  }
}

export interface Followed<T> {
  /** Subscribes to new items; resolves with the function that unsubscribes. */
  subscribe(onItem: (item: T) => void): Promise<() => Promise<void> | void>;
  /** What the follower gets first (a backlog or a snapshot), read after subscribing. */
  first(): Promise<T[]>;
  /** The item as one event (`event: …\ndata: …\n\n`). */
  text(item: T): string;
  /** Identifies items, so one that is both in `first` and queued is sent once. */
  key?(item: T): unknown;
  logger: Logger;
  /** What is followed, for log lines (`audit log`, `approval event`). */
  what: string;
  meta?: Record<string, unknown>;
  /** Checked before each item after the first ones; the stream ends once it says no. */
  stillAllowed?: StillAllowed;
}

/**
 * Serves one follower: subscribes before reading what comes first, so nothing falls between
 * the two, then sends the first items and every item since, in order, until the follower
 * leaves or `streams` closes.
 */
export async function follow<T>(
  res: Response,
  streams: OpenStreams,
  source: Followed<T>,
): Promise<void> {
  const { logger, what, meta = {}, stillAllowed } = source;
  const write = eventWriter(res, logger, what, meta);
  // The first items follow the authorization of the request at once; later ones are re-checked.
  const writeLater = stillAllowed ? gatedWriter(res, write, stillAllowed) : write;
  const queued: T[] = [];
  let live = false;
  const unsubscribe = await source.subscribe((item) => {
    if (live) writeLater(source.text(item));
    else queued.push(item);
  });
  let gone = false;
  res.once('close', () => {
    gone = true;
    Promise.resolve()
      .then(unsubscribe)
      .catch((error: unknown) =>
        logger.warn(`could not unsubscribe a closed ${what} stream`, {
          ...meta,
          error: String(error),
        }),
      );
  });
  const first = await source.first();
  if (gone) return; // the follower left while the first items were read
  beginEventStream(res);
  const sent = new Set(source.key ? first.map((item) => source.key!(item)) : []);
  for (const item of first) write(source.text(item));
  for (const item of queued)
    if (!source.key || !sent.has(source.key(item))) write(source.text(item));
  live = true;
  streams.keep(res, stillAllowed);
}
