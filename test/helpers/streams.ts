/** Reading a whole body stream in tests. */

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
