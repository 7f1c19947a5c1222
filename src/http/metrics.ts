import { Elysia } from 'elysia';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LoanEventType } from '../db/schema';
import { Problem } from './problem';
import type { CompletedRequest } from './request-context';

/** Business counters the lending rules move, one call per event they record. */
export interface LendingCounters {
  loanEvent(type: LoanEventType): void;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The Prometheus registry of one app: default process metrics, HTTP traffic, loans and the database pool. */
export function createMetrics({ poolMax }: { poolMax: number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by route template',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered, by route template and status',
    labelNames,
    registers: [registry],
  });
  const loansCreated = new Counter({
    name: 'loans_created_total',
    help: 'Loans created',
    registers: [registry],
  });
  const loanEvents = new Counter({
    name: 'loan_events_total',
    help: 'Audit events recorded, by type (created, approved, disbursed, repayment, …)',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const rateLimitUnlimited = new Counter({
    name: 'rate_limit_unlimited_total',
    help: 'Requests served without a rate limit because Redis could not be reached',
    registers: [registry],
  });
  new Gauge({
    name: 'db_pool_max_connections',
    help: 'Connections the database pool may open',
    registers: [registry],
  }).set(poolMax);
  const queriesInFlight = new Gauge({
    name: 'db_pool_queries_in_flight',
    help: 'Database calls started and not yet answered; above the pool size they queue',
    registers: [registry],
  });

  // Label lookups hash the label object on every call; one child per (method, route, status) is kept instead.
  const series = new Map<
    string,
    { duration: ReturnType<typeof duration.labels>; requests: ReturnType<typeof requests.labels> }
  >();

  /** The business counters, moved by the lending service as its events are recorded. */
  const lending: LendingCounters = {
    loanEvent(type) {
      loanEvents.inc({ type });
      if (type === 'created') loansCreated.inc();
    },
  };

  return {
    registry,
    lending,
    rateLimitUnlimited,
    observeRequest({ method, route, status, durationSeconds }: CompletedRequest) {
      const key = `${method} ${route} ${status}`;
      let children = series.get(key);
      if (!children) {
        const labels = { method, route, status: String(status) };
        children = { duration: duration.labels(labels), requests: requests.labels(labels) };
        series.set(key, children);
      }
      children.duration.observe(durationSeconds);
      children.requests.inc();
    },
    /** The same object, with every async method counted in db_pool_queries_in_flight while it runs. */
    trackQueries<T extends object>(repository: T): T {
      const tracked = { ...repository };
      for (const [name, method] of Object.entries(repository)) {
        if (typeof method !== 'function') continue;
        Object.assign(tracked, {
          [name]: async (...args: unknown[]) => {
            queriesInFlight.inc();
            try {
              return await method(...args);
            } finally {
              queriesInFlight.dec();
            }
          },
        });
      }
      return tracked;
    },
  };
}

/** GET /metrics in Prometheus text format, behind a bearer token when one is configured. */
export const metricsRoutes = (metrics: Metrics, token: string | undefined) =>
  new Elysia({ tags: ['Operations'] }).get(
    '/metrics',
    async ({ headers, set }) => {
      if (token && headers.authorization !== `Bearer ${token}`) {
        throw new Problem(401, 'Send Authorization: Bearer <METRICS_TOKEN> to read metrics.', {
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
      set.headers['content-type'] = metrics.registry.contentType;
      return metrics.registry.metrics();
    },
    { detail: { summary: 'Prometheus metrics', description: 'Text exposition format 0.0.4.' } },
  );
