/** The logger every component receives. Levels follow the seed's names (see logger.ts). */
export interface Logger {
  critical(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  trace(message: string, meta?: Record<string, unknown>): void;
  /** A logger whose lines all carry `meta` (e.g. `{ component: 'cache' }`). */
  child(meta: Record<string, unknown>): Logger;
}

/** A logger that drops everything: for unit tests and library use without a sink. */
export const silentLogger: Logger = {
  critical: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
  child: () => silentLogger,
};
