import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { LOG_LEVELS, type LogLevelName } from '../../src/config/schema';
import { GatewayError } from '../../src/errors';
import { levelFromConfig } from '../../src/observability/levels';
import { createLogger, type LoggerHandle } from '../../src/observability/logger';
import { runWithRequestId } from '../../src/observability/request-context';
import type { Logger } from '../../src/observability/types';
import { captureOutput, loggingConfig, type CapturedOutput } from './logger-helpers';
import { tempDir } from '../helpers/temp-dir';

const handles: LoggerHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((handle) => handle.close()));
});

function consoleLogger(
  level: LogLevelName = 'Information',
  options: { isTTY?: boolean; component?: string } = {},
): { logger: Logger; output: CapturedOutput; close(): Promise<void> } {
  const output = captureOutput();
  const handle = createLogger(loggingConfig(level), {
    stream: output.stream,
    isTTY: false,
    ...options,
  });
  handles.push(handle);
  return { logger: handle.logger, output, close: () => handle.close() };
}

function logAtEveryLevel(logger: Logger): void {
  logger.trace('t');
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  logger.critical('c');
}

describe('log levels', () => {
  it('maps the configuration names to winston levels', () => {
    expect(LOG_LEVELS.map(levelFromConfig)).toEqual([
      'trace',
      'debug',
      'info',
      'warn',
      'error',
      'critical',
      'silent',
    ]);
  });

  it.each<[LogLevelName, string[]]>([
    ['Trace', ['Trace', 'Debug', 'Information', 'Warning', 'Error', 'Critical']],
    ['Debug', ['Debug', 'Information', 'Warning', 'Error', 'Critical']],
    ['Information', ['Information', 'Warning', 'Error', 'Critical']],
    ['Warning', ['Warning', 'Error', 'Critical']],
    ['Error', ['Error', 'Critical']],
    ['Critical', ['Critical']],
    ['None', []],
  ])('at %s writes %j', async (level, expected) => {
    const { logger, output, close } = consoleLogger(level);
    logAtEveryLevel(logger);
    await close();
    expect(output.events().map((event) => event.level)).toEqual(expected);
  });
});

describe('console format', () => {
  it('writes one JSON object per line when not on a TTY', async () => {
    const { logger, output, close } = consoleLogger();
    logger.info('listening', { port: 7080, tls: false });
    await close();
    const [line] = output.lines();
    const event = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(['timestamp', 'level', 'message', 'port', 'tls']);
    expect(event).toMatchObject({
      level: 'Information',
      message: 'listening',
      port: 7080,
      tls: false,
    });
    expect(new Date(event.timestamp as string).toISOString()).toBe(event.timestamp);
  });

  it('writes a readable coloured line on a TTY', async () => {
    const { logger, output, close } = consoleLogger('Information', { isTTY: true });
    logger.warn('upstream slow', { host: 'api.example.com', note: 'two words', attempts: 3 });
    await close();
    expect(output.lines()).toHaveLength(1);
    // Yellow WRN: ESC[33m … ESC[0m.
    const yellowWrn = '\x1b[33mWRN\x1b[0m';
    const [line] = output.lines();
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3} /);
    expect(line.slice(14)).toBe(
      `${yellowWrn}] upstream slow host=api.example.com note="two words" attempts=3`,
    );
  });

  it('is readable when the stream says it is a TTY and no option says otherwise', async () => {
    const output = captureOutput({ isTTY: true });
    const handle = createLogger(loggingConfig(), { stream: output.stream });
    handle.logger.error('boom');
    await handle.close();
    expect(output.text()).toContain('ERR');
    expect(output.text()).not.toContain('{');
  });

  it('keeps line breaks a client put in a message off the terminal', async () => {
    const { logger, output, close } = consoleLogger('Information', { isTTY: true });
    logger.info('refused host evil\nFAKE LINE');
    await close();
    expect(output.lines()).toHaveLength(1);
    expect(output.text()).toContain('evil\\nFAKE LINE');
  });

  it('binds child and component meta to every line', async () => {
    const { logger, output, close } = consoleLogger('Information', { component: 'gateway' });
    logger.child({ stage: 'policy' }).info('denied', { code: 'VEC_POLICY_DENIED' });
    await close();
    expect(output.events()[0]).toMatchObject({
      component: 'gateway',
      stage: 'policy',
      code: 'VEC_POLICY_DENIED',
    });
  });
});

describe('request id', () => {
  it('is on every line inside runWithRequestId, across awaits, and absent outside', async () => {
    const { logger, output, close } = consoleLogger();
    logger.info('before');
    await runWithRequestId('req-1', async () => {
      logger.info('start');
      await nextTurn();
      await new Promise((resolve) => setTimeout(resolve, 0));
      logger.info('after awaits');
    });
    logger.info('after');
    await close();
    expect(output.events().map((event) => [event.message, event.requestId])).toEqual([
      ['before', undefined],
      ['start', 'req-1'],
      ['after awaits', 'req-1'],
      ['after', undefined],
    ]);
  });

  it('keeps interleaved requests apart', async () => {
    const { logger, output, close } = consoleLogger();
    const handle = (id: string) =>
      runWithRequestId(id, async () => {
        await nextTurn();
        logger.info(`work of ${id}`);
      });
    await Promise.all([handle('a'), handle('b'), handle('c')]);
    await close();
    for (const event of output.events())
      expect(event.message).toBe(`work of ${String(event.requestId)}`);
    expect(output.events()).toHaveLength(3);
  });
});

