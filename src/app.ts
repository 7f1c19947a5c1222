import { Elysia } from 'elysia';
import type { DatabaseHandle } from './db/client';
import { docs } from './http/docs';
import { errorHandler } from './http/error-handler';
import { jsonBody } from './http/json-body';
import { requestContext } from './http/request-context';
import type { Logger } from './logger';
import { healthRoutes } from './modules/health';
import { loanRoutes } from './modules/loans';
import { createLoanRepository } from './modules/loans/repository';
import { statsRoutes } from './modules/stats';
import { createStatsRepository } from './modules/stats/repository';

export interface AppDependencies {
  database: DatabaseHandle;
  logger: Logger;
}

/** The whole HTTP API; the server and the tests build it the same way. */
export function createApp({ database, logger }: AppDependencies) {
  // normalize: false, so a body with a property the schema lacks is refused rather than silently trimmed.
  return new Elysia({ normalize: false })
    .use(requestContext(logger))
    .use(errorHandler(logger))
    .use(jsonBody)
    .use(docs)
    .use(healthRoutes)
    .use(loanRoutes(createLoanRepository(database.db)))
    .use(statsRoutes(createStatsRepository(database.db)));
}

export type App = ReturnType<typeof createApp>;
