/**
 * Micro-benchmark of response redaction: µs per 16 KiB chunk, for the secret sets the inject
 * stage records (one bearer token; a basic-auth user name, password and their base64), over a
 * JSON body without any echo (the common case) and one with an echo in every form. Each figure
 * is the best of several batches (the machine may be shared); the first line of each pair is a
 * search for the verbatim values only (Buffer#indexOf), the floor any redaction pays.
 *
 *   npx ts-node --transpile-only bench/redaction.ts
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { redactBytes, redactionSecrets } from '../src/pipeline/redact-response';

const CHUNK = 16 * 1024;

/** A JSON-ish body of `size` bytes: words, numbers, ids and a base64 blob. */
function body(size: number, echo: string[]): Buffer {
  const parts: string[] = [];
  let length = 0;
  let n = 0;
  while (length < size) {
    const item =
      n % 7 === 6 && echo.length > 0
        ? `{"echo":"${echo[n % echo.length]}"},`
        : `{"id":"${randomBytes(8).toString('hex')}","name":"Sample item ${n}","price":${n * 3.5},` +
          `"tags":["alpha","beta"],"blob":"${randomBytes(24).toString('base64')}"},`;
    parts.push(item);
    length += item.length;
    n++;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** The best of several batches, in µs per call. */
function best(run: () => void): number {
  for (let i = 0; i < 200; i++) run(); // warm up (and build the scanner)
  let fastest = Infinity;
  for (let batch = 0; batch < 10; batch++) {
    const started = performance.now();
    for (let i = 0; i < 200; i++) run();
    fastest = Math.min(fastest, ((performance.now() - started) * 1000) / 200);
  }
  return fastest;
}

function measure(name: string, chunk: Buffer, secrets: string[]): void {
  const ready = redactionSecrets(secrets);
  const needles = ready.map((secret) => Buffer.from(secret));
  const verbatim = best(() => needles.forEach((needle) => chunk.indexOf(needle)));
  const redaction = best(() => redactBytes(chunk, ready));
  console.log(
    `${name.padEnd(44)} ${redaction.toFixed(1).padStart(6)} µs per 16 KiB chunk` +
      ` (verbatim search only: ${verbatim.toFixed(1)} µs)`,
  );
}

const bearer = `sk-live-${randomBytes(20).toString('hex')}`;
const user = 'service-account';
const password = randomBytes(18).toString('base64');
const basic = [user, password, Buffer.from(`${user}:${password}`).toString('base64')];
const forms = (secret: string): string[] => [
  secret,
  secret.toUpperCase(),
  encodeURIComponent(secret),
  Buffer.from(secret).toString('hex'),
  Buffer.from(secret).toString('base64'),
  Buffer.from(secret).toString('base64url'),
];

measure('bearer token, no echo', body(CHUNK, []), [bearer]);
measure('bearer token, echoes in every form', body(CHUNK, forms(bearer)), [bearer]);
measure('basic auth (3 values), no echo', body(CHUNK, []), basic);
measure('basic auth (3 values), echoes in every form', body(CHUNK, basic.flatMap(forms)), basic);
// The slow case: every `%` makes the scanner try each position within one echo's reach before it.
const urlEncoded = Buffer.from(encodeURIComponent(body(CHUNK, []).toString()).slice(0, CHUNK));
measure('bearer token, URL-encoded page, no echo', urlEncoded, [bearer]);