describe('redaction', () => {
  const SECRET = 'planted-secret-7f3a9c';

  it('never writes a value under a secret-looking key, however deep', async () => {
    const { logger, output, close } = consoleLogger('Trace');
    const meta = {
      headers: {
        Authorization: `Bearer ${SECRET}`,
        'Proxy-Authorization': `Basic ${SECRET}`,
        accept: '*/*',
      },
      upstream: { nested: { list: [{ password: SECRET }, { api_key: SECRET }] } },
      ApiKey: SECRET,
      'set-cookie': [`sid=${SECRET}`],
      connectionString: `Host=db;Password=${SECRET}`,
      clientSecret: SECRET,
      passwd: SECRET,
      accessToken: SECRET,
    };
    logger.warn('calling upstream', meta);
    logger.child({ token: SECRET }).info('child bound a secret');
    await close();
    expect(output.text()).not.toContain(SECRET);
    const [event] = output.events();
    expect(event.headers).toEqual({
      Authorization: '[REDACTED]',
      'Proxy-Authorization': '[REDACTED]',
      accept: '*/*',
    });
    expect(event.upstream).toEqual({
      nested: { list: [{ password: '[REDACTED]' }, { api_key: '[REDACTED]' }] },
    });
    // The caller's object is left as it was.
    expect(meta.headers.Authorization).toBe(`Bearer ${SECRET}`);
  });

  it('serialises errors without their context, with the stack only at Debug and Trace', async () => {
    const error = new GatewayError('VEC_CACHE_UNAVAILABLE', undefined, {
      context: { connectionString: SECRET },
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const quiet = consoleLogger('Information');
    const verbose = consoleLogger('Debug');
    quiet.logger.error('cache down', { err: error });
    verbose.logger.error('cache down', { err: error });
    await Promise.all([quiet.close(), verbose.close()]);

    expect(quiet.output.events()[0].err).toEqual({
      name: 'GatewayError',
      message: error.message,
      code: 'VEC_CACHE_UNAVAILABLE',
      cause: { name: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
    });
    expect(verbose.output.events()[0].err).toMatchObject({
      stack: expect.stringContaining('GatewayError'),
    });
    expect(quiet.output.text() + verbose.output.text()).not.toContain(SECRET);
  });

  it('writes cycles and BigInts instead of failing', async () => {
    const { logger, output, close } = consoleLogger();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.info('odd meta', { cyclic, big: 10n });
    await close();
    expect(output.events()[0]).toMatchObject({
      cyclic: { name: 'loop', self: '[Circular]' },
      big: '10',
    });
  });
});

describe('file sink', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir('vectra-logger-');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes JSON lines to vectra-<date>.log in an owner-only directory it creates', async () => {
    const directory = join(root, 'nested', 'logs');
    const handle = createLogger(
      loggingConfig('Information', { File: { Enabled: true, Directory: directory } }),
      {
        console: false,
      },
    );
    await runWithRequestId('file-req', async () => {
      handle.logger.info('first', { n: 1 });
      handle.logger.warn('second', { password: 'hunter2-file' });
    });
    handle.logger.debug('filtered out');
    await handle.close();

    expect(statSync(directory).mode & 0o777).toBe(0o700);
    const files = readdirSync(directory).filter((name) => name.endsWith('.log'));
    expect(files).toEqual([expect.stringMatching(/^vectra-\d{4}-\d{2}-\d{2}\.log$/)]);
    const path = join(directory, files[0]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('hunter2-file');
    const events = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toEqual([
      {
        timestamp: expect.any(String),
        level: 'Information',
        message: 'first',
        requestId: 'file-req',
        n: 1,
      },
      {
        timestamp: expect.any(String),
        level: 'Warning',
        message: 'second',
        requestId: 'file-req',
        password: '[REDACTED]',
      },
    ]);
  });
});

describe('a log call', () => {
  it('never throws, even when meta does; the failure is reported once and logging goes on', async () => {
    const output = captureOutput();
    const errors = captureOutput();
    const handle = createLogger(loggingConfig(), {
      stream: output.stream,
      isTTY: false,
      errorStream: errors.stream,
    });
    const hostile = {
      get boom(): string {
        throw new Error('getter exploded');
      },
    };
    expect(() => handle.logger.info('top-level getter', hostile)).not.toThrow();
    expect(() => handle.logger.info('nested getter', { nested: hostile })).not.toThrow();
    handle.logger.info('still logging');
    await handle.close();
    expect(output.events().map((event) => event.message)).toEqual(['still logging']);
    expect(errors.lines()).toEqual([
      expect.stringContaining('formatting a log event failed (getter exploded)'),
    ]);
  });
});

describe('close', () => {
  it('can be called twice, and events after it are dropped without throwing', async () => {
    const { logger, output, close } = consoleLogger();
    logger.info('before close');
    await Promise.all([close(), close()]);
    expect(() => logger.error('after close')).not.toThrow();
    expect(output.events().map((event) => event.message)).toEqual(['before close']);
  });

  it('with no sink at all, logs nothing and closes', async () => {
    const handle = createLogger(loggingConfig(), { console: false });
    handle.logger.info('nowhere');
    await expect(handle.close()).resolves.toBeUndefined();
  });
});
