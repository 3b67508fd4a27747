/** How the CLI talks: results on stdout, one clear line per error on stderr. */
import { ConfigError, isGatewayError } from '../errors';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Prints an error the way every command does: `vectra: <message>` (+ stack with --debug). */
export function reportError(io: Io, err: unknown, debug: boolean): void {
  if (err instanceof ConfigError) {
    io.err(`vectra: ${err.message}`);
    io.err(
      'hint: `vectra config show` lists every key, its environment variable and where its value came from',
    );
  } else if (isGatewayError(err)) {
    io.err(`vectra: ${err.message} [${err.code}]`);
  } else {
    io.err(`vectra: ${(err as Error)?.message ?? String(err)}`);
  }
  if (debug && err instanceof Error && err.stack) io.err(err.stack);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
