import {
  FormatRegistry,
  type Static,
  type TLiteral,
  type TObject,
  type TSchema,
  type TUnion,
  Type as t,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { JwtSettings } from './auth/jwt';

const appEnvs = ['development', 'staging', 'production', 'test'] as const;
const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const literals = <const T extends readonly string[]>(values: T) =>
  t.Union(values.map((value) => t.Literal(value))) as TUnion<TLiteral<T[number]>[]>;

const port = t.Integer({ minimum: 0, maximum: 65535, description: 'an integer from 0 to 65535' });
const count = (maximum: number) =>
  t.Integer({ minimum: 0, maximum, description: `an integer from 0 to ${maximum}` });

/** DATABASE_URL as every command reads it. */
export const DatabaseUrl = t.String({
  pattern: '^postgres(ql)?://',
  description: 'a postgres:// or postgresql:// URL',
});

/** Every variable the service reads, with what it accepts. Values arrive as strings and are converted. */
const EnvSchema = t.Object({
  APP_ENV: literals(appEnvs),
  PORT: t.Optional(port),
  HOST: t.Optional(t.String({ minLength: 1, description: 'a host name or address such as 0.0.0.0' })),
  DATABASE_URL: t.Optional(DatabaseUrl),
  LOG_LEVEL: t.Optional(literals(logLevels)),
  LOG_FORMAT: t.Optional(literals(['json', 'pretty'] as const)),
  DB_POOL_MAX: t.Optional(t.Integer({ minimum: 1, maximum: 100, description: 'an integer from 1 to 100' })),
  DB_STATEMENT_TIMEOUT_MS: t.Optional(count(600_000)),
  DB_LOCK_TIMEOUT_MS: t.Optional(count(600_000)),
  RATE_LIMIT_PER_MINUTE: t.Optional(count(1_000_000)),
  REDIS_URL: t.Optional(t.String({ pattern: '^rediss?://', description: 'a redis:// or rediss:// URL' })),
  REDIS_KEY_PREFIX: t.Optional(t.String({ maxLength: 100, description: 'at most 100 characters' })),
  CORS_ORIGINS: t.Optional(
    t.String({ description: 'a comma-separated list of origins such as https://office.example' }),
  ),
  TRUSTED_PROXIES: t.Optional(
    t.String({ description: 'a comma-separated list of IP addresses and IPv4 CIDR ranges' }),
  ),
  METRICS_TOKEN: t.Optional(
    t.String({ minLength: 16, description: 'a bearer token of 16 characters or more' }),
  ),
  AUTH_JWKS_URL: t.Optional(t.String({ pattern: '^https?://', description: 'an http:// or https:// URL' })),
  AUTH_ISSUER: t.Optional(t.String({ minLength: 1, description: "the tokens' expected iss" })),
  AUTH_AUDIENCE: t.Optional(t.String({ minLength: 1, description: "the tokens' expected aud" })),
  FOUR_EYES: t.Optional(literals(['on', 'off'] as const)),
  BUSINESS_TIME_ZONE: t.Optional(
    t.String({ format: 'time-zone', description: 'an IANA time zone such as Asia/Kolkata' }),
  ),
});

const AUTH_VARIABLES = ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE'] as const;

FormatRegistry.Set('time-zone', (zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
});

type Env = Static<typeof EnvSchema>;
export type AppEnv = (typeof appEnvs)[number];
export type LogLevel = (typeof logLevels)[number];

export interface Config {
  appEnv: AppEnv;
  port: number;
  host: string;
  /** Absent: the embedded PGlite database (on disk in development, in memory in tests). */
  databaseUrl: string | undefined;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
  dbPoolMax: number;
  /** Postgres cancels a statement of the pool's after this long, or after waiting this long for a lock; 0 = never. */
  dbStatementTimeoutMs: number;
  dbLockTimeoutMs: number;
  /** Requests per client per minute on /api routes; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  /** Rate-limit buckets in this Redis, shared by every replica; absent: in each process. */
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  /** Origins a browser may call the API from (CORS); empty: no CORS headers. */
  corsOrigins: string[];
  trustedProxies: string[];
  metricsToken: string | undefined;
  /** JWT verification; absent: API keys only. */
  jwt: JwtSettings | undefined;
  /** Creator ≠ approver, approver ≠ disburser. */
  fourEyes: boolean;
  /** The IANA zone whose calendar date is "today" for due dates, disbursals and repayments. */
  businessTimeZone: string;
}

const defaultsByEnv: Record<
  AppEnv,
  Pick<Config, 'port' | 'logLevel' | 'logFormat' | 'rateLimitPerMinute' | 'fourEyes'>
> = {
  development: { port: 8001, logLevel: 'debug', logFormat: 'pretty', rateLimitPerMinute: 0, fourEyes: false },
  test: { port: 8001, logLevel: 'silent', logFormat: 'json', rateLimitPerMinute: 0, fourEyes: false },
  staging: { port: 8000, logLevel: 'info', logFormat: 'json', rateLimitPerMinute: 600, fourEyes: true },
  production: { port: 8000, logLevel: 'info', logFormat: 'json', rateLimitPerMinute: 600, fourEyes: true },
};

/** A request's statement gives up after a few seconds rather than hanging on a stuck database. */
export const DB_TIMEOUT_DEFAULTS = { dbStatementTimeoutMs: 5000, dbLockTimeoutMs: 2000 } as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

const accepted = (schema: TSchema): string =>
  schema.anyOf
    ? `one of ${schema.anyOf.map((option: TSchema) => option.const).join(', ')}`
    : (schema.description ?? '');

/**
 * Reads the variables a schema names from the environment. Empty counts as unset; anything invalid is
 * reported, every problem at once, as `VARIABLE must be …`.
 */
export function readEnv<S extends TObject>(
  schema: S,
  source: Record<string, string | undefined>,
  defaults: Record<string, string> = {},
): Static<S> {
  const raw: Record<string, string> = { ...defaults };
  for (const name of Object.keys(schema.properties)) {
    const value = source[name]?.trim();
    if (value) raw[name] = value;
  }
  const env = Value.Convert(schema, { ...raw }) as Record<string, unknown>;
  // Convert truncates "2.5" to 2; an integer variable must be written as one.
  for (const [name, property] of Object.entries(schema.properties)) {
    const value = raw[name];
    if (property.type === 'integer' && value !== undefined && !/^\d+$/.test(value)) env[name] = value;
  }
  const problems = [...Value.Errors(schema, env)].map((error) => {
    const name = error.path.slice(1);
    const rule = accepted(schema.properties[name] as TSchema);
    return raw[name] === undefined
      ? `${name} must be set: ${rule}`
      : `${name} must be ${rule} (got "${raw[name]}")`;
  });
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return env as Static<S>;
}

/** CORS_ORIGINS as a list, each entry exactly as a browser sends its Origin header, or a ConfigError. */
function parseCorsOrigins(value: string | undefined): string[] {
  const origins = (value ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  const invalid = origins.filter((origin) => !URL.canParse(origin) || new URL(origin).origin !== origin);
  if (invalid.length > 0) {
    throw new ConfigError([
      `CORS_ORIGINS must list origins as a browser sends them, scheme://host[:port] in lower case with no path (got "${invalid.join('", "')}")`,
    ]);
  }
  return origins;
}

/** The service's configuration, read once at start-up; APP_ENV picks the defaults of everything unset. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const env: Env = readEnv(EnvSchema, source, { APP_ENV: 'production' });
  if (!env.DATABASE_URL && (env.APP_ENV === 'staging' || env.APP_ENV === 'production')) {
    throw new ConfigError([`DATABASE_URL must be set when APP_ENV is ${env.APP_ENV} (a postgres:// URL)`]);
  }
  const authSet = AUTH_VARIABLES.filter((name) => env[name] !== undefined);
  if (authSet.length > 0 && authSet.length < AUTH_VARIABLES.length) {
    const missing = AUTH_VARIABLES.filter((name) => env[name] === undefined);
    throw new ConfigError([
      `${missing.join(', ')} must be set too: ${AUTH_VARIABLES.join(', ')} are all three set, or none`,
    ]);
  }

  const defaults = defaultsByEnv[env.APP_ENV];
  return {
    appEnv: env.APP_ENV,
    port: env.PORT ?? defaults.port,
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL,
    logLevel: env.LOG_LEVEL ?? defaults.logLevel,
    logFormat: env.LOG_FORMAT ?? defaults.logFormat,
    dbPoolMax: env.DB_POOL_MAX ?? 10,
    dbStatementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS ?? DB_TIMEOUT_DEFAULTS.dbStatementTimeoutMs,
    dbLockTimeoutMs: env.DB_LOCK_TIMEOUT_MS ?? DB_TIMEOUT_DEFAULTS.dbLockTimeoutMs,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE ?? defaults.rateLimitPerMinute,
    redisUrl: env.REDIS_URL,
    redisKeyPrefix: env.REDIS_KEY_PREFIX ?? 'branch-loans:rate-limit:',
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS),
    trustedProxies: (env.TRUSTED_PROXIES ?? '')
      .split(',')
      .map((address) => address.trim())
      .filter(Boolean),
    metricsToken: env.METRICS_TOKEN,
    jwt:
      env.AUTH_JWKS_URL && env.AUTH_ISSUER && env.AUTH_AUDIENCE
        ? { jwksUrl: env.AUTH_JWKS_URL, issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE }
        : undefined,
    fourEyes: env.FOUR_EYES === undefined ? defaults.fourEyes : env.FOUR_EYES === 'on',
    businessTimeZone: env.BUSINESS_TIME_ZONE ?? 'UTC',
  };
}
