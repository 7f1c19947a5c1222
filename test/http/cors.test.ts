import { afterAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config';
import { type TestApp, useListeningTestApp, useTestApp } from '../support/app';
import { chromiumMissing, useChromium } from '../support/browser';

const OFFICE = 'https://office.example';
const EXPOSED = [
  'Location',
  'Link',
  'ETag',
  'X-Request-Id',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
];

const corsHeadersOf = (response: Response) =>
  [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

const preflight = (t: TestApp, origin: string, path = '/api/loans') =>
  t.req(path, {
    method: 'OPTIONS',
    headers: {
      // A browser sends no credential on a preflight.
      authorization: '',
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers':
        'authorization, content-type, idempotency-key, if-match, x-request-id',
    },
  });

describe('CORS for an origin in CORS_ORIGINS', () => {
  const t = useTestApp({ corsOrigins: [OFFICE, 'http://localhost:5173'] });

  test('gets Access-Control-Allow-Origin and the exposed headers, and the response varies by Origin', async () => {
    const response = await t.req('/api/loans', { headers: { origin: OFFICE } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(OFFICE);
    expect(response.headers.get('vary')).toBe('Origin');
    expect(response.headers.get('access-control-expose-headers')?.split(', ')).toEqual(
      expect.arrayContaining(EXPOSED),
    );
    // Bearer credentials travel in a header: no cookies, so no Allow-Credentials.
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  test('has its preflight answered 204 with the methods and headers the API takes, and no credential', async () => {
    const response = await preflight(
      t,
      'http://localhost:5173',
      '/api/loans/00000000-0000-4000-8000-000000000001',
    );
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(response.headers.get('access-control-allow-methods')?.split(', ')).toEqual([
      'GET',
      'POST',
      'PATCH',
      'DELETE',
    ]);
    expect(response.headers.get('access-control-allow-headers')?.split(', ')).toEqual([
      'Authorization',
      'Idempotency-Key',
      'If-Match',
      'Content-Type',
      'X-Request-Id',
    ]);
    expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(response.headers.get('vary')).toBe('Origin');
    expect(await response.text()).toBe('');
  });

  test('gets the CORS headers on an error too, so the page can read the problem', async () => {
    const response = await t.req('/api/no-such-route', { headers: { origin: OFFICE } });
    expect(response.status).toBe(404);
    expect(response.headers.get('access-control-allow-origin')).toBe(OFFICE);
  });

  test('another origin gets no CORS header, and its preflight the 404 of any OPTIONS request', async () => {
    const response = await t.req('/api/loans', { headers: { origin: 'https://evil.example' } });
    expect(response.status).toBe(200);
    expect(corsHeadersOf(response)).toEqual([]);
    expect(response.headers.get('vary')).toBe('Origin');
    const refused = await preflight(t, 'https://evil.example');
    expect(refused.status).toBe(404);
    expect(corsHeadersOf(refused)).toEqual([]);
  });

  test('an origin differing only in scheme, case or port is another origin', async () => {
    for (const origin of ['http://office.example', 'https://OFFICE.example', 'https://office.example:8443']) {
      const response = await t.req('/health', { headers: { origin } });
      expect(corsHeadersOf(response)).toEqual([]);
    }
  });
});

describe('CORS and the rate limit', () => {
  const t = useTestApp({ corsOrigins: [OFFICE], rateLimitPerMinute: 1 });

  test('a 429 carries the CORS headers, and preflights are never limited', async () => {
    await t.req('/api/stats', { headers: { origin: OFFICE } });
    const limited = await t.req('/api/stats', { headers: { origin: OFFICE } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe(OFFICE);
    for (let i = 0; i < 5; i++) {
      const response = await preflight(t, OFFICE);
      expect(response.status).toBe(204);
      expect(response.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('CORS_ORIGINS empty, the default', () => {
  const t = useTestApp();

  test('no CORS header at all, not even Vary, and a preflight is a 404', async () => {
    const response = await t.req('/api/loans', { headers: { origin: OFFICE } });
    expect(corsHeadersOf(response)).toEqual([]);
    expect(response.headers.get('vary')).toBeNull();
    const refused = await preflight(t, OFFICE);
    expect(refused.status).toBe(404);
    expect(corsHeadersOf(refused)).toEqual([]);
  });
});

describe('CORS_ORIGINS', () => {
  const corsOrigins = (value: string) => loadConfig({ APP_ENV: 'test', CORS_ORIGINS: value }).corsOrigins;

  test('is a comma-separated list of origins', () => {
    expect(corsOrigins(`${OFFICE}, http://localhost:5173`)).toEqual([OFFICE, 'http://localhost:5173']);
    expect(loadConfig({ APP_ENV: 'test' }).corsOrigins).toEqual([]);
  });

  test('refuses an entry that no browser sends as its Origin, naming the variable', () => {
    for (const entry of ['https://office.example/', 'office.example', 'https://Office.example', '*']) {
      expect(() => corsOrigins(entry)).toThrow(/^CORS_ORIGINS must list origins/);
    }
  });
});

const skip = chromiumMissing('CORS in a real browser');

// Two pages on origins of their own call the API, on a third: the browser itself preflights, checks the
// answer and decides what the page may read.
describe.skipIf(skip)('CORS in a real browser', () => {
  const page = (title: string) =>
    Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () =>
        new Response(`<!doctype html><title>${title}</title>`, { headers: { 'content-type': 'text/html' } }),
    });
  const office = page('back office');
  const stranger = page('another site');
  const api = useListeningTestApp({ corsOrigins: [office.url.origin], rateLimitPerMinute: 100 });
  const chromium = useChromium();
  afterAll(async () => {
    office.stop(true);
    stranger.stop(true);
  });

  /** Creates a loan from a page on `origin` with the headers a back office sends, which need a preflight. */
  async function createFrom(origin: string) {
    const tab = await chromium.browser.newPage();
    await tab.goto(origin);
    const result = await tab.evaluate(async (apiUrl) => {
      try {
        const response = await fetch(`${apiUrl}/api/loans`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer dev-officer-key',
            'content-type': 'application/json',
            'idempotency-key': crypto.randomUUID(),
          },
          body: JSON.stringify({ borrower_id: 'usr_india_999', amount: '100.00', currency: 'INR' }),
        });
        return {
          status: response.status,
          location: response.headers.get('location'),
          requestId: response.headers.get('x-request-id'),
          remaining: response.headers.get('ratelimit-remaining'),
        };
      } catch (error) {
        return { failed: String(error) };
      }
    }, api.url);
    await tab.close();
    return result;
  }

  test('a page on an allowed origin calls the API and reads the exposed headers', async () => {
    const result = await createFrom(office.url.origin);
    expect(result).toMatchObject({
      status: 201,
      location: expect.stringMatching(/^\/api\/loans\//),
      requestId: expect.any(String),
      remaining: expect.stringMatching(/^\d+$/),
    });
  });

  test('a page on any other origin is refused by the browser', async () => {
    expect(await createFrom(stranger.url.origin)).toEqual({ failed: 'TypeError: Failed to fetch' });
  });
});
