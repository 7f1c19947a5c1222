import {
  type Static,
  type TLiteral,
  type TObject,
  type TSchema,
  type TUnion,
  Type as t,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const appEnvs = ['development', 'staging', 'production', 'test'] as const;
const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const literals = <const T extends readonly string[]>(values: T) =>
  t.Union(values.map((value) => t.Literal(value))) as TUnion<TLiteral<T[number]>[]>;

const port = t.Integer({ minimum: 0, maximum: 65535, description: 'an integer from 0 to 65535' });
const count = (maximum: number) =>
  t.Integer({ minimum: 0, maximum, description: `an integer from 0 to ${maximum}` });

/** Every variable the service reads, with what it accepts. Values arrive as strings and are converted. */
const EnvSchema = t.Object({
  APP_ENV: literals(appEnvs),
  PORT: t.Optional(port),
  HOST: t.Optional(t.String({ minLength: 1, description: 'a host name or address such as 0.0.0.0' })),
  DATABASE_URL: t.Optional(
    t.String({ pattern: '^postgres(ql)?://', description: 'a postgres:// or postgresql:// URL' }),
  ),
  LOG_LEVEL: t.Optional(literals(logLevels)),
  LOG_FORMAT: t.Optional(literals(['json', 'pretty'] as const)),
  DB_POOL_MAX: t.Optional(t.Integer({ minimum: 1, maximum: 100, description: 'an integer from 1 to 100' })),
  RATE_LIMIT_PER_MINUTE: t.Optional(count(1_000_000)),
  TRUSTED_PROXIES: t.Optional(
    t.String({ description: 'a comma-separated list of IP addresses and IPv4 CIDR ranges' }),
  ),
  METRICS_TOKEN: t.Optional(
    t.String({ minLength: 16, description: 'a bearer token of 16 characters or more' }),
  ),
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
  /** Requests per client per minute on /api routes; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  trustedProxies: string[];
  metricsToken: string | undefined;
}

const defaultsByEnv: Record<
  AppEnv,
  Pick<Config, 'port' | 'logLevel' | 'logFormat' | 'rateLimitPerMinute'>
> = {
  development: { port: 8001, logLevel: 'debug', logFormat: 'pretty', rateLimitPerMinute: 0 },
  test: { port: 8001, logLevel: 'silent', logFormat: 'json', rateLimitPerMinute: 0 },
  staging: { port: 8000, logLevel: 'info', logFormat: 'json', rateLimitPerMinute: 600 },
  production: { port: 8000, logLevel: 'info', logFormat: 'json', rateLimitPerMinute: 600 },
};

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

/** The service's configuration, read once at start-up; APP_ENV picks the defaults of everything unset. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const env: Env = readEnv(EnvSchema, source, { APP_ENV: 'production' });
  if (!env.DATABASE_URL && (env.APP_ENV === 'staging' || env.APP_ENV === 'production')) {
    throw new ConfigError([`DATABASE_URL must be set when APP_ENV is ${env.APP_ENV} (a postgres:// URL)`]);
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
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE ?? defaults.rateLimitPerMinute,
    trustedProxies: (env.TRUSTED_PROXIES ?? '')
      .split(',')
      .map((address) => address.trim())
      .filter(Boolean),
    metricsToken: env.METRICS_TOKEN,
  };
}
