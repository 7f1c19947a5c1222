import { describe, expect, test } from 'bun:test';
import { useTestApp } from '../support/app';

// One sample line of the Prometheus text format: name, optional labels, a value (Prometheus reads NaN in any case).
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|nan|[+-]inf)$/i;

function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect(line).toMatch(SAMPLE);
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('GET /metrics', () => {
  const t = useTestApp();
  const scrape = async () => {
    const response = await t.req('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return parse(await response.text());
  };
  test('parses as Prometheus text and has process and pool metrics', async () => {
    const samples = await scrape();
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.has('nodejs_eventloop_lag_seconds')).toBeTrue();
    expect(samples.get('db_pool_max_connections')).toBeGreaterThanOrEqual(1);
    expect(samples.get('db_pool_queries_in_flight')).toBe(0);
  });

  test('counters move with traffic, labelled by route template', async () => {
    const before = await scrape();
    const created = await t.post('/api/loans', { borrower_id: 'm', amount: '10.00', currency: 'USD' });
    const { id } = (await created.json()) as { id: string };
    await t.req(`/api/loans/${id}`);
    await t.req('/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10');
    const after = await scrape();

    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(delta('loans_created_total')).toBe(1);
    expect(delta('loan_events_total{type="created"}')).toBe(1);
    expect(delta('http_requests_total{method="POST",route="/api/loans",status="201"}')).toBe(1);
    expect(delta('http_requests_total{method="GET",route="/api/loans/:id",status="200"}')).toBe(1);
    expect(delta('http_requests_total{method="GET",route="/api/loans/:id",status="404"}')).toBe(1);
    expect(
      delta('http_request_duration_seconds_count{method="GET",route="/api/loans/:id",status="200"}'),
    ).toBe(1);
    expect([...after.keys()].some((key) => key.includes(id))).toBeFalse();
  });

  test('a route that does not exist is counted as unmatched, not by its path', async () => {
    await t.req('/wp-admin/login.php');
    const samples = await scrape();
    expect(samples.get('http_requests_total{method="GET",route="unmatched",status="404"}')).toBeGreaterThan(
      0,
    );
    expect([...samples.keys()].some((key) => key.includes('wp-admin'))).toBeFalse();
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  const t = useTestApp({ metricsToken: 'a-long-enough-secret-token' });

  test('refuses a scrape without the bearer token', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-of-some-length']) {
      const response = await t.req('/metrics', { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  test('serves the metrics with it', async () => {
    const response = await t.req('/metrics', {
      headers: { authorization: 'Bearer a-long-enough-secret-token' },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('http_requests_total');
  });
});
