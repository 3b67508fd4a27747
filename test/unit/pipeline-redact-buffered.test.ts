import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GatewayError } from '../../src/errors';
import {
  MAX_BUFFERED_REDACTION_BYTES,
  createRedactor,
  redactBytes,
  redactUpstreamResponse,
  redactionSecrets,
} from '../../src/pipeline/redact-response';
import type { HeaderMap, UpstreamResponse } from '../../src/http/types';
import { readText as collect } from '../helpers/streams';

function response(headers: HeaderMap, chunks: Array<Buffer | string>): UpstreamResponse {
  return { status: 200, headers, body: Readable.from(chunks.map((c) => Buffer.from(c))) };
}

/** Headers declaring `text`'s byte length, plus `extra`. */
function sized(text: string | Buffer, extra: HeaderMap = {}): HeaderMap {
  return { 'content-length': String(Buffer.byteLength(text)), ...extra };
}

describe('buffered response redaction (small plain bodies keep a Content-Length)', () => {
  const secret = 'sk-live-0123456789';
  const text = `{"echo":"Bearer ${secret}","again":"${secret}${secret}","tail":"${secret.slice(0, 6)}"}`;
  const expected = `{"echo":"Bearer [REDACTED]","again":"[REDACTED][REDACTED]","tail":"sk-liv"}`;

  it('reads a small body whole, redacts it and recomputes Content-Length', async () => {
    const half = Buffer.from(text).subarray(0, 25); // the first secret is cut in two
    const rest = Buffer.from(text).subarray(25);
    const answer = await redactUpstreamResponse(
      response(sized(text, { 'x-echo': secret, 'content-type': 'application/json' }), [half, rest]),
      [secret],
      'GET',
    );
    expect(answer.headers).toEqual({
      'content-length': String(Buffer.byteLength(expected)),
      'x-echo': '[REDACTED]',
      'content-type': 'application/json',
    });
    expect(answer.body.readableObjectMode).toBe(false);
    expect(await collect(answer.body)).toBe(expected);
  });

  it('keeps the bytes and the length of a body without secrets, and of an empty one', async () => {
    const plain = await redactUpstreamResponse(
      response(sized('{"ok":true}'), ['{"ok":true}']),
      [secret],
      'GET',
    );
    expect(plain.headers['content-length']).toBe('11');
    expect(await collect(plain.body)).toBe('{"ok":true}');

    const empty = await redactUpstreamResponse(response(sized(''), []), [secret], 'GET');
    expect(empty.headers['content-length']).toBe('0');
    expect(await collect(empty.body)).toBe('');
  });

  it('gives the same bytes as the streaming redactor, the longest secret winning', async () => {
    const secrets = redactionSecrets(['abcd', 'abcdefgh', 'cdef', 'ü-key']);
    const body = 'é abcdefgh abcdzz abcdef xabcdabcdefghü-keyü-ke abcdefg';
    const whole = redactBytes(Buffer.from(body), secrets).toString();
    expect(whole).toBe(
      'é [REDACTED] [REDACTED]zz [REDACTED]ef x[REDACTED][REDACTED][REDACTED]ü-ke [REDACTED]efg',
    );
    for (const size of [1, 2, 3, 5, 8]) {
      const bytes = Buffer.from(body);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(await collect(Readable.from(chunks).pipe(createRedactor(secrets)))).toBe(whole);
    }
    const answer = await redactUpstreamResponse(response(sized(body), [body]), secrets, 'GET');
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(whole)));
    expect(await collect(answer.body)).toBe(whole);
  });

  it('streams server-sent events, even with a Content-Length', async () => {
    const events = `data: ${secret}\n\n`;
    const answer = await redactUpstreamResponse(
      response(sized(events, { 'content-type': 'text/event-stream; charset=utf-8' }), [events]),
      [secret],
      'GET',
    );
    expect(answer.headers['content-length']).toBeUndefined();
    expect(await collect(answer.body)).toBe('data: [REDACTED]\n\n');
  });

  it('streams a body larger than the limit, or of unknown length, without waiting for its end', async () => {
    const big = 'x'.repeat(MAX_BUFFERED_REDACTION_BYTES) + secret;
    const large = await redactUpstreamResponse(response(sized(big), [big]), [secret], 'GET');
    expect(large.headers['content-length']).toBeUndefined();
    expect(await collect(large.body)).toBe('x'.repeat(MAX_BUFFERED_REDACTION_BYTES) + '[REDACTED]');

    // Unknown length: handed back before the upstream has sent anything.
    const upstream = new PassThrough();
    const open = await redactUpstreamResponse(
      { status: 200, headers: {}, body: upstream },
      [secret],
      'GET',
    );
    expect(open.headers['content-length']).toBeUndefined();
    upstream.end(`a ${secret}`);
    expect(await collect(open.body)).toBe('a [REDACTED]');
  });

  it('streams a compressed body (decoded, the compressed length no longer applies)', async () => {
    const zipped = gzipSync(Buffer.from(text));
    const answer = await redactUpstreamResponse(
      response(sized(zipped, { 'content-encoding': 'gzip' }), [zipped]),
      [secret],
      'GET',
    );
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(answer.headers['content-length']).toBeUndefined();
    expect(await collect(answer.body)).toBe(expected);
  });

  it('falls back to streaming when a body sends more than it declared', async () => {
    const answer = await redactUpstreamResponse(
      response({ 'content-length': '4' }, [`${secret} `, `${secret}`]),
      [secret],
      'GET',
    );
    expect(answer.headers['content-length']).toBeUndefined();
    expect(await collect(answer.body)).toBe('[REDACTED] [REDACTED]');
  });

  it('rejects with the error of a body that fails while read (the size limit holds)', async () => {
    const body = new PassThrough();
    const pending = redactUpstreamResponse(
      { status: 200, headers: { 'content-length': '100' }, body },
      [secret],
      'GET',
    );
    body.write('partial');
    body.destroy(new GatewayError('VEC_RESPONSE_TOO_LARGE'));
    await expect(pending).rejects.toMatchObject({ code: 'VEC_RESPONSE_TOO_LARGE' });
  });

  it('leaves bodiless answers their declared length', async () => {
    const head = await redactUpstreamResponse(
      response({ 'content-length': '42' }, []),
      [secret],
      'HEAD',
    );
    expect(head.headers['content-length']).toBe('42');
  });
});

