import { beforeAll, describe, expect, test } from 'bun:test';
import { parseJsonBody } from '../../src/http/json-body';
import { Problem } from '../../src/http/problem';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../src/modules/keys/repository';
import { type TestApp, useListeningTestApp } from '../support/app';

const OFFICER = { authorization: 'Bearer dev-officer-key' };
const withKeys = (app: TestApp) =>
  beforeAll(() => createApiKeyRepository(app.database.db).upsert(developmentKeys));

const refusal = (text: string) => {
  try {
    parseJsonBody(text);
  } catch (error) {
    return error instanceof Problem ? { status: error.status, detail: error.detail } : error;
  }
  return 'parsed';
};

describe('parseJsonBody', () => {
  test('keeps fractional and huge numbers as the text the client wrote', () => {
    expect(parseJsonBody('{"a":0.10,"b":1e3,"c":12345678901234567890,"d":[2.50],"e":6.5}')).toEqual({
      a: '0.10',
      b: '1e3',
      c: '12345678901234567890',
      d: ['2.50'],
      e: '6.5',
    });
  });

  test('leaves safe integers, strings and other values as they are', () => {
    expect(parseJsonBody('{"a":6,"b":"7.5","c":true,"d":null,"e":-3}')).toEqual({
      a: 6,
      b: '7.5',
      c: true,
      d: null,
      e: -3,
    });
  });

  test('reads an integer written with a zero fraction as that integer', () => {
    expect(parseJsonBody('{"a":6.0,"b":360.000,"c":-2.0,"d":9007199254740993.0}')).toEqual({
      a: 6,
      b: 360,
      c: -2,
      // Not a safe integer: as a JS number it would be ...992, so it stays as written.
      d: '9007199254740993.0',
    });
  });

  test.each([
    ['a lone high surrogate in a value', '{"a":"\\ud800"}', 'lone surrogate'],
    ['a lone low surrogate in a value', '{"a":["x\\udc00y"]}', 'lone surrogate'],
    ['a lone surrogate in a key', '{"\\ud800":1}', 'lone surrogate'],
    ['a NUL in a value', '{"a":"x\\u0000"}', 'NUL'],
    ['a NUL in a key', '{"\\u0000":1}', 'NUL'],
  ])('refuses %s with 400', (_name, text, detail) => {
    expect(refusal(text)).toEqual({ status: 400, detail: expect.stringContaining(detail) });
  });

  test('takes a surrogate pair (an emoji written as two escapes)', () => {
    expect(parseJsonBody('{"a":"\\ud83d\\ude00"}')).toEqual({ a: '\u{1F600}' });
  });
});

describe('bodies and encodings on a listening server', () => {
  const server = useListeningTestApp();
  withKeys(server);

  const post = (
    body: string | Buffer,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) => fetch(`${server.url}/api/loans`, { method: 'POST', headers: { ...OFFICER, ...headers }, body });
  const loan = { borrower_id: 'usr_encoding', amount: '10.00', currency: 'KES' };
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));

  const expectProblem = async (response: Response, status: number, detail: string) => {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toStartWith('application/problem+json');
    expect(response.headers.get('x-request-id')).toBeString();
    expect(((await response.json()) as { detail: string }).detail).toContain(detail);
  };

  test('answers an empty body sent as application/json with 400 saying it is empty, not 415', async () => {
    await expectProblem(await post(''), 400, 'empty');
    await expectProblem(await post('', {}), 400, 'empty');
  });

  test.each([
    ['a Latin-1 é', bytes('{"borrower_id":"Jos', [0xe9], '","amount":"10.00","currency":"KES"}')],
    ['a stray continuation byte', bytes('{"borrower_id":"a', [0x80], '","amount":"10.00","currency":"KES"}')],
    [
      'an overlong encoding of "/"',
      bytes('{"borrower_id":"a', [0xc0, 0xaf], '","amount":1,"currency":"KES"}'),
    ],
    [
      'a surrogate encoded in UTF-8',
      bytes('{"borrower_id":"a', [0xed, 0xa0, 0x80], '","amount":1,"currency":"KES"}'),
    ],
  ])('refuses a body with %s (not UTF-8) with 400, storing nothing as U+FFFD', async (_name, body) => {
    await expectProblem(await post(body), 400, 'UTF-8');
  });

  test('refuses a lone surrogate escape in a string with 400', async () => {
    await expectProblem(
      await post('{"borrower_id":"usr_\\ud800","amount":"10.00","currency":"KES"}'),
      400,
      'surrogate',
    );
  });

  test('refuses a body declared in another charset with 415', async () => {
    await expectProblem(
      await post(JSON.stringify(loan), { 'content-type': 'application/json; charset=iso-8859-1' }),
      415,
      'UTF-8',
    );
  });

  test('takes UTF-8 with a charset, with a byte order mark, and non-ASCII text', async () => {
    const withCharset = await post(JSON.stringify(loan), {
      'content-type': 'application/json; charset="UTF-8"',
    });
    const withBom = await post(`\uFEFF${JSON.stringify(loan)}`);
    const nonAscii = await post(JSON.stringify({ ...loan, borrower_id: 'usr_José_東京' }));
    expect([withCharset.status, withBom.status, nonAscii.status]).toEqual([201, 201, 201]);
    expect(((await nonAscii.json()) as { borrower_id: string }).borrower_id).toBe('usr_José_東京');
  });

  test('answers a 100 KiB body with a 413 problem', async () => {
    await expectProblem(
      await post(JSON.stringify({ ...loan, borrower_id: 'x'.repeat(100 * 1024) })),
      413,
      'larger than 64 KiB',
    );
  });

  test("a body over Bun's own limit gets Bun's bare 413: no problem body, no request id (README says so)", async () => {
    const response = await post(' '.repeat(5 * 1024 * 1024));
    expect(response.status).toBe(413);
    expect(response.headers.get('x-request-id')).toBeNull();
    expect(await response.text()).toBe('');
  });

  test('takes a body just under 64 KiB', async () => {
    const body = JSON.stringify(loan);
    expect((await post(body + ' '.repeat(64 * 1024 - body.length))).status).toBe(201);
  });
});
