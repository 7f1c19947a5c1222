import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { missingTools } from '../support/tools';

// The monitoring profile's files: Prometheus' scrape configuration, Grafana's provisioning and the dashboard.
// promtool, where installed (Debian's `prometheus` package), checks the configuration and every query.

const repoRoot = new URL('../..', import.meta.url).pathname;
const read = (path: string) => Bun.file(join(repoRoot, path)).text();

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  authorization?: { type: string; credentials_file: string };
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
}
interface Target {
  expr: string;
  legendFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}

const prometheus = parse(await read('docker/prometheus/prometheus.yml')) as {
  scrape_configs: ScrapeConfig[];
};
const datasources = parse(await read('docker/grafana/provisioning/datasources/prometheus.yml')) as {
  datasources: { name: string; uid: string; type: string; url: string; isDefault: boolean }[];
};
const providers = parse(await read('docker/grafana/provisioning/dashboards/branch-loans.yml')) as {
  providers: { type: string; options: { path: string } }[];
};
const dashboard = JSON.parse(await read('docker/grafana/dashboards/branch-loans-api.json')) as {
  uid: string;
  panels: Panel[];
};
const compose = parse(await read('compose.yaml'), { merge: true }) as {
  services: Record<string, { volumes?: string[]; command?: string[] }>;
};

const panel = (title: string) => {
  const found = dashboard.panels.find((candidate) => candidate.title === title);
  if (!found) throw new Error(`no panel "${title}"`);
  return found;
};
const exprs = (title: string) => panel(title).targets.map((target) => target.expr);

const promtoolMissing = missingTools('promtool checks', { promtool: Bun.which('promtool') });
const scratch = mkdtempSync(join(tmpdir(), 'branch-loans-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('Prometheus configuration', () => {
  const api = prometheus.scrape_configs.find((config) => config.job_name === 'branch-loans-api');

  test("scrapes /metrics on port 8000 of every address Docker's DNS gives for `api`", () => {
    expect(api?.metrics_path).toBe('/metrics');
    expect(api?.dns_sd_configs).toEqual([expect.objectContaining({ names: ['api'], type: 'A', port: 8000 })]);
  });

  test('sends the bearer token from the file compose writes METRICS_TOKEN into', () => {
    expect(api?.authorization).toEqual({ type: 'Bearer', credentials_file: '/tmp/metrics_token' });
    expect(compose.services.prometheus?.command?.join(' ')).toContain('> /tmp/metrics_token');
    expect(compose.services.prometheus?.volumes).toContain(
      './docker/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
  });

  test.skipIf(promtoolMissing)('is accepted by promtool', () => {
    const result = Bun.spawnSync([
      'promtool',
      'check',
      'config',
      '--syntax-only',
      join(repoRoot, 'docker/prometheus/prometheus.yml'),
    ]);
    expect(result.stdout.toString() + result.stderr.toString()).toContain('SUCCESS');
    expect(result.exitCode).toBe(0);
  });
});

describe('Grafana provisioning', () => {
  test('provides the compose Prometheus as the default datasource, under the uid the dashboard uses', () => {
    expect(datasources.datasources).toEqual([
      expect.objectContaining({
        uid: 'prometheus',
        type: 'prometheus',
        url: 'http://prometheus:9090',
        isDefault: true,
      }),
    ]);
    for (const { datasource, targets } of dashboard.panels) {
      expect(datasource).toEqual({ type: 'prometheus', uid: 'prometheus' });
      for (const target of targets) expect(target.datasource.uid).toBe('prometheus');
    }
  });

  test('loads dashboards from the folder compose mounts the repository dashboards into', () => {
    const [provider] = providers.providers;
    expect(provider?.type).toBe('file');
    expect(compose.services.grafana?.volumes).toContain(
      `./docker/grafana/dashboards:${provider?.options.path}:ro`,
    );
  });
});

describe('the Branch Loans API dashboard', () => {
  test('charts the request rate by route from http_requests_total', () => {
    expect(exprs('Request rate by route')).toEqual([
      'sum by (route) (rate(http_requests_total[$__rate_interval]))',
    ]);
  });

  test('charts the 5xx error ratio and 5xx responses by route', () => {
    expect(exprs('5xx error ratio')[0]).toContain('http_requests_total{status=~"5.."}');
    expect(exprs('Errors (5xx) by route')[0]).toContain('sum by (route, status)');
  });

  test('charts p50, p95 and p99 latency by route from the http_request_duration_seconds histogram', () => {
    const latency = exprs('Latency p50 / p95 / p99 by route');
    expect(latency).toEqual(
      ['0.5', '0.95', '0.99'].map(
        (q) =>
          `histogram_quantile(${q}, sum by (le, route) (rate(http_request_duration_seconds_bucket[$__rate_interval])))`,
      ),
    );
  });

  test('charts loans created, database pool usage, memory and event-loop lag', () => {
    expect(exprs('Loans created per minute')[0]).toContain('loans_created_total');
    expect(exprs('Loans created (range)')[0]).toContain('increase(loans_created_total[$__range])');
    expect(exprs('Database pool usage').join(' ')).toContain('db_pool_queries_in_flight');
    expect(exprs('Database pool usage').join(' ')).toContain('db_pool_max_connections');
    expect(exprs('Resident memory')[0]).toContain('process_resident_memory_bytes');
    expect(exprs('Event loop lag')[0]).toContain('nodejs_eventloop_lag_seconds');
  });

  test.skipIf(promtoolMissing)('every query is valid PromQL', async () => {
    const rules = dashboard.panels
      .flatMap((p) => p.targets)
      .map((target, index) => ({
        record: `dashboard:query_${index}`,
        expr: target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h'),
      }));
    const file = join(scratch, 'dashboard-rules.yml');
    await Bun.write(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = Bun.spawnSync(['promtool', 'check', 'rules', file]);
    expect(result.stdout.toString() + result.stderr.toString()).toContain(
      `SUCCESS: ${rules.length} rules found`,
    );
    expect(result.exitCode).toBe(0);
  });
});
