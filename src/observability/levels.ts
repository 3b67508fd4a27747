/**
 * The log levels, in three vocabularies: winston's method names (what code calls), the seed's
 * Serilog-style names (what the configuration and the JSON lines say) and Seq's level names.
 */
import type { LogLevelName } from '../config/schema';

/** winston priorities: lower is more severe; a logger at level L writes L and everything below. */
export const WINSTON_LEVELS = {
  critical: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
} as const;

export type WinstonLevel = keyof typeof WINSTON_LEVELS;

/** The configured level; `silent` is `None`, which writes nothing at all. */
export type EffectiveLevel = WinstonLevel | 'silent';

const FROM_CONFIG: Record<LogLevelName, EffectiveLevel> = {
  Trace: 'trace',
  Debug: 'debug',
  Information: 'info',
  Warning: 'warn',
  Error: 'error',
  Critical: 'critical',
  None: 'silent',
};

/** The seed's name of each level, written as `level` in JSON lines. */
export const SEED_LEVEL_NAMES: Record<WinstonLevel, Exclude<LogLevelName, 'None'>> = {
  critical: 'Critical',
  error: 'Error',
  warn: 'Warning',
  info: 'Information',
  debug: 'Debug',
  trace: 'Trace',
};

/** Seq's levels (seq-logging's `SeqLogLevel`); Seq has Verbose for Trace and Fatal for Critical. */
export const SEQ_LEVEL_NAMES: Record<WinstonLevel, string> = {
  critical: 'Fatal',
  error: 'Error',
  warn: 'Warning',
  info: 'Information',
  debug: 'Debug',
  trace: 'Verbose',
};

/** Three letters, as Serilog's console shows them, for the readable TTY format. */
export const SHORT_LEVEL_NAMES: Record<WinstonLevel, string> = {
  critical: 'CRT',
  error: 'ERR',
  warn: 'WRN',
  info: 'INF',
  debug: 'DBG',
  trace: 'TRC',
};

export function levelFromConfig(name: LogLevelName): EffectiveLevel {
  const level = FROM_CONFIG[name];
  // The schema validates the name; this guards callers that build a config by hand.
  if (level === undefined) throw new Error(`unknown log level ${JSON.stringify(name)}`);
  return level;
}

/** Whether a logger at `configured` writes events of `level`. */
export function isLevelEnabled(configured: EffectiveLevel, level: WinstonLevel): boolean {
  return configured !== 'silent' && WINSTON_LEVELS[level] <= WINSTON_LEVELS[configured];
}

export function isWinstonLevel(value: unknown): value is WinstonLevel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(WINSTON_LEVELS, value);
}
