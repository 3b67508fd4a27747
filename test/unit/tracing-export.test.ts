/**
 * The trace exporter against a real local endpoint: spans arrive as OTLP JSON, and an endpoint
 * that fails is logged at Warning, once per batch, without throwing to the caller.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTracing } from '../../src/observability/tracing';
import { startOtlpReceiver } from '../helpers/otlp-receiver';
import { recordingLogger } from '../helpers/waiting-and-processes';

const config = (endpoint: string) => ({
  Enabled: true,
  OtlpEndpoint: endpoint,
  ServiceName: 'unit',
});

describe('trace export', () => {
  it('is nothing at all when tracing is off', () => {
    expect(
      createTracing(
        { ...config('http://127.0.0.1:9/'), Enabled: false },
        { logger: recordingLogger() },
      ),
    ).toBeUndefined();
  });

  it('sends the spans of a request as OTLP JSON when closed', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const tracing = createTracing(config(receiver.url), { logger: recordingLogger() })!;
      const trace = tracing.startRequest('proxy GET', {}, { entry: 'forward' });
      trace.stage('authenticate').end({ decision: 'continue' });
      trace.end({ decision: 'allow', status: 200 });
      await tracing.close();
      expect(receiver.spans.map((span) => [span.name, span.serviceName])).toEqual([
        ['authenticate', 'unit'],
        ['proxy GET', 'unit'],
      ]);
      expect(receiver.spans[1].attributes).toEqual({
        entry: 'forward',
        decision: 'allow',
        status: 200,
      });
    } finally {
      await receiver.close();
    }
  });

  it('logs a failed export at Warning and drops the batch', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(503).end('down'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const logger = recordingLogger();
      const tracing = createTracing(config(`http://127.0.0.1:${port}/v1/traces`), { logger })!;
      tracing.startRequest('proxy GET', {}).end({ decision: 'allow' });
      await tracing.close();
      const failures = logger.lines.filter((line) =>
        line.message.startsWith('trace export failed'),
      );
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({
        level: 'warn',
        meta: expect.objectContaining({ spans: 1 }),
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
