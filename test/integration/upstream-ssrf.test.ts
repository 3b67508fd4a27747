/**
 * The SSRF guard inside the upstream client, against a real local server: a blocked answer never
 * reaches the server, and the address that was checked is the one dialled (no second lookup).
 */
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../../src/config/schema';
import { GatewayError } from '../../src/errors';
import type { ProxyRequest } from '../../src/http/types';
import { createUpstreamClient } from '../../src/proxy/upstream';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { testConfig } from '../helpers/gateway';

const PROXY: ProxyConfig = testConfig().System.Proxy;

let server: Server;
let port: number;
let connections: number;
let received: IncomingMessage[];
const clients: UpstreamClient[] = [];

beforeEach(async () => {
  connections = 0;
  received = [];
  server = createServer((req, res) => {
    received.push(req);
    res.end('reached');
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  server.closeAllConnections();
  server.close();
});

/** A DNS that gives the next answer of `answers` on each call (the last one repeats). */
function scriptedDns(...answers: string[][]) {
  const calls: string[] = [];
  const lookup = async (host: string): Promise<LookupAddress[]> => {
    calls.push(host);
    const answer = answers[Math.min(calls.length, answers.length) - 1];
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { lookup, calls };
}

function client(allowlist: string, lookup?: ReturnType<typeof scriptedDns>['lookup']) {
  const created = createUpstreamClient({ ...PROXY, NetworkAllowlist: allowlist }, { lookup });
  clients.push(created);
  return created;
}

function get(host: string): ProxyRequest {
  return { method: 'GET', scheme: 'http', host, port, path: '/', headers: {}, upgrade: false };
}

async function blocked(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe('VEC_UPSTREAM_BLOCKED');
  expect(connections).toBe(0);
  return error as GatewayError;
}

async function body(promise: Promise<{ body: NodeJS.ReadableStream }>): Promise<string> {
  let text = '';
  for await (const chunk of (await promise).body) text += chunk;
  return text;
}

describe('upstream client: SSRF defence', () => {
  it('blocks a rebinding answer that mixes a public address with 127.0.0.1', async () => {
    const dns = scriptedDns(['93.184.216.34', '127.0.0.1']);
    const error = await blocked(client('', dns.lookup).send(get('rebind.test')));
    expect(error.message).toContain('rebind.test');
    expect(error.message).toContain('loopback');
  });

  it('blocks when one address of an otherwise allowed answer is private', async () => {
    const dns = scriptedDns(['127.0.0.1', '10.0.0.1']);
    const error = await blocked(client('127.0.0.0/8', dns.lookup).send(get('mixed.test')));
    expect(error.message).toContain('private');
  });

  it('dials the checked address and checks again on every request (no second lookup)', async () => {
    const dns = scriptedDns(['127.0.0.1'], ['10.0.0.1']);
    const upstream = client('127.0.0.0/8', dns.lookup);
    // `.test` never resolves in real DNS: reaching the server proves the agent dialled the
    // address the guard checked instead of looking the name up again.
    expect(await body(upstream.send(get('api.rebind.test')))).toBe('reached');
    expect(dns.calls).toEqual(['api.rebind.test']);
    expect(received[0].headers.host).toBe(`api.rebind.test:${port}`);
    // The name now points elsewhere: a pooled socket to 127.0.0.1 must not be reused for it.
    const refusal = await upstream.send(get('api.rebind.test')).catch((caught: unknown) => caught);
    expect((refusal as GatewayError).code).toBe('VEC_UPSTREAM_BLOCKED');
    expect(dns.calls).toHaveLength(2);
    expect(received).toHaveLength(1);
  });

  it('blocks a metadata address even when its range is allow-listed', async () => {
    const dns = scriptedDns(['169.254.169.254']);
    const upstream = client('169.254.0.0/16,127.0.0.0/8', dns.lookup);
    const error = await blocked(upstream.send(get('metadata.test')));
    expect(error.message).toContain('cloud metadata');
    expect((await blocked(upstream.send(get('169.254.169.254')))).message).toContain('metadata');
    expect((await blocked(upstream.send(get('::ffff:169.254.169.254')))).message).toContain(
      'metadata',
    );
  });

  it('blocks the IPv4-mapped ::ffff:127.0.0.1, as a literal and as a DNS answer', async () => {
    await blocked(client('').send(get('::ffff:127.0.0.1')));
    await blocked(client('', scriptedDns(['::ffff:127.0.0.1']).lookup).send(get('mapped.test')));
  });

  it('treats ::ffff:127.0.0.1 as 127.0.0.1 when 127.0.0.0/8 is allowed, and dials it', async () => {
    expect(await body(client('127.0.0.0/8').send(get('::ffff:127.0.0.1')))).toBe('reached');
  });

  it('blocks IPv6 forms that carry a loopback IPv4 even when 127.0.0.0/8 is allowed', async () => {
    const upstream = client('127.0.0.0/8');
    for (const host of ['2002:7f00:1::1', '::127.0.0.1', '64:ff9b::127.0.0.1']) {
      const error = await blocked(upstream.send(get(host)));
      expect(error.message).toContain('carrying a loopback IPv4');
    }
  });

  it('blocks 127.0.0.1 and localhost without an allow-list', async () => {
    await blocked(client('').send(get('127.0.0.1')));
    await blocked(client('', scriptedDns(['127.0.0.1', '::1']).lookup).send(get('localhost')));
  });
});
