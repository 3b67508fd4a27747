/**
 * The benchmark's upstream, in its own process (forked by ./run.ts): HTTP and HTTPS on
 * 127.0.0.1, port 0, keep-alive, a small fixed JSON answer; plus one HTTPS listener per extra
 * loopback address (127.0.0.x) for the first-request-to-a-new-host run. It counts, per path,
 * the requests it saw and those that carried the credential Vectra was meant to inject, so the
 * orchestrator can tell that the measured path really authenticated, matched and injected.
 *
 * Configuration arrives in BENCH_UPSTREAM (JSON): { certPem, keyPem, secret, extra: string[] }.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ChildReply, ParentMessage, UpstreamCounts, UpstreamReady } from './protocol';

interface UpstreamOptions {
  certPem: string;
  keyPem: string;
  secret: string;
  extra: string[];
}

const options = JSON.parse(process.env.BENCH_UPSTREAM ?? '{}') as UpstreamOptions;
const expected = `Bearer ${options.secret}`;
const counts: UpstreamCounts = {};
const ANSWER = JSON.stringify({ ok: true, service: 'vectra-bench-upstream', items: [1, 2, 3] });
const HEADERS = {
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(ANSWER)),
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  const entry = (counts[path] ??= { requests: 0, injected: 0 });
  entry.requests++;
  if (req.headers.authorization === expected) entry.injected++;
  // GETs only: nothing to read, but drain anyway so a stray body cannot wedge the connection.
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(ANSWER);
}

function listen(server: Server, host: string): Promise<number> {
  // Idle pooled connections (the proxy's and the clients') must outlive pauses between runs.
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function main(): Promise<void> {
  const tls = { cert: options.certPem, key: options.keyPem };
  const httpPort = await listen(createHttpServer(handle), '127.0.0.1');
  const httpsPort = await listen(createHttpsServer(tls, handle), '127.0.0.1');
  const extra: UpstreamReady['extra'] = [];
  for (const host of options.extra) {
    extra.push({ host, port: await listen(createHttpsServer(tls, handle), host) });
  }
  const ready: UpstreamReady = { type: 'ready', httpPort, httpsPort, extra };
  process.send?.(ready);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'counts') {
      const reply: ChildReply = { id: message.id, type: 'counts', counts };
      process.send?.(reply);
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
  // The orchestrator gone (crash, Ctrl-C): do not linger.
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error('bench upstream failed:', error);
  process.exit(1);
});
