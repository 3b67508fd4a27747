/** Shared by the logger tests: a logging config and a stream that keeps what it was given. */
import { PassThrough } from 'node:stream';
import type { LoggingConfig, LogLevelName } from '../../src/config/schema';

export function loggingConfig(
  level: LogLevelName = 'Information',
  overrides: { File?: Partial<LoggingConfig['File']>; Seq?: Partial<LoggingConfig['Seq']> } = {},
): LoggingConfig {
  return {
    DefaultLogLevel: level,
    File: {
      Enabled: false,
      Directory: './logs',
      MaxFiles: 14,
      MaxSizeMegabytes: 100,
      ...overrides.File,
    },
    Seq: { Enabled: false, ServerUrl: 'http://localhost:5341', ApiKey: '', ...overrides.Seq },
  };
}

export interface CapturedOutput {
  readonly stream: PassThrough;
  text(): string;
  lines(): string[];
  /** Each line parsed as JSON (the non-TTY format). */
  events(): Record<string, unknown>[];
}

/** A stream that records everything written to it, synchronously. */
export function captureOutput(options: { isTTY?: boolean } = {}): CapturedOutput {
  const stream = new PassThrough();
  if (options.isTTY) Object.assign(stream, { isTTY: true });
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  const lines = (): string[] => text.split('\n').filter((line) => line !== '');
  return {
    stream,
    text: () => text,
    lines,
    events: () => lines().map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
