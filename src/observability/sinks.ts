/**
 * Where log events go: the console (or a test's stream), daily rotating files, and Seq. Each
 * sink pairs its winston transport with `close()`, which resolves once what was logged has
 * left the process (on disk, or accepted by Seq), because winston's own `end()` does not wait.
 */
import { mkdirSync } from 'node:fs';
import { SeqTransport } from '@datalust/winston-seq';
import { transports, type Logform } from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type TransportStream from 'winston-transport';
import type { LoggingConfig } from '../config/schema';
import { seqEvents } from './line-formats';

export interface Sink {
  readonly transport: TransportStream;
  close(): Promise<void>;
}

/**
 * Reports a failure once per kind (`what` failed) on stderr: logging must never crash the
 * gateway, nor flood stderr while Seq is down.
 */
export type FaultReporter = (what: string, error: unknown) => void;

export function createFaultReporter(stream: NodeJS.WritableStream): FaultReporter {
  const reported = new Set<string>();
  return (what, error) => {
    if (reported.has(what)) return;
    reported.add(what);
    const line = `vectra: ${what} failed (${describeFault(error)}); further such failures are not reported\n`;
    try {
      stream.write(line);
    } catch {
      // stderr itself is gone: nothing left to tell.
    }
  };
}

function describeFault(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  const cause =
    error instanceof Error
      ? (error.cause as { code?: unknown; message?: unknown } | undefined)
      : undefined;
  if (cause && (cause.code || cause.message)) text += `: ${String(cause.code ?? cause.message)}`;
  // seq-logging's "event too large" error quotes the whole event: keep the line short.
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function createConsoleSink(stream: NodeJS.WritableStream, lineFormat: Logform.Format): Sink {
  const transport = new transports.Stream({ stream, format: lineFormat, eol: '\n' });
  // Lines are handed to the stream synchronously; the stream (stdout) outlives the logger.
  return { transport, close: () => Promise.resolve() };
}

/** DailyRotateFile whose close() can be awaited until the file stream has flushed. */
class FlushingDailyRotateFile extends DailyRotateFile {
  private ended?: Promise<void>;

  /** winston calls this when the logger ends; Vectra's close() calls it again and waits. */
  override close(): void {
    void this.endFileStream();
  }

  endFileStream(): Promise<void> {
    this.ended ??= new Promise<void>((resolve) => this.logStream.end(() => resolve()));
    return this.ended;
  }
}

export function createFileSink(
  config: LoggingConfig['File'],
  lineFormat: Logform.Format,
  reportFault: FaultReporter,
): Sink {
  const directory = config.Directory;
  try {
    // Created owner-only; an existing directory (a mounted volume) keeps the mode its owner
    // chose. The files themselves are created 0600 below either way.
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot create the log directory ${directory} (Observability.Logging.File.Directory, env Observability__Logging__File__Directory): ${reason}`,
    );
  }
  const transport = new FlushingDailyRotateFile({
    dirname: directory,
    filename: 'vectra-%DATE%.log',
    datePattern: 'YYYY-MM-DD',
    maxFiles: `${config.MaxFiles}d`,
    maxSize: `${config.MaxSizeMegabytes}m`,
    options: { flags: 'a', mode: 0o600 },
    format: lineFormat,
    eol: '\n',
  });
  // The rotating stream's errors (disk full, directory removed) are not forwarded to the
  // transport, and an unheard 'error' event would kill the process.
  transport.logStream.on('error', (err: unknown) => reportFault('writing the log file', err));
  return { transport, close: () => transport.endFileStream() };
}

/** SeqTransport whose close() can be awaited until every queued event was shipped. */
class FlushingSeqTransport extends SeqTransport {
  private closing?: Promise<void>;

  /** winston calls this when the logger ends; SeqTransport's own drops the flush promise. */
  override close(): void {
    void this.closeAndFlush();
  }

  closeAndFlush(): Promise<void> {
    // seq-logging's close() is flush-then-stop; it reports shipping errors to onError and
    // resolves, and throws if called twice, hence the memo.
    this.closing ??= this.logger.close();
    return this.closing;
  }
}

/**
 * How long shipping may take: a slow or failing Seq must not hold shutdown or retry for
 * minutes (seq-logging's defaults: 30 s timeout, 5 retries 5 s apart).
 */
const SEQ_SHIPPING = { requestTimeout: 5000, maxRetries: 2, retryDelay: 1000 } as const;
/** The most close() waits for Seq; what has not been shipped by then is lost. */
export const SEQ_CLOSE_TIMEOUT_MS = 10_000;

export function createSeqSink(config: LoggingConfig['Seq'], reportFault: FaultReporter): Sink {
  // The schema allows an empty URL (Seq off); seq-logging would quietly use localhost:5341.
  if (config.ServerUrl === '') {
    throw new Error(
      'Seq logging is enabled but Observability.Logging.Seq.ServerUrl (env Observability__Logging__Seq__ServerUrl) is empty',
    );
  }
  const transport = new FlushingSeqTransport({
    serverUrl: config.ServerUrl,
    apiKey: config.ApiKey === '' ? undefined : config.ApiKey,
    onError: (err) => reportFault(`logging to Seq at ${originOf(config.ServerUrl)}`, err),
    format: seqEvents(),
    ...SEQ_SHIPPING,
  });
  return { transport, close: () => withTimeout(transport.closeAndFlush(), SEQ_CLOSE_TIMEOUT_MS) };
}

/** The URL without user:password or path, fit for an error line. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the configured URL';
  }
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([promise.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}
