/**
 * One Upgrade request inside a tunnel: only WebSocket is relayed. The policy judges the upgrade
 * request; the bytes after the 101 (WebSocket frames) are spliced through unread, so a protocol
 * that carries further HTTP requests (`h2c`) would let them pass unjudged, and is refused before
 * anything is dialled. One audit row per upgrade: at the refusal, when a declined answer has been
 * relayed, or when the spliced connection closes (its frame bytes in both directions).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import { GatewayError } from '../errors';
import type { Decision } from '../pipeline/types';
import type { HeaderMap } from '../http/types';
import { outcomeLabels } from '../pipeline/outcome';
import {
  decided,
  exchangeContext,
  rawRefusal,
  recordExchange,
  startTiming,
  startTrace,
  type ExchangeDeps,
  type ExchangeInit,
} from './exchange';

/** True when the Upgrade header names exactly one protocol, `websocket` (any case). */
export function isWebSocketUpgrade(value: HeaderMap[string] | undefined): boolean {
  if (value === undefined) return false;
  const tokens = (Array.isArray(value) ? value : [value])
    .flatMap((line) => line.split(','))
    .map((token) => token.trim())
    .filter((token) => token !== '');
  return tokens.length === 1 && tokens[0].toLowerCase() === 'websocket';
}

/** Runs one Upgrade request to completion. Never throws: every failure becomes a refusal or a drop. */
export async function runUpgrade(
  deps: ExchangeDeps,
  init: ExchangeInit,
  client: { req: IncomingMessage; socket: Duplex; head: Buffer },
): Promise<void> {
  const timing = startTiming(deps);
  const ctx = exchangeContext(init, client.req, { ...init.request, upgrade: true });
  startTrace(deps, ctx, client.req);
  let bytesIn = 0;
  let bytesOut = 0;
  let status: number | undefined;
  let recorded = false;
  const record = () => {
    if (recorded) return;
    recorded = true;
    recordExchange(deps, ctx, { bytesIn, bytesOut, status }, timing);
  };
  const refuse = (error: GatewayError) => {
    status = error.statusCode;
    client.socket.end(rawRefusal(error));
    record();
  };

  if (!isWebSocketUpgrade(init.request.headers.upgrade)) {
    const error = new GatewayError('VEC_UPGRADE_REFUSED');
    ctx.audit.decision = 'deny';
    ctx.audit.errorCode = error.code;
    decided(timing, { kind: 'deny', error });
    deps.logger.info('upgrade refused', {
      ...outcomeLabels(ctx, { kind: 'deny', error }),
      requestId: ctx.requestId,
      upgrade: String(init.request.headers.upgrade).slice(0, 100),
    });
    return refuse(error);
  }

  let decision: Decision;
  try {
    decision = await deps.pipeline(ctx);
  } catch (err) {
    deps.logger.error('pipeline failed outside a stage', {
      err,
      code: 'VEC_PIPELINE_STAGE_FAILED',
      requestId: ctx.requestId,
    });
    ctx.audit.errorCode ??= 'VEC_PIPELINE_STAGE_FAILED';
    decision = { kind: 'deny', error: new GatewayError('VEC_PIPELINE_STAGE_FAILED') };
  }
  decided(timing, decision);
  const response = ctx.response;
  if (decision.kind === 'abort') {
    client.socket.destroy();
    return record();
  }
  if (decision.kind !== 'continue' || !response) {
    return refuse(
      decision.kind === 'deny' ? decision.error : new GatewayError('VEC_PIPELINE_STAGE_FAILED'),
    );
  }
  status = response.status;
  if (!('socket' in response)) {
    // The upstream declined the upgrade: relay its answer.
    const head = [`HTTP/1.1 ${response.status} ${response.statusMessage ?? ''}`];
    for (const [name, value] of Object.entries(response.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) head.push(`${name}: ${v}`);
    }
    client.socket.write(`${head.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    response.body.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    finished(response.body, record);
    response.body.pipe(client.socket);
    return;
  }
  const upstream = response.socket;
  const close = () => {
    upstream.destroy();
    client.socket.destroy();
    record();
  };
  // The client left while the pipeline ran: nothing to splice.
  if (client.socket.destroyed) return close();
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  const headers = { ...response.headers };
  // The upgrade headers are hop-by-hop, yet a 101 must carry them.
  headers.connection = 'Upgrade';
  headers.upgrade ??= 'websocket';
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  client.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (response.head.length) {
    client.socket.write(response.head);
    bytesOut += response.head.length;
  }
  if (client.head.length) {
    upstream.write(client.head);
    bytesIn += client.head.length;
  }
  // Counted on the same tick as the pipes start: no chunk flows before both listen.
  client.socket.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
  upstream.pipe(client.socket).pipe(upstream);
  upstream.on('error', close);
  client.socket.on('error', close);
  upstream.on('close', close);
  client.socket.on('close', close);
}