describe('buffered response redaction of a body the upstream client already read (bytes)', () => {
  const secret = 'sk-live-0123456789';
  const text = `{"echo":"Bearer ${secret}","again":"${secret}${secret}","tail":"${secret.slice(0, 6)}"}`;
  const expected = `{"echo":"Bearer [REDACTED]","again":"[REDACTED][REDACTED]","tail":"sk-liv"}`;

  /** As the upstream client hands it on with bufferUpTo: `bytes`, and `body` over the same bytes. */
  function read(headers: HeaderMap, bytes: Buffer): UpstreamResponse {
    return { status: 200, statusMessage: 'OK', headers, body: Readable.from([bytes]), bytes };
  }

  it('redacts `bytes` in one pass: redacted body, its Content-Length, `bytes` equal to the body', async () => {
    const bytes = Buffer.from(text);
    const answer = await redactUpstreamResponse(
      read(sized(text, { 'content-type': 'application/json', 'x-echo': secret }), bytes),
      [secret],
      'GET',
    );
    expect(answer.status).toBe(200);
    expect(answer.statusMessage).toBe('OK');
    expect(answer.headers).toEqual({
      'content-length': String(Buffer.byteLength(expected)),
      'content-type': 'application/json',
      'x-echo': '[REDACTED]',
    });
    expect(answer.bytes?.toString()).toBe(expected);
    expect(answer.body.readableObjectMode).toBe(false);
    const body = await collect(answer.body);
    expect(body).toBe(expected);
    expect(Buffer.byteLength(body)).toBe(Number(answer.headers['content-length']));
    // The caller's buffer is not written over.
    expect(bytes.toString()).toBe(text);
  });

  it('takes `bytes` as the body, without reading the body stream', async () => {
    const bytes = Buffer.from(text);
    const untouched = new PassThrough(); // never ends: reading it would hang
    const answer = await redactUpstreamResponse(
      { status: 200, headers: sized(text), body: untouched, bytes },
      [secret],
      'GET',
    );
    expect(answer.bytes?.toString()).toBe(expected);
    expect(await collect(answer.body)).toBe(expected);
    expect(untouched.readableFlowing).not.toBe(true);
  });

  it('keeps a body without secrets as is, and an empty one at length 0', async () => {
    const plain = Buffer.from('{"ok":true}');
    const same = await redactUpstreamResponse(read(sized(plain), plain), [secret], 'GET');
    expect(same.headers['content-length']).toBe('11');
    expect(same.bytes?.equals(plain)).toBe(true);
    expect(await collect(same.body)).toBe('{"ok":true}');

    const empty = await redactUpstreamResponse(read(sized(''), Buffer.alloc(0)), [secret], 'GET');
    expect(empty.headers['content-length']).toBe('0');
    expect(empty.bytes?.length).toBe(0);
    expect(await collect(empty.body)).toBe('');
  });

  it('gives the same bytes as the streaming redactor for multi-byte text and overlapping secrets', async () => {
    const secrets = redactionSecrets(['abcd', 'abcdefgh', 'cdef', 'ü-key']);
    const body = Buffer.from('é abcdefgh abcdzz abcdef xabcdabcdefghü-keyü-ke abcdefg');
    const streamed = await collect(Readable.from([body]).pipe(createRedactor(secrets)));
    const answer = await redactUpstreamResponse(read(sized(body), body), secrets, 'GET');
    expect(answer.bytes?.toString()).toBe(streamed);
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(streamed)));
    expect(await collect(answer.body)).toBe(streamed);
  });

  it('decodes a compressed body that was read whole, and drops `bytes` (they are the compressed ones)', async () => {
    const zipped = gzipSync(Buffer.from(text));
    const answer = await redactUpstreamResponse(
      read(sized(zipped, { 'content-encoding': 'gzip' }), zipped),
      [secret],
      'GET',
    );
    expect(answer.bytes).toBeUndefined();
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(answer.headers['content-length']).toBeUndefined();
    expect(await collect(answer.body)).toBe(expected);
  });
});
