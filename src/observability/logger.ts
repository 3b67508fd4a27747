/**
 * The logger every component receives (see ./types.ts), built on winston from
 * `Observability.Logging`: console, daily rotating JSON files, and Seq. Every event carries the
 * current request id, and its meta passes through ./redact.ts before any sink sees it.
 */
import { createLogger as createWinstonLogger, format } from 'winston';
import type { LoggingConfig } from '../config/schema';
import { isLevelEnabled, levelFromConfig, WINSTON_LEVELS, type WinstonLevel } from './levels';
import { jsonLines, readableLines } from './line-formats';
import { redaction } from './redact';
import { currentRequestId } from './request-context';
import {
  createConsoleSink,
  createFileSink,
  createSeqSink,
  createFaultReporter,
  type Sink,
} from './sinks';
import type { Logger } from './types';

export interface CreateLoggerOptions {
  /** Write to the console (default true). */
  console?: boolean;
  /** Where console lines go (default process.stdout); tests pass their own stream. */
  stream?: NodeJS.WritableStream;
  /** Readable coloured lines instead of JSON lines (default: whether `stream` is a TTY). */
  isTTY?: boolean;
  /** Set as `component` on every event. */
  component?: string;
  /** Where a failing sink (Seq down, disk full) is reported, once each (default process.stderr). */
  errorStream?: NodeJS.WritableStream;
}

export interface LoggerHandle {
  readonly logger: Logger;
  /** Flushes every sink (files on disk, Seq's queue shipped) and stops; later events are dropped. */
  close(): Promise<void>;
}

type Write = (
  level: WinstonLevel,
  message: string,
  bound: Record<string, unknown>,
  meta: Record<string, unknown> | undefined,
) => void;

export function createLogger(
  config: LoggingConfig,
  options: CreateLoggerOptions = {},
): LoggerHandle {
  const level = levelFromConfig(config.DefaultLogLevel);
  // A stack tells an attacker about the code and is noise in production: only when debugging.
  const sanitizing = { includeStack: level === 'debug' || level === 'trace' };
  const reportFault = createFaultReporter(options.errorStream ?? process.stderr);

  const sinks: Sink[] = [];
  if (options.console !== false) {
    const stream = options.stream ?? process.stdout;
    const readable = options.isTTY ?? (stream as { isTTY?: boolean }).isTTY === true;
    sinks.push(createConsoleSink(stream, readable ? readableLines() : jsonLines()));
  }
  if (config.File.Enabled) sinks.push(createFileSink(config.File, jsonLines(), reportFault));
  if (config.Seq.Enabled) sinks.push(createSeqSink(config.Seq, reportFault));

  const winstonLogger = createWinstonLogger({
    levels: WINSTON_LEVELS,
    level: level === 'silent' ? 'critical' : level,
    silent: level === 'silent',
    format: format.combine(format.timestamp(), redaction(sanitizing)),
    transports: sinks.map((sink) => sink.transport),
    exitOnError: false,
  });
  // winston re-emits a transport's 'error' here; unheard, it would crash the process.
  winstonLogger.on('error', (err: unknown) => reportFault('writing to a log sink', err));

  let closing: Promise<void> | undefined;
  const write: Write = (eventLevel, message, bound, meta) => {
    // With no sink winston complains on stderr for every event; after close() it would throw.
    if (closing || sinks.length === 0 || !isLevelEnabled(level, eventLevel)) return;
    // Read here, synchronously in the caller's async context; meta may name another request.
    const requestId = currentRequestId();
    try {
      winstonLogger.log({
        ...(requestId === undefined ? {} : { requestId }),
        ...bound,
        ...meta,
        level: eventLevel,
        message,
      });
    } catch (err) {
      // A meta getter can throw, and winston rethrows what a format throws: a log call must
      // never fail the request that made it.
      reportFault('formatting a log event', err);
    }
  };

  const close = async (): Promise<void> => {
    // end() waits until every transport has taken every event, then each sink drains its own.
    await new Promise<void>((resolve) => {
      winstonLogger.once('finish', () => resolve());
      winstonLogger.end();
    });
    await Promise.all(sinks.map((sink) => sink.close()));
  };

  const bound = options.component === undefined ? {} : { component: options.component };
  return {
    logger: bindLogger(write, bound),
    close: () => (closing ??= close()),
  };
}

/** A Logger whose events all carry `bound`; `child()` binds more. */
function bindLogger(write: Write, bound: Record<string, unknown>): Logger {
  const at =
    (level: WinstonLevel) =>
    (message: string, meta?: Record<string, unknown>): void =>
      write(level, message, bound, meta);
  return {
    critical: at('critical'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: (meta) => bindLogger(write, { ...bound, ...meta }),
  };
}
