import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { Problem } from '../../src/http/problem';
import { type ApiProcess, createApiKeyWithCli, freePort, startApiProcess } from '../support/api-process';
import { createFreshDatabase } from '../support/postgres';
import { runToExit } from '../support/run';
import { missingTools } from '../support/tools';

// The real thing, end to end: two API processes on a fresh Postgres database, and Caddy running the repo's
// Caddyfile in front of them on loopback, with a brand-new local CA in a temporary data directory.

const repoRoot = new URL('../..', import.meta.url).pathname;
const caddyfile = join(repoRoot, 'caddy/Caddyfile');
const databaseUrl = process.env.DATABASE_URL || undefined;
const HOST = 'branchloans.com';

// Without a real Postgres this is the embedded pass: the Postgres pass runs it.
if (!databaseUrl) console.warn('[skip] the HTTPS edge end-to-end test: DATABASE_URL is not set');
const skip =
  !databaseUrl ||
  missingTools('the HTTPS edge end-to-end test', { caddy: Bun.which('caddy'), curl: Bun.which('curl') });

interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface Edge {
  httpPort: number;
  httpsPort: number;
  rootCa: string;
  rootCaPem: string;
}

const replicas: ApiProcess[] = [];
let caddy: Subprocess | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let workDir: string | undefined;
let edge: Edge;
/** An officer's API key in the run's database: every /api route needs one. */
let apiKey: string;

const curl = (args: string[]): Promise<CurlResult> =>
  runToExit(['curl', '--silent', '--show-error', '--max-time', '10', ...args]);

/** curl pointed at branchloans.com on the loopback edge, verifying against the run's local root CA. */
const curlEdge = (args: string[]) =>
  curl([
    '--resolve',
    `${HOST}:${edge.httpsPort}:127.0.0.1`,
    '--resolve',
    `${HOST}:${edge.httpPort}:127.0.0.1`,
    '--cacert',
    edge.rootCa,
    ...args,
  ]);

const httpsUrl = (path: string) => `https://${HOST}:${edge.httpsPort}${path}`;

/** Status line and headers of `curl --dump-header -`, names lower-cased. */
function parseHead(dump: string): { status: number; headers: Map<string, string> } {
  const blocks = dump.trim().split(/\r?\n\r?\n/);
  const lines = (blocks.at(-1) ?? '').split(/\r?\n/);
  const status = Number(lines[0]?.split(' ')[1]);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status, headers };
}

const head = async (args: string[]) => {
  const result = await curlEdge(['--output', '/dev/null', '--dump-header', '-', ...args]);
  expect(result.stderr).toBe('');
  return parseHead(result.stdout);
};

/** fetch through the edge the way a browser would, with the run's root CA as the only trust anchor. */
const fetchEdge = (path: string, init: RequestInit = {}) =>
  fetch(`https://127.0.0.1:${edge.httpsPort}${path}`, {
    ...init,
    headers: { host: HOST, authorization: `Bearer ${apiKey}`, ...init.headers },
    tls: { ca: edge.rootCaPem, serverName: HOST },
    signal: AbortSignal.timeout(10_000),
  });

/** Access-log lines of one API process for requests on one route. */
const servedRequests = (replica: ApiProcess, route: string) =>
  replica
    .logs()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"') && line.includes(`"route":"${route}"`)).length;

