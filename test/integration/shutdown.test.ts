import { createServer, request } from 'node:http';
import { listen } from '../../src/server/listener';
import { startTestGateway } from '../helpers/gateway';
import { responseText } from '../helpers/streams';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const get = (port: number) => responseText(request({ host: '127.0.0.1', port, path: '/' }));

describe('graceful shutdown of a listener', () => {
  it('stops accepting, lets in-flight requests finish, then resolves', async () => {
    const arrived = deferred();
    const release = deferred();
    const server = createServer(async (_req, res) => {
      arrived.resolve();
      await release.promise;
      res.end('finished');
    });
    const listener = await listen('test', server, 0, '127.0.0.1');
    const port = listener.address().port;
    const inFlight = get(port);
    await arrived.promise;
    expect(listener.inFlight()).toBe(1);

    const closed = listener.close(10_000);
    await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    release.resolve();
    await expect(inFlight).resolves.toEqual({ status: 200, body: 'finished' });
    await expect(closed).resolves.toEqual({ dropped: 0 });
  });

  it('drops requests still running when the bound runs out', async () => {
    const arrived = deferred();
    const server = createServer(() => arrived.resolve()); // never answers
    const listener = await listen('test', server, 0, '127.0.0.1');
    const inFlight = get(listener.address().port);
    await arrived.promise;
    await expect(listener.close(20)).resolves.toEqual({ dropped: 1 });
    await expect(inFlight).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('reports a port already in use with VEC_SERVER_LISTEN_FAILED', async () => {
    const first = await listen('first', createServer(), 0, '127.0.0.1');
    try {
      await expect(
        listen('second', createServer(), first.address().port, '127.0.0.1'),
      ).rejects.toMatchObject({
        code: 'VEC_SERVER_LISTEN_FAILED',
        message: expect.stringContaining('EADDRINUSE'),
      });
    } finally {
      await first.close(0);
    }
  });
});

describe('gateway close', () => {
  it('closes the listeners, the cache and the database, once', async () => {
    const gateway = await startTestGateway();
    const url = gateway.urls.http;
    await gateway.close('test');
    await gateway.close('again');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await expect(gateway.database.ping()).rejects.toThrow();
  });
});
