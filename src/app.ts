import { Elysia } from 'elysia';
import { createAuthenticator } from './auth/authenticator';
import { authentication, createGate, principalOf } from './auth/plugin';
import { businessClock } from './clock';
import type { Config } from './config';
import type { DatabaseHandle } from './db/client';
import { cors } from './http/cors';
import { docs } from './http/docs';
import { errorHandler } from './http/error-handler';
import { createIdempotency } from './http/idempotency';
import { jsonBody } from './http/json-body';
import { createMetrics, metricsRoutes } from './http/metrics';
import { createRateLimiter, requireValidHost } from './http/rate-limit';
import { createRedisBuckets } from './http/rate-limit-redis';
import { requestContext } from './http/request-context';
import type { Logger } from './logger';
import { healthRoutes } from './modules/health';
import { keyRoutes } from './modules/keys';
import { createApiKeyRepository } from './modules/keys/repository';
import { createKeyService } from './modules/keys/service';
import { loanRoutes } from './modules/loans';
import { createLoanRepository } from './modules/loans/repository';
import { createLoanService } from './modules/loans/service';
import { statsRoutes } from './modules/stats';
import { createStatsRepository } from './modules/stats/repository';

export interface AppDependencies {
  config: Pick<
    Config,
    | 'dbPoolMax'
    | 'rateLimitPerMinute'
    | 'trustedProxies'
    | 'metricsToken'
    | 'redisUrl'
    | 'redisKeyPrefix'
    | 'corsOrigins'
    | 'jwt'
    | 'fourEyes'
    | 'businessTimeZone'
  >;
  database: DatabaseHandle;
  logger: Logger;
}

/** The whole HTTP API; the server and the tests build it the same way. */
export function createApp({ config, database, logger }: AppDependencies) {
  const metrics = createMetrics({ poolMax: database.driver === 'pglite' ? 1 : config.dbPoolMax });
  const loans = metrics.trackQueries(createLoanRepository(database.db));
  const stats = metrics.trackQueries(createStatsRepository(database.db));
  const limiter = createRateLimiter({
    perMinute: config.rateLimitPerMinute,
    trustedProxies: config.trustedProxies,
    store:
      config.redisUrl && config.rateLimitPerMinute > 0
        ? createRedisBuckets({
            url: config.redisUrl,
            perMinute: config.rateLimitPerMinute,
            keyPrefix: config.redisKeyPrefix,
            logger,
          })
        : undefined,
    onUnlimited: () => metrics.rateLimitUnlimited.inc(),
  });
  const apiKeys = metrics.trackQueries(createApiKeyRepository(database.db));
  const authenticator = createAuthenticator({ findKeyByHash: apiKeys.findByHash, jwt: config.jwt });
  const keys = createKeyService(apiKeys, { onRevoked: authenticator.forgetKeys });
  const clock = businessClock(config.businessTimeZone);
  const idempotency = createIdempotency(database.db);
  const lending = createLoanService({
    loans,
    clock,
    fourEyes: config.fourEyes,
    counters: metrics.lending,
  });

  // normalize: false, so a body with a property the schema lacks is refused rather than silently trimmed.
  return new Elysia({ normalize: false })
    .use(
      requestContext(logger, {
        onCompleted: metrics.observeRequest,
        actorOf: (request) => principalOf(request)?.actor,
      }),
    )
    .use(errorHandler(logger))
    .use(requireValidHost)
    .use(cors(config.corsOrigins))
    .use(authentication(createGate(authenticator, limiter.afterAuthentication)))
    .use(limiter.plugin)
    .use(jsonBody)
    .use(docs())
    .use(healthRoutes(database.db))
    .use(metricsRoutes(metrics, config.metricsToken))
    .use(loanRoutes(lending, idempotency))
    .use(statsRoutes(stats, clock))
    .use(keyRoutes(keys, idempotency));
}
