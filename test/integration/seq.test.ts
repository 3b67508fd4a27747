import { PassThrough } from 'node:stream';
import type { LogLevelName } from '../../src/config/schema';
import { createLogger } from '../../src/observability/logger';
import { runWithRequestId } from '../../src/observability/request-context';
import { loggingConfig } from '../unit/logger-helpers';
import { startedAround } from '../helpers/started';
import { deadSeqUrl, startFakeSeq } from './seq-fake-server';

const SECRET = 'seq-planted-secret-51b2';

function seqLogger(url: string, level: LogLevelName = 'Information', apiKey = '') {
  let stderr = '';
  const errorStream = new PassThrough();
  errorStream.setEncoding('utf8');
  errorStream.on('data', (chunk: string) => (stderr += chunk));
  const handle = createLogger(
    loggingConfig(level, { Seq: { Enabled: true, ServerUrl: url, ApiKey: apiKey } }),
    {
      console: false,
      errorStream,
      component: 'seq-test',
    },
  );
  return { ...handle, stderr: () => stderr };
}

describe('Seq sink', () => {
  const seq = startedAround(startFakeSeq, 'each');

  it('ships events with Seq levels, message, properties and the API key when close() flushes', async () => {
    const before = Date.now();
    const { logger, close, stderr } = seqLogger(seq().url, 'Information', 'seq-api-key-123');
    await runWithRequestId('seq-req-1', async () => {
      logger.info('request allowed', { route: '/v1/agents', status: 200 });
      logger.warn('upstream slow', { host: 'api.example.com', apiKey: SECRET });
      logger.error('upstream failed', {
        err: new Error('socket hang up'),
        headers: { authorization: `Bearer ${SECRET}` },
      });
    });
    logger.debug('below the level');
    await close();

    // Already there: seq-logging batches for 2 s, and close() must not leave that to its timer.
    expect(seq().requests.flatMap((request) => request.events)).toHaveLength(3);
    const events = await seq().eventsReceived(3);
    for (const request of seq().requests) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-seq-apikey']).toBe('seq-api-key-123');
      expect(request.body).not.toContain(SECRET);
    }
    expect(events.map((event) => [event.Level, event.MessageTemplate])).toEqual([
      ['Information', 'request allowed'],
      ['Warning', 'upstream slow'],
      ['Error', 'upstream failed'],
    ]);
    for (const event of events) {
      const time = Date.parse(event.Timestamp);
      expect(time).toBeGreaterThanOrEqual(before - 1);
      expect(time).toBeLessThanOrEqual(Date.now());
      expect(event.Properties).toMatchObject({ requestId: 'seq-req-1', component: 'seq-test' });
    }
    expect(events[0].Properties).toMatchObject({ route: '/v1/agents', status: 200 });
    expect(events[1].Properties).toMatchObject({ host: 'api.example.com', apiKey: '[REDACTED]' });
    expect(events[2].Properties).toMatchObject({
      err: { name: 'Error', message: 'socket hang up' },
      headers: { authorization: '[REDACTED]' },
    });
    expect(stderr()).toBe('');
  });

  it('maps Trace to Verbose and Critical to Fatal', async () => {
    const { logger, close } = seqLogger(seq().url, 'Trace');
    logger.trace('t');
    logger.debug('d');
    logger.critical('c');
    await close();
    const events = await seq().eventsReceived(3);
    expect(events.map((event) => event.Level)).toEqual(['Verbose', 'Debug', 'Fatal']);
  });
});

describe('Seq sink when Seq is unavailable', () => {
  it('does not throw when Seq is down, and says so once on stderr', async () => {
    const url = await deadSeqUrl();
    const { logger, close, stderr } = seqLogger(url);
    expect(() => {
      logger.info('first');
      logger.error('second', { password: SECRET });
    }).not.toThrow();
    await expect(close()).resolves.toBeUndefined();
    expect(stderr().trim().split('\n')).toEqual([
      expect.stringContaining(`logging to Seq at ${url} failed`),
    ]);
    expect(stderr()).not.toContain(SECRET);
  });

  it('gives up on a Seq that keeps answering 500, and close() still resolves', async () => {
    const failing = await startFakeSeq({ status: 500 });
    try {
      const { logger, close, stderr } = seqLogger(failing.url);
      logger.info('lost');
      await close();
      expect(stderr()).toContain('HTTP log shipping failed: 500');
      expect(stderr().trim().split('\n')).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });
});

describe('Seq configuration', () => {
  it('refuses to start with Seq enabled and no server URL', () => {
    expect(() =>
      createLogger(loggingConfig('Information', { Seq: { Enabled: true, ServerUrl: '' } }), {
        console: false,
      }),
    ).toThrow(/Observability__Logging__Seq__ServerUrl/);
  });
});
