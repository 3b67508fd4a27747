/**
 * The OTLP/HTTP span exporter: each batch is serialized as OTLP JSON by OpenTelemetry's own
 * transformer and POSTed to Observability.Tracing.OtlpEndpoint with node:http(s). A failed
 * export (refused, timed out, an answer other than 2xx) is logged at Warning and the batch
 * dropped: traces never hold up or fail a proxied request.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from './types';

export interface OtlpExporterOptions {
  logger: Logger;
  /** Per export request. Default 10 s. */
  timeoutMs?: number;
}

export function createOtlpHttpExporter(url: string, options: OtlpExporterOptions): SpanExporter {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeout = options.timeoutMs ?? 10_000;
  const { logger } = options;
  const inFlight = new Set<Promise<void>>();

  function post(body: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = send(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout,
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`the endpoint answered ${status}`));
          });
          res.once('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.once('error', reject);
      req.end(body);
    });
  }

  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (!body) {
        done({ code: ExportResultCode.FAILED, error: new Error('spans could not be serialized') });
        return;
      }
      const sent = post(body).then(
        () => done({ code: ExportResultCode.SUCCESS }),
        (err: Error) => {
          logger.warn('trace export failed; spans dropped', {
            endpoint: target.origin + target.pathname,
            spans: spans.length,
            err,
          });
          done({ code: ExportResultCode.FAILED, error: err });
        },
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    },
    async forceFlush(): Promise<void> {
      await Promise.all(inFlight);
    },
    async shutdown(): Promise<void> {
      await Promise.all(inFlight);
    },
  };
}
