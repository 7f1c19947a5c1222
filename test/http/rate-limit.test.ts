import { describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { clientAddress, trustedProxyMatcher } from '../../src/http/client-address';
import { createTokenBuckets } from '../../src/http/rate-limit';
import { bearer, devKeys, type TestApp, useListeningTestApp, useTestApp } from '../support/app';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` over a raw TCP connection, as no
 * fetch() would: a bad Host, an empty one, HTTP/1.0 without one. The server closes after answering.
 */
function sendRaw(url: string, head: string, body = ''): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => {
      const length = body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '';
      socket.write(`${head}\r\n${length}Connection: close\r\n\r\n${body}`);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString();
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

const create = JSON.stringify({ borrower_id: 'usr_india_999', amount: '100.00', currency: 'INR' });
const someLoan = '/api/loans/00000000-0000-4000-8000-00000000abcd';

describe('token buckets', () => {
  test('allow a full minute of requests at once, then refill one every 60/N seconds', () => {
    let now = 0;
    const buckets = createTokenBuckets(3, () => now);
    expect([1, 2, 3].map(() => buckets.take('a').allowed)).toEqual([true, true, true]);
    const refused = buckets.take('a');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 20 });
    expect(buckets.take('b').allowed).toBeTrue();
    now += 20_000;
    expect(buckets.take('a').allowed).toBeTrue();
    expect(buckets.take('a').allowed).toBeFalse();
  });
});

describe('client address', () => {
  const trusted = trustedProxyMatcher(['10.0.0.1', '172.16.0.0/12']);

  test('is the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
  });

  test('is the nearest untrusted X-Forwarded-For hop behind trusted proxies', () => {
    expect(clientAddress('10.0.0.1', '1.2.3.4, 198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(clientAddress('172.20.0.5', '198.51.100.7, 172.18.0.2', trusted)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:10.0.0.1', '198.51.100.7', trusted)).toBe('198.51.100.7');
  });

  test('matches CIDR ranges exactly at their edges', () => {
    expect(trusted('172.31.255.255')).toBeTrue();
    expect(trusted('172.32.0.0')).toBeFalse();
    expect(trusted('172.15.255.255')).toBeFalse();
  });
});

describe('a request whose Host is missing or invalid', () => {
  const server = useListeningTestApp({ rateLimitPerMinute: 30 });

  test.each([
    ['an invalid Host', 'Host: a/b'],
    ['an empty Host', 'Host: '],
    ['a Host with a path', 'Host: localhost/api'],
    ['a Host with two ports', 'Host: a:b:c'],
  ])('%s is refused with a 400 problem', async (_, host) => {
    const response = await sendRaw(server.url, `GET /api/stats HTTP/1.1\r\n${host}`);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toStartWith('application/problem+json');
    expect(response.headers['x-request-id']).toBeString();
    expect(response.body).toContain('Host');
  });

  test('HTTP/1.0 without a Host is refused with a 400 problem', async () => {
    const response = await sendRaw(server.url, 'GET /api/stats HTTP/1.0');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toStartWith('application/problem+json');
  });

  test('cannot switch the limit off: 100 creates at a limit of 30 with `Host: a/b` create nothing', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const { status } = await sendRaw(
        server.url,
        'POST /api/loans HTTP/1.1\r\nHost: a/b\r\nContent-Type: application/json',
        create,
      );
      statuses.add(status);
    }
    expect([...statuses]).toEqual([400]);
    const stats = (await (await server.req('/api/stats')).json()) as { total_loans: number };
    expect(stats.total_loans).toBe(0);
  });

  test('a valid Host, with a port or as an address, is served', async () => {
    for (const host of ['localhost', `127.0.0.1:${new URL(server.url).port}`, '[::1]:8000']) {
      expect((await sendRaw(server.url, `GET /health HTTP/1.1\r\nHost: ${host}`)).status).toBe(200);
    }
  });
});

/** An officer key of its own for one test, so that it spends from buckets no other test touches. */
async function newOfficerKey(t: TestApp): Promise<string> {
  const response = await t
    .as(devKeys.admin)
    .post('/api/keys', { name: `rate limit ${crypto.randomUUID()}`, role: 'officer' });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

describe('the limit on a listening server', () => {
  // Each test is a client of its own (its own key, and its own address behind the proxy this test stands for).
  const server = useListeningTestApp({ rateLimitPerMinute: 30, trustedProxies: ['127.0.0.1'] });
  async function newClient(address: string) {
    const key = await newOfficerKey(server);
    return {
      headers: `Host: localhost\r\nX-Forwarded-For: ${address}\r\nAuthorization: Bearer ${key}`,
      fetch: (path: string) =>
        fetch(`${server.url}${path}`, { headers: { 'x-forwarded-for': address, ...bearer(key) } }),
    };
  }

  test('100 creates in a row at a limit of 30: 30 created, then 429 problems with Retry-After', async () => {
    const client = await newClient('198.51.100.1');
    const statuses: number[] = [];
    let last: RawResponse | undefined;
    for (let i = 0; i < 100; i++) {
      last = await sendRaw(
        server.url,
        `POST /api/loans HTTP/1.1\r\n${client.headers}\r\nContent-Type: application/json`,
        create,
      );
      statuses.push(last.status);
    }
    expect(statuses.filter((status) => status === 201)).toHaveLength(30);
    expect(statuses.slice(30).every((status) => status === 429)).toBeTrue();
    expect(last?.headers['content-type']).toStartWith('application/problem+json');
    expect(Number(last?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(last?.headers).toMatchObject({ 'ratelimit-limit': '30', 'ratelimit-remaining': '0' });
  });

  test('a Host of fewer than four characters does not skip the limit on a route with parameters', async () => {
    // Elysia's `path` is cut from request.url at its 12th character: with `Host: x` it reads "/loans/…".
    const client = await newClient('198.51.100.2');
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const head = `GET ${someLoan} HTTP/1.1\r\n${client.headers.replace('Host: localhost', 'Host: x')}`;
      statuses.push((await sendRaw(server.url, head)).status);
    }
    expect(statuses.slice(0, 30)).not.toContain(429);
    expect(statuses.slice(30)).toEqual(Array(10).fill(429));
  });

  test('counts and reports every /api request: RateLimit headers count down', async () => {
    const client = await newClient('198.51.100.3');
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await client.fetch('/api/stats');
      expect(response.headers.get('ratelimit-limit')).toBe('30');
      expect(Number(response.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      remaining.push(response.headers.get('ratelimit-remaining') ?? '');
    }
    expect(remaining).toEqual(['29', '28', '27']);
  });

  test('answers in the contract order: 404 unknown route, 401 credential, then 429 before the body is read', async () => {
    const client = await newClient('198.51.100.4');
    for (let i = 0; i < 30; i++) await client.fetch('/api/stats');
    const unknown = await sendRaw(server.url, `GET /api/nothing-here HTTP/1.1\r\n${client.headers}`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['ratelimit-limit']).toBeUndefined();
    const anonymous = await sendRaw(
      server.url,
      'GET /api/stats HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.4',
    );
    expect(anonymous.status).toBe(401);
    const malformed = await sendRaw(
      server.url,
      `POST /api/loans HTTP/1.1\r\n${client.headers}\r\nContent-Type: application/json`,
      '{"borrower_id":',
    );
    expect(malformed.status).toBe(429);
    const wrongType = await sendRaw(
      server.url,
      `POST /api/loans HTTP/1.1\r\n${client.headers}\r\nContent-Type: text/plain`,
      'hello',
    );
    expect(wrongType.status).toBe(429);
  });

  test('leaves health, readiness, metrics and docs alone', async () => {
    const client = await newClient('198.51.100.5');
    for (let i = 0; i < 30; i++) await client.fetch('/api/stats');
    for (const path of ['/health', '/ready', '/metrics', '/docs/json']) {
      const response = await client.fetch(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('the limit without a trusted proxy', () => {
  const server = useListeningTestApp({ rateLimitPerMinute: 3 });

  test('a spoofed X-Forwarded-For does not buy a fresh bucket', async () => {
    const key = await newOfficerKey(server);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${server.url}/api/loans`, {
        headers: { 'x-forwarded-for': `198.51.100.${i}`, ...bearer(key) },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('buckets per credential', () => {
  const t = useTestApp({ rateLimitPerMinute: 2 });
  const get = (authorization: string) =>
    t.req('/api/loans', { headers: { authorization } }).then((response) => response.status);

  test('each credential has its own bucket, apart from its address', async () => {
    const officer = `Bearer ${devKeys.officer}`;
    const admin = `Bearer ${devKeys.admin}`;
    expect([await get(officer), await get(officer), await get(officer)]).toEqual([200, 200, 429]);
    expect([await get(admin), await get(admin)]).toEqual([200, 200]);
  });

  test('failed credentials are counted on the address: random tokens cannot dodge the limit', async () => {
    const statuses = [await get('Bearer guess-1'), await get('Bearer guess-2'), await get('Bearer guess-3')];
    expect(statuses).toEqual([401, 401, 429]);
    // A working credential still has its own bucket.
    expect(await get(`Bearer ${devKeys.officer2}`)).toBe(200);
  });
});
