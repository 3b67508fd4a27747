/**
 * Traces of proxied requests with OpenTelemetry (Observability.Tracing, docs/observability.md):
 * one span per request, a child per pipeline stage, and a client span for the upstream call
 * under the stage that makes it. The W3C `traceparent` the agent sent is the request span's
 * parent; the upstream call's span is written into the upstream request's `traceparent`.
 *
 * Each gateway owns its tracer provider (several gateways can run in one process): nothing is
 * registered globally, and contexts are passed by hand rather than through a context manager.
 * Spans are batched and sent over OTLP/HTTP (JSON, ./otlp-exporter.ts); `close` sends what is left.
 *
 * With tracing off there is no Tracing at all: callers hold `undefined` and do nothing.
 */
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from '../config/schema';
import { createOtlpHttpExporter } from './otlp-exporter';
import type { Logger } from './types';

/** Request or response headers, lower-case names (Node's `IncomingHttpHeaders` is one). */
export type TraceHeaders = Record<string, string | string[] | undefined>;

export type SpanAttributes = Record<string, string | number | boolean>;

export interface TraceSpan {
  /** Replaces any trace context in `headers` with this span's: `traceparent` (and `tracestate`). */
  inject(headers: TraceHeaders): void;
  /** Ends the span with `attributes`; `failed` marks its status as an error. */
  end(attributes?: SpanAttributes, failed?: boolean): void;
}

/** The trace of one proxied request, started by its entry point, ended when it is recorded. */
export interface RequestTrace {
  /** A pipeline stage's span; until it ends, `call` spans are its children. */
  stage(name: string): TraceSpan;
  /** A call out of the gateway (the upstream request): a client span. */
  call(name: string): TraceSpan;
  /** Ends the request's span with its outcome. */
  end(attributes: SpanAttributes, failed?: boolean): void;
}

export interface Tracing {
  /** Starts a request's span, a child of the agent's `traceparent` when it sent a valid one. */
  startRequest(name: string, headers: TraceHeaders, attributes?: SpanAttributes): RequestTrace;
  /** Sends the spans not yet exported and stops. */
  close(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

class OtelSpan implements TraceSpan {
  constructor(
    readonly span: Span,
    private readonly onEnd?: () => void,
  ) {}

  inject(headers: TraceHeaders): void {
    // The agent's own context goes: its tracestate too, which belongs to its traceparent and is
    // carried on (inside the span's context) only when that traceparent was valid.
    delete headers.traceparent;
    delete headers.tracestate;
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, defaultTextMapSetter);
  }

  end(attributes?: SpanAttributes, failed?: boolean): void {
    if (attributes) this.span.setAttributes(attributes as Attributes);
    if (failed) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
    this.onEnd?.();
  }
}

class OtelRequestTrace implements RequestTrace {
  private readonly context: Context;
  /** The stage span open now: the parent of calls. */
  private current: Context | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  stage(name: string): TraceSpan {
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, this.context);
    const context = trace.setSpan(this.context, span);
    this.current = context;
    return new OtelSpan(span, () => {
      if (this.current === context) this.current = undefined;
    });
  }

  call(name: string): TraceSpan {
    const parent = this.current ?? this.context;
    return new OtelSpan(this.tracer.startSpan(name, { kind: SpanKind.CLIENT }, parent));
  }

  end(attributes: SpanAttributes, failed?: boolean): void {
    this.span.setAttributes(attributes as Attributes);
    if (failed) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

export interface TracingOptions {
  logger: Logger;
  /** Default: OTLP/HTTP (JSON) to `OtlpEndpoint` (./otlp-exporter.ts). */
  exporter?: SpanExporter;
}

/** The tracing of a gateway, or undefined when Observability.Tracing.Enabled is false. */
export function createTracing(config: TracingConfig, options: TracingOptions): Tracing | undefined {
  if (!config.Enabled) return undefined;
  const exporter =
    options.exporter ??
    createOtlpHttpExporter(config.OtlpEndpoint, {
      logger: options.logger.child({ component: 'tracing' }),
    });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.ServiceName }),
    // Every request is traced: the sampled flag of the agent's `traceparent` is the agent's
    // choice, and the default parent-based sampler would let it hide its requests.
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('vectra');
  return {
    startRequest(name, headers, attributes) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      const span = tracer.startSpan(
        name,
        { kind: SpanKind.SERVER, attributes: attributes as Attributes | undefined },
        parent,
      );
      return new OtelRequestTrace(tracer, span);
    },
    // The processor rejects when the last batch failed; the exporter has logged that already.
    close: () => provider.shutdown().catch(() => undefined),
  };
}