async function startCaddy(upstreams: string[]): Promise<Edge> {
  workDir = mkdtempSync(join(tmpdir(), 'branch-loans-edge-'));
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const output: string[] = [];
  caddy = Bun.spawn(['caddy', 'run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    cwd: workDir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: workDir,
      XDG_DATA_HOME: join(workDir, 'data'),
      XDG_CONFIG_HOME: join(workDir, 'config'),
      API_UPSTREAMS: upstreams.join(' '),
      HTTP_PORT: String(httpPort),
      HTTPS_PORT: String(httpsPort),
      CADDY_BIND: '127.0.0.1',
      CADDY_ADMIN: 'off',
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of caddy.stderr as ReadableStream<Uint8Array>) output.push(decoder.decode(chunk));
  })();
  void (async () => {
    for await (const chunk of caddy.stdout as ReadableStream<Uint8Array>) output.push(decoder.decode(chunk));
  })();

  const rootCa = join(workDir, 'data/caddy/pki/authorities/local/root.crt');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (caddy.exitCode !== null) throw new Error(`caddy exited with ${caddy.exitCode}:\n${output.join('')}`);
    if (existsSync(rootCa)) {
      edge = { httpPort, httpsPort, rootCa, rootCaPem: await Bun.file(rootCa).text() };
      const probe = await curlEdge([
        '--output',
        '/dev/null',
        '--write-out',
        '%{http_code}',
        httpsUrl('/health'),
      ]);
      if (probe.stdout === '200') return edge;
    }
    await Bun.sleep(100);
  }
  throw new Error(`caddy did not serve ${HOST} in time:\n${output.join('')}`);
}

function killEverything() {
  caddy?.kill('SIGKILL');
  for (const replica of replicas) replica.process.kill('SIGKILL');
}
process.once('exit', killEverything);

