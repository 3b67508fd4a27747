/**
 * An upstream that echoes an injected secret transformed (letter case, percent-encoding, hex,
 * base64 and base64url, base64 inside a larger blob at any byte offset), whole or cut anywhere
 * across chunks, hands the agent the redaction marker instead.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import {
  REDACTED,
  createRedactor,
  redactBytes,
  redactHeaders,
  redactionSecrets,
} from '../../src/pipeline/redact-response';
import { echoForms } from '../helpers/echo-forms';
import { readAll as collect } from '../helpers/streams';

function streamed(chunks: Buffer[], secrets: string[]): Promise<Buffer> {
  return collect(Readable.from(chunks).pipe(createRedactor(redactionSecrets(secrets))));
}

function whole(text: Buffer | string, secrets: string[]): Buffer {
  return redactBytes(Buffer.from(text), redactionSecrets(secrets));
}

/** The base64 characters of `secret` that do not depend on its neighbours, at byte offset `at`. */
function stableBase64(secret: string, at: number, url: boolean): string {
  const bytes = Buffer.from(secret);
  const text = Buffer.concat([Buffer.alloc(at), bytes]).toString(url ? 'base64url' : 'base64');
  return text.slice(Math.ceil((8 * at) / 6), Math.floor((8 * (at + bytes.length)) / 6));
}

// Characters that encoders treat differently: space, +, /, =, @, !, ~, %, a non-ASCII letter.
const SECRETS = ['sk-live-0123456789abcdefXYZ', 'p@ss w/rd+Tok=42!~%é', 'ABCdef%25ghi'];

describe.each(SECRETS)('echoes of the secret %j', (secret) => {
  const forms = Object.entries(echoForms(secret));

  it.each(forms)('redacts the %s form, whole and in a header', (_name, form) => {
    const text = `before ${form} after`;
    expect(whole(text, [secret]).toString()).toBe(`before ${REDACTED} after`);
    // Node hands header values over as latin1: one character per byte on the wire.
    const wire = Buffer.from(text).toString('latin1');
    expect(redactHeaders({ 'x-echo': [wire] }, redactionSecrets([secret]))).toEqual({
      'x-echo': [`before ${REDACTED} after`],
    });
  });

  it.each(forms)('redacts the %s form cut at every offset into two chunks', async (_n, form) => {
    const text = Buffer.from(`<${form}>${form}`);
    const expected = `<${REDACTED}>${REDACTED}`;
    for (let cut = 0; cut <= text.length; cut++) {
      const out = await streamed([text.subarray(0, cut), text.subarray(cut)], [secret]);
      expect([cut, out.toString()]).toEqual([cut, expected]);
    }
  });

  it.each(forms)('redacts the %s form streamed one byte at a time', async (_name, form) => {
    const text = Buffer.from(`x${form}y`);
    const bytes = [...text].map((b) => Buffer.from([b]));
    expect((await streamed(bytes, [secret])).toString()).toBe(`x${REDACTED}y`);
  });

  it.each([0, 1, 2])(
    'redacts its base64 and base64url inside a larger blob, at byte offset %i mod 3',
    (offset) => {
      for (const url of [false, true]) {
        for (const before of [offset, offset + 3, offset + 6]) {
          const blob = Buffer.concat([randomBytes(before), Buffer.from(secret), randomBytes(7)]);
          const encoded = blob.toString(url ? 'base64url' : 'base64');
          const out = whole(`"data":"${encoded}"`, [secret]).toString();
          expect(out).toContain(REDACTED);
          const stable = stableBase64(secret, offset, url);
          expect(out).not.toContain(stable);
          // At most the three unstable characters on either side of the secret survive.
          expect(out.length).toBeLessThanOrEqual(`"data":""`.length + encoded.length);
        }
      }
    },
  );
});

describe('transformed echoes, generated', () => {
  // Printable ASCII without the characters JSON or a header would escape.
  const secretArb = fc
    .string({
      unit: fc.constantFrom(
        ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/=: %!@'.split(''),
      ),
      minLength: 8,
      maxLength: 40,
    })
    .filter((s) => s.trim() === s);
  // Around the echo: stray `%`, hex digits and `+`, so cut-short encodings meet chunk ends.
  const fillerArb = fc.string({
    unit: fc.constantFrom(...'{}":, xyzQ\n%2Bb+'.split('')),
    maxLength: 12,
  });

  it('streams any form, cut anywhere, to the same bytes as a whole body, none left', async () => {
    await fc.assert(
      fc.asyncProperty(
        secretArb,
        fc.nat(),
        fillerArb,
        fillerArb,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
        async (secret, pick, before, after, sizes) => {
          const forms = Object.values(echoForms(secret));
          const form = forms[pick % forms.length];
          const text = Buffer.from(`${before}${form}${after}`);
          const chunks: Buffer[] = [];
          for (let i = 0, k = 0; i < text.length; k++) {
            const size = sizes[k % sizes.length];
            chunks.push(text.subarray(i, i + size));
            i += size;
          }
          const expected = whole(text, [secret]);
          const out = await streamed(chunks, [secret]);
          expect(out.toString()).toBe(expected.toString());
          expect(out.toString()).toContain(REDACTED);
          expect(out.toString().includes(form)).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('leaves text without the secret as it was', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom(...'abcXYZ019 %+=/'.split('')), maxLength: 200 }),
        async (text) => {
          const secret = 'Qk9zZWNyZXQtdmFsdWUtIQ'; // no form of it can be spelt with those characters
          expect((await streamed([Buffer.from(text)], [secret])).toString()).toBe(text);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('non-ASCII values', () => {
  it('redacts a value injected in a header as latin1 and echoed in a header or body so', () => {
    // Node sends a header value one byte per character, and reads it back the same way.
    const secret = 'pässwörd-Ärger-42';
    const secrets = redactionSecrets([secret]);
    expect(redactHeaders({ 'x-echo': `a ${secret.toUpperCase()} b` }, secrets)).toEqual({
      'x-echo': `a ${REDACTED} b`,
    });
    expect(whole(Buffer.from(`a ${secret} b`, 'latin1'), [secret]).toString()).toBe(
      `a ${REDACTED} b`,
    );
    expect(whole(`a ${secret} b`, [secret]).toString()).toBe(`a ${REDACTED} b`);
  });
});

describe('redaction thresholds', () => {
  it('redacts a short secret (4 to 7 characters) in any letter case and percent-encoded only', () => {
    const secret = 'k3Y+z';
    const base64 = Buffer.from(secret).toString('base64');
    const text = `${secret.toUpperCase()} k3Y%2bz ${base64}`;
    expect(whole(text, [secret]).toString()).toBe(`${REDACTED} ${REDACTED} ${base64}`);
  });

  it('holds back no more than an echo that could still become a secret', async () => {
    const redactor = createRedactor(redactionSecrets(['sk-live-0123456789']));
    const out: string[] = [];
    redactor.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    redactor.write('data: first\n\n');
    redactor.write('data: sk-live-');
    await new Promise(setImmediate);
    expect(out.join('')).toBe('data: first\n\ndata: ');
    redactor.end('0123456789\n\n');
    await new Promise((resolve) => redactor.on('end', resolve));
    expect(out.join('')).toBe(`data: first\n\ndata: ${REDACTED}\n\n`);
  });
});
