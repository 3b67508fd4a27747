/**
 * A stand-in for Seq's ingestion endpoint, `POST /api/events/raw`. It records each request as
 * seq-logging 2 (under @datalust/winston-seq 2) sends it: `Content-Type: application/json`
 * and the "raw" JSON format `{"Events":[{"Timestamp","Level","MessageTemplate","Properties"}]}`,
 * which Seq accepts on that endpoint beside CLEF.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RawSeqEvent {
  Timestamp: string;
  Level?: string;
  MessageTemplate: string;
  Exception?: string;
  Properties?: Record<string, unknown>;
}

export interface SeqRequest {
  headers: IncomingHttpHeaders;
  body: string;
  events: RawSeqEvent[];
}

export interface FakeSeq {
  readonly url: string;
  readonly requests: SeqRequest[];
  /** Resolves once `count` events in all have arrived. */
  eventsReceived(count: number): Promise<RawSeqEvent[]>;
  close(): Promise<void>;
}

export async function startFakeSeq(options: { status?: number } = {}): Promise<FakeSeq> {
  const requests: SeqRequest[] = [];
  const waiters: { count: number; resolve: (events: RawSeqEvent[]) => void }[] = [];
  const allEvents = (): RawSeqEvent[] => requests.flatMap((request) => request.events);
  const settleWaiters = (): void => {
    for (const waiter of waiters.splice(0)) {
      if (allEvents().length >= waiter.count) waiter.resolve(allEvents());
      else waiters.push(waiter);
    }
  };

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/api/events/raw') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = options.status ?? 201;
      if (status === 201) {
        const parsed = JSON.parse(body) as { Events: RawSeqEvent[] };
        requests.push({ headers: req.headers, body, events: parsed.Events });
      }
      res.writeHead(status, { 'Content-Type': 'application/json' }).end('{}');
      settleWaiters();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    eventsReceived: (count) =>
      new Promise((resolve) => {
        waiters.push({ count, resolve });
        settleWaiters();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL where nothing listens: a server's port, after that server has closed. */
export async function deadSeqUrl(): Promise<string> {
  const seq = await startFakeSeq();
  await seq.close();
  return seq.url;
}
