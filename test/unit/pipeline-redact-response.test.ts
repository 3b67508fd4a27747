import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  createRedactor,
  redactHeaders,
  redactResponse,
  redactionSecrets,
} from '../../src/pipeline/redact-response';
import type { UpstreamResponse } from '../../src/http/types';
import { readText as collect } from '../helpers/streams';

/** `text` cut into chunks of `size` bytes, pushed through a fresh redactor. */
function redactInChunks(text: string, secrets: string[], size: number): Promise<string> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return collect(Readable.from(chunks).pipe(createRedactor(secrets)));
}

describe('response redaction', () => {
  const secret = 'sk-live-0123456789';
  const text = `{"echo":"Bearer ${secret}","again":"${secret}${secret}","tail":"${secret.slice(0, 6)}"}`;
  const expected = `{"echo":"Bearer [REDACTED]","again":"[REDACTED][REDACTED]","tail":"sk-liv"}`;

  it.each([1, 2, 3, 5, 7, 17, 18, 19, 1000])(
    'redacts across chunk boundaries (chunks of %i bytes)',
    async (size) => {
      expect(await redactInChunks(text, [secret], size)).toBe(expected);
    },
  );

  it('prefers the longest secret at one position and keeps multi-byte text intact', async () => {
    const secrets = redactionSecrets(['abcd', 'abcdefgh', 'abcd', 'xy']);
    expect(secrets).toEqual(['abcdefgh', 'abcd']); // deduplicated, too-short dropped
    for (const size of [1, 3, 64]) {
      expect(await redactInChunks('é abcdefgh abcdzz ü', secrets, size)).toBe(
        'é [REDACTED] [REDACTED]zz ü',
      );
    }
  });

  it('redacts header values, repeated ones included', () => {
    expect(
      redactHeaders({ location: `https://x/?k=${secret}`, 'set-cookie': [`a=${secret}`, 'b=1'] }, [
        secret,
      ]),
    ).toEqual({ location: 'https://x/?k=[REDACTED]', 'set-cookie': ['a=[REDACTED]', 'b=1'] });
  });

  const response = (headers: UpstreamResponse['headers'], body: Buffer): UpstreamResponse => ({
    status: 200,
    headers,
    body: Readable.from([body]),
  });

  it('drops Content-Length (the length changes) and decodes a gzip echo', async () => {
    const plain = redactResponse(
      response({ 'content-length': String(text.length) }, Buffer.from(text)),
      [secret],
      'GET',
    );
    expect(plain.headers['content-length']).toBeUndefined();
    expect(await collect(plain.body)).toBe(expected);

    const zipped = redactResponse(
      response({ 'content-encoding': 'gzip' }, gzipSync(Buffer.from(text))),
      [secret],
      'GET',
    );
    expect(zipped.headers['content-encoding']).toBeUndefined();
    expect(await collect(zipped.body)).toBe(expected);
  });

  it('withholds a body in an encoding it cannot inspect', () => {
    expect(() =>
      redactResponse(response({ 'content-encoding': 'zstd' }, Buffer.from('x')), [secret], 'GET'),
    ).toThrow(expect.objectContaining({ code: 'VEC_PIPELINE_STAGE_FAILED' }));
  });

  it('leaves a HEAD answer its Content-Length', () => {
    const head = redactResponse(
      response({ 'content-length': '42' }, Buffer.alloc(0)),
      [secret],
      'HEAD',
    );
    expect(head.headers['content-length']).toBe('42');
  });
});
