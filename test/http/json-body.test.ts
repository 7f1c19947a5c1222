import { describe, expect, test } from 'bun:test';
import { parseJsonBody } from '../../src/http/json-body';
import { useListeningTestApp } from '../support/app';

describe('parseJsonBody', () => {
  test('keeps fractional and huge numbers as the text the client wrote', () => {
    expect(parseJsonBody('{"a":0.10,"b":1e3,"c":12345678901234567890,"d":[2.50]}')).toEqual({
      a: '0.10',
      b: '1e3',
      c: '12345678901234567890',
      d: ['2.50'],
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
});

describe('body limits on a listening server', () => {
  const server = useListeningTestApp();

  const post = (body: string) =>
    fetch(`${server.url}/api/loans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  test('answers a 100 KiB body with a 413 problem', async () => {
    const response = await post(
      JSON.stringify({ borrower_id: 'x'.repeat(100 * 1024), amount: 1, currency: 'USD' }),
    );
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  });

  test('refuses a 5 MiB body without reading it', async () => {
    const response = await post(' '.repeat(5 * 1024 * 1024));
    expect(response.status).toBe(413);
  });

  test('takes a body just under 64 KiB', async () => {
    const body = JSON.stringify({ borrower_id: 'b', amount: 1, currency: 'USD' });
    const response = await post(body + ' '.repeat(64 * 1024 - body.length));
    expect(response.status).toBe(201);
  });
});
