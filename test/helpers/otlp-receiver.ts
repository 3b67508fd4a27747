/**
 * A local OTLP/HTTP traces receiver for tests: a node:http server on 127.0.0.1, port 0, that
 * decodes each JSON export (`POST /v1/traces`) into flat spans with hex ids and plain attributes.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** The exporting resource's `service.name`. */
  serviceName: string;
}

export interface OtlpReceiver {
  /** The traces endpoint, for Observability__Tracing__OtlpEndpoint. */
  url: string;
  spans: ReceivedSpan[];
  /** The raw body of every export request, as received. */
  bodies: string[];
  /** Export requests received (any path). */
  requests: number;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  status?: { code?: number };
}
interface ExportRequest {
  resourceSpans: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans: Array<{ spans?: ExportedSpan[] }>;
  }>;
}

/** OTLP JSON carries ids as hex; a base64 id (protobuf-style JSON) is turned into hex. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex');
}

function plain(attributes: KeyValue[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
    if (v !== undefined) out[key] = typeof v === 'string' && 'intValue' in value ? Number(v) : v;
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver = { spans: [] as ReceivedSpan[], bodies: [] as string[], requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.requests += 1;
      const text = Buffer.concat(chunks).toString('utf8');
      receiver.bodies.push(text);
      const body = JSON.parse(text) as ExportRequest;
      for (const { resource, scopeSpans } of body.resourceSpans) {
        const serviceName = String(plain(resource?.attributes)['service.name'] ?? '');
        for (const { spans = [] } of scopeSpans) {
          for (const span of spans) {
            receiver.spans.push({
              traceId: hexId(span.traceId),
              spanId: hexId(span.spanId),
              parentSpanId: hexId(span.parentSpanId),
              name: span.name,
              kind: span.kind,
              attributes: plain(span.attributes),
              statusCode: span.status?.code ?? 0,
              serviceName,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/v1/traces`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
