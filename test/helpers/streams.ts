/** Reading a whole body stream in tests. */
import type { ClientRequest } from 'node:http';

/** Everything `stream` yields, as one Buffer (string chunks as UTF-8); empty for no stream. */
export async function readAll(stream: AsyncIterable<unknown> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Everything `stream` yields, decoded as UTF-8. */
export async function readText(stream: AsyncIterable<unknown> | undefined): Promise<string> {
  return (await readAll(stream)).toString('utf8');
}

/** Ends `req`; answers its response's status and body (UTF-8), or rejects with its error. */
export function responseText(req: ClientRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      readText(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    });
    req.on('error', reject);
    req.end();
  });
}
