/**
 * How an event becomes text: one JSON object per line for files and pipes (what log shippers
 * parse), a short coloured line for a person at a terminal, and Seq's level names for Seq.
 */
import { format, type Logform } from 'winston';
import {
  isWinstonLevel,
  SEED_LEVEL_NAMES,
  SEQ_LEVEL_NAMES,
  SHORT_LEVEL_NAMES,
  type WinstonLevel,
} from './levels';
import { EVENT_KEYS } from './redact';

// triple-beam's keys (winston's own dependency): the event's original level, and the finished
// line a transport writes.
const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');

/** The level an event was logged at; `info.level` may have been rewritten for display. */
function levelOf(info: Logform.TransformableInfo): WinstonLevel {
  const original = info[LEVEL];
  return isWinstonLevel(original) ? original : isWinstonLevel(info.level) ? info.level : 'info';
}

/** The event's meta: everything but the three keys every line has (symbols are winston's). */
function metaOf(info: Logform.TransformableInfo): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  for (const key of Object.keys(info)) if (!EVENT_KEYS.has(key)) meta[key] = info[key];
  return meta;
}

/** `{"timestamp","level":"Information","message",...meta}`, the seed's names for levels. */
export function jsonLines(): Logform.Format {
  return format((info) => {
    info[MESSAGE] = JSON.stringify({
      timestamp: info.timestamp,
      level: SEED_LEVEL_NAMES[levelOf(info)],
      message: info.message,
      ...metaOf(info),
    });
    return info;
  })();
}

const RESET = '\x1b[0m';
const LEVEL_COLORS: Record<WinstonLevel, string> = {
  critical: '\x1b[97;41m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[90m',
  trace: '\x1b[90m',
};

/** `[12:34:56.789 INF] message key=value …`, Serilog's console layout, in local time. */
export function readableLines(): Logform.Format {
  return format((info) => {
    const level = levelOf(info);
    const label = `${LEVEL_COLORS[level]}${SHORT_LEVEL_NAMES[level]}${RESET}`;
    const fields = Object.entries(metaOf(info)).map(
      ([key, value]) => `${key}=${formatValue(value)}`,
    );
    const message = escapeControl(String(info.message));
    info[MESSAGE] = [`[${clockTime(info.timestamp)} ${label}] ${message}`, ...fields].join(' ');
    return info;
  })();
}

function clockTime(timestamp: unknown): string {
  const date = typeof timestamp === 'string' ? new Date(timestamp) : new Date();
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Bare when unambiguous, JSON otherwise, so `key=value` pairs split cleanly on spaces. */
function formatValue(value: unknown): string {
  if (typeof value === 'string')
    return /^[^\s"=\\\p{Cc}]+$/u.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

/** Messages can quote what a client sent: keep its line breaks and escapes off the terminal. */
function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * For @datalust/winston-seq, which sends `info.level` as Seq's level as is and uses
 * `info.timestamp` only when it is a Date.
 */
export function seqEvents(): Logform.Format {
  return format((info) => {
    info.level = SEQ_LEVEL_NAMES[levelOf(info)];
    info.timestamp = typeof info.timestamp === 'string' ? new Date(info.timestamp) : new Date();
    return info;
  })();
}
