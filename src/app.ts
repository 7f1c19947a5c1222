import { Elysia } from 'elysia';
import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import { docs } from './http/docs';
import { errorHandler } from './http/error-handler';
import { jsonBody } from './http/json-body';
import { createMetrics, metricsRoutes } from './http/metrics';
import { rateLimit } from './http/rate-limit';
import { requestContext } from './http/request-context';
import type { Logger } from './logger';
import { healthRoutes } from './modules/health';
import { loanRoutes } from './modules/loans';
import { createLoanRepository } from './modules/loans/repository';
import { statsRoutes } from './modules/stats';
import { createStatsRepository } from './modules/stats/repository';

export interface AppDependencies {
  config: Pick<Config, 'dbPoolMax' | 'rateLimitPerMinute' | 'trustedProxies' | 'metricsToken'>;
  database: DatabaseHandle;
  logger: Logger;
}

/** The whole HTTP API; the server and the tests build it the same way. */
export function createApp({ config, database, logger }: AppDependencies) {
  const metrics = createMetrics({ poolMax: database.driver === 'pglite' ? 1 : config.dbPoolMax });
  const loans = metrics.trackQueries(createLoanRepository(database.db));
  const stats = metrics.trackQueries(createStatsRepository(database.db));

  // normalize: false, so a body with a property the schema lacks is refused rather than silently trimmed.
  return new Elysia({ normalize: false })
    .use(requestContext(logger, metrics.observeRequest))
    .use(errorHandler(logger))
    .use(rateLimit({ perMinute: config.rateLimitPerMinute, trustedProxies: config.trustedProxies }))
    .use(jsonBody)
    .use(docs())
    .use(healthRoutes(database.db))
    .use(metricsRoutes(metrics, config.metricsToken))
    .use(loanRoutes(loans, { onCreated: () => metrics.loansCreated.inc() }))
    .use(statsRoutes(stats));
}