describe.skipIf(skip)('the HTTPS edge: Caddy in front of two API processes', () => {
  beforeAll(async () => {
    const fresh = await createFreshDatabase(databaseUrl as string);
    dropDatabase = fresh.drop;
    // Rate limiting is per client address; every request here comes from one, so it is off for this run.
    const env = { RATE_LIMIT_PER_MINUTE: '0', TRUSTED_PROXIES: '127.0.0.1' };
    const started = await Promise.allSettled([
      startApiProcess({ databaseUrl: fresh.url, env }),
      startApiProcess({ databaseUrl: fresh.url, env }),
    ]);
    for (const result of started) if (result.status === 'fulfilled') replicas.push(result.value);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    apiKey = await createApiKeyWithCli(fresh.url);
    await startCaddy(replicas.map((replica) => `127.0.0.1:${replica.port}`));
  }, 60_000);

  afterAll(async () => {
    if (caddy) {
      caddy.kill('SIGTERM');
      await Promise.race([caddy.exited, Bun.sleep(5_000)]);
      caddy.kill('SIGKILL');
    }
    await Promise.all(replicas.map((replica) => replica.stop('SIGKILL')));
    await dropDatabase?.();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }, 30_000);

  test('serves https://branchloans.com/health with a certificate that verifies against the local root CA', async () => {
    const verified = await curlEdge([
      '--write-out',
      '\n%{http_code} %{ssl_verify_result}',
      httpsUrl('/health'),
    ]);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toBe('{"status":"ok"}\n200 0');

    // Without that root the same certificate is untrusted: the check above is a real verification.
    const untrusted = await curl([
      '--resolve',
      `${HOST}:${edge.httpsPort}:127.0.0.1`,
      '--output',
      '/dev/null',
      httpsUrl('/health'),
    ]);
    expect(untrusted.code).toBe(60);
  });

  test('redirects plain HTTP to HTTPS with 308, keeping the path and query', async () => {
    const { status, headers } = await head([`http://${HOST}:${edge.httpPort}/api/loans?limit=2`]);
    expect(status).toBe(308);
    expect(headers.get('location')).toBe(httpsUrl('/api/loans?limit=2'));
    expect(headers.has('server')).toBe(false);
  });

  test('refuses a TLS 1.1 handshake with a protocol-version alert', async () => {
    // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so the refusal seen here is the server's.
    const result = await curlEdge([
      '--tlsv1.1',
      '--tls-max',
      '1.1',
      '--ciphers',
      'DEFAULT:@SECLEVEL=0',
      '--output',
      '/dev/null',
      httpsUrl('/health'),
    ]);
    expect(result.code).toBe(35);
    expect(result.stderr).toContain('alert protocol version');
  });

  test.each([
    ['1.2', ['--tlsv1.2', '--tls-max', '1.2']],
    ['1.3', ['--tlsv1.3']],
  ])('accepts a TLS %s handshake', async (version, flags) => {
    const result = await curlEdge([...flags, '--verbose', '--output', '/dev/null', httpsUrl('/health')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`SSL connection using TLSv${version}`);
  });

  test('sends HSTS, nosniff, Referrer-Policy and X-Frame-Options, and no Server header, on success and on error', async () => {
    const missingLoan = `/api/loans/${crypto.randomUUID()}`;
    for (const [path, expectedStatus] of [
      ['/health', 200],
      [missingLoan, 404],
    ] as const) {
      const { status, headers } = await head(['--header', `Authorization: Bearer ${apiKey}`, httpsUrl(path)]);
      expect(status).toBe(expectedStatus);
      expect(headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.has('server')).toBe(false);
    }
  });

  test('passes the client X-Request-Id through to the API and back', async () => {
    const { headers } = await head(['--header', 'X-Request-Id: edge-trace-42', httpsUrl('/health')]);
    expect(headers.get('x-request-id')).toBe('edge-trace-42');
  });

  test.each(['zstd', 'gzip'])(
    'compresses a large response with %s when the client accepts it',
    async (encoding) => {
      const { status, headers } = await head([
        '--header',
        `Accept-Encoding: ${encoding}`,
        httpsUrl('/docs/json'),
      ]);
      expect(status).toBe(200);
      expect(headers.get('content-encoding')).toBe(encoding);
    },
  );

  test('answers a body over 64 KiB with 413 problem+json at the edge and passes a smaller one to the API', async () => {
    const body = (padding: number) =>
      JSON.stringify({
        borrower_id: 'usr_edge',
        amount: '10.00',
        currency: 'INR',
        note: 'x'.repeat(padding),
      });
    const post = (payload: string) =>
      fetchEdge('/api/loans', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
      });

    const tooLarge = await post(body(70 * 1024));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toBe('application/problem+json');
    const { type, title } = new Problem(413, '').body;
    expect(await tooLarge.json()).toMatchObject({ type, title, status: 413 });

    // 60 KiB reaches the API, which refuses the unknown `note` property itself.
    const withinLimit = await post(body(60 * 1024));
    expect(withinLimit.status).toBe(422);
    expect(withinLimit.headers.get('x-request-id')).toBeTruthy();
  });

  test('keeps /metrics off the public edge', async () => {
    const response = await fetchEdge('/metrics');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  test('loses no request while one of two replicas is killed mid-stream', async () => {
    const total = 400;
    const concurrency = 6;
    // Late enough that the victim has written more access-log lines than the service buffers (4 KiB).
    const killAfter = 100;
    const [survivor, victim] = replicas as [ApiProcess, ApiProcess];
    const before = servedRequests(victim, '/api/loans');

    let sent = 0;
    let completed = 0;
    let killed = false;
    const failures: string[] = [];
    const deadline = Date.now() + 25_000;
    const worker = async () => {
      while (sent < total && Date.now() < deadline) {
        sent++;
        try {
          const response = await fetchEdge('/api/loans?limit=1');
          const body = await response.text();
          if (response.status !== 200 || !body.startsWith('[')) failures.push(`${response.status} ${body}`);
        } catch (error) {
          failures.push(String(error));
        }
        completed++;
        if (completed >= killAfter && !killed) {
          killed = true;
          victim.process.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));

    expect(killed).toBe(true);
    expect(await victim.exited).toBe(137);
    expect(failures).toEqual([]);
    expect(completed).toBe(total);
    // Both replicas took traffic before the kill, and the survivor carried the rest.
    expect(servedRequests(victim, '/api/loans')).toBeGreaterThan(before);
    expect(servedRequests(survivor, '/api/loans')).toBeGreaterThan(total / 2);
  }, 40_000);
});
