import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_BODY_BYTES } from '../../src/http/json-body';
import { Problem, type ProblemStatus, RETRY_AFTER_UNAVAILABLE_SECONDS } from '../../src/http/problem';
import { useTestApp } from '../support/app';
import { missingTools } from '../support/tools';

// caddy/Caddyfile as the installed Caddy (Debian's 2.6) reads it: validated, formatted, and adapted to
// Caddy's JSON to check what each setting becomes. The behaviour itself is driven in https-edge.test.ts.

const repoRoot = new URL('../..', import.meta.url).pathname;
const caddyfile = join(repoRoot, 'caddy/Caddyfile');
const caddyMissing = missingTools('Caddyfile checks', { caddy: Bun.which('caddy') });

// validate provisions the local CA: keep it out of the user's own Caddy data.
const home = mkdtempSync(join(tmpdir(), 'branch-loans-caddyfile-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function caddy(args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync(['caddy', ...args, '--config', caddyfile, '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      ...env,
    },
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

type Json = Record<string, unknown>;

function adapt(env: Record<string, string> = {}): Json {
  const result = caddy(['adapt'], env);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Json;
}

/** Every object in the tree with `handler` equal to name. */
function handlers(node: unknown, name: string): Json[] {
  if (Array.isArray(node)) return node.flatMap((item) => handlers(item, name));
  if (!node || typeof node !== 'object') return [];
  const own = (node as Json).handler === name ? [node as Json] : [];
  return [...own, ...Object.values(node).flatMap((value) => handlers(value, name))];
}

const servers = (config: Json) =>
  Object.values(((config.apps as Json).http as Json).servers as Json) as {
    listen: string[];
    routes: unknown[];
    tls_connection_policies?: { match?: { sni: string[] }; protocol_min?: string; protocol_max?: string }[];
  }[];
const httpsServer = (config: Json) => {
  const found = servers(config).find((server) => server.tls_connection_policies);
  if (!found) throw new Error('no HTTPS server');
  return found;
};

describe.skipIf(caddyMissing)('caddy/Caddyfile', () => {
  const api = useTestApp();

  test('passes `caddy validate` on the installed Caddy', () => {
    const result = caddy(['validate']);
    expect(result.stdout + result.stderr).toContain('Valid configuration');
    expect(result.code).toBe(0);
  });

  test('is formatted as `caddy fmt` writes it', async () => {
    const result = Bun.spawnSync(['caddy', 'fmt', caddyfile]);
    expect(result.stdout.toString()).toBe(await Bun.file(caddyfile).text());
  });

  test('listens on 80 and 443 by default and on HTTP_PORT, HTTPS_PORT and CADDY_BIND when set', () => {
    const defaults = servers(adapt()).flatMap((server) => server.listen);
    expect(defaults.sort()).toEqual(['0.0.0.0:443', '0.0.0.0:80']);
    const moved = servers(adapt({ HTTP_PORT: '18080', HTTPS_PORT: '18443', CADDY_BIND: '127.0.0.1' }));
    expect(moved.flatMap((server) => server.listen).sort()).toEqual(['127.0.0.1:18080', '127.0.0.1:18443']);
  });

  test('serves branchloans.com and localhost over TLS 1.2 and 1.3 only, from the internal CA', () => {
    const config = adapt();
    const policy = httpsServer(config).tls_connection_policies?.find((p) => p.match);
    expect(policy?.match?.sni.sort()).toEqual(['branchloans.com', 'localhost']);
    expect(policy?.protocol_min).toBe('tls1.2');
    expect(policy?.protocol_max).toBe('tls1.3');
    const tls = JSON.stringify((config.apps as Json).tls);
    expect(tls).toContain('"module":"internal"');
    expect(JSON.stringify((config.apps as Json).pki)).toContain('"install_trust":false');
  });

  test('balances over API_UPSTREAMS (space-separated, default api:8000) with /health checks and retries', () => {
    const onlyProxy = (config: Json) => {
      const found = handlers(config, 'reverse_proxy');
      expect(found).toHaveLength(1);
      return found[0] as Json;
    };
    const dials = (proxy: Json) => (proxy.upstreams as { dial: string }[]).map((u) => u.dial);
    expect(dials(onlyProxy(adapt()))).toEqual(['api:8000']);
    const proxy = onlyProxy(adapt({ API_UPSTREAMS: '10.0.0.1:8000 10.0.0.2:8000 10.0.0.3:8000' }));
    expect(dials(proxy)).toEqual(['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000']);
    const health = (proxy.health_checks as Json).active as Json;
    expect(health.uri).toBe('/health');
    expect(health.expect_status).toBe(200);
    const balancing = proxy.load_balancing as Json;
    expect(balancing.try_duration).toBeGreaterThan(0);
    expect(balancing.try_interval).toBeGreaterThan(0);
  });

  test("caps request bodies at the API's own limit", () => {
    const config = adapt();
    expect(handlers(config, 'request_body').map((h) => h.max_size)).toEqual([MAX_BODY_BYTES]);
    expect(JSON.stringify(config)).toContain(`int({http.request.header.Content-Length}) > ${MAX_BODY_BYTES}`);
  });

  test("answers what it answers itself with the API's own problem for that status", async () => {
    const config = adapt();
    const answers = handlers(config, 'static_response')
      .filter((handler) => handler.body)
      .map((handler) => ({
        status: handler.status_code as ProblemStatus,
        body: JSON.parse(String(handler.body)),
      }));
    expect(answers.map((answer) => answer.status).sort()).toEqual([404, 413, 413, 500, 503]);
    for (const { status, body } of answers) {
      const { type, title } = new Problem(status, '').body;
      expect(body).toMatchObject({ type, title, status });
    }
    // Where the API answers the same request, the edge's body is the API's, word for word.
    const notFound = await api.req('/metrics/anything');
    expect(answers.find((answer) => answer.status === 404)?.body).toEqual(await notFound.json());
    for (const answer of answers.filter(({ status }) => status === 413)) {
      expect(answer.body.detail).toContain(`larger than ${MAX_BODY_BYTES / 1024} KiB`);
    }
    const retryAfter = handlers(config, 'headers').map((h) => (h.response as Json | undefined)?.set as Json);
    expect(retryAfter).toContainEqual({ 'Retry-After': [String(RETRY_AFTER_UNAVAILABLE_SECONDS)] });
  });

  test('compresses with zstd and gzip and writes JSON access logs to stdout', () => {
    const config = adapt();
    expect(handlers(config, 'encode')[0]?.prefer).toEqual(['zstd', 'gzip']);
    const logs = JSON.stringify((config.logging as Json).logs);
    expect(logs).toContain('"format":"json"');
    expect(logs).toContain('"output":"stdout"');
  });
});
