import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../src/config';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

const url = 'postgres://loans:secret@db:5432/loans';

describe('loadConfig', () => {
  test('development defaults: port 8001, debug, pretty, embedded database', () => {
    expect(loadConfig({ APP_ENV: 'development' })).toMatchObject({
      appEnv: 'development',
      port: 8001,
      host: '0.0.0.0',
      logLevel: 'debug',
      logFormat: 'pretty',
      databaseUrl: undefined,
      dbPoolMax: 10,
    });
  });

  test.each(['staging', 'production'])('%s defaults: port 8000, info, JSON', (appEnv) => {
    expect(loadConfig({ APP_ENV: appEnv, DATABASE_URL: url })).toMatchObject({
      appEnv,
      port: 8000,
      logLevel: 'info',
      logFormat: 'json',
      databaseUrl: url,
    });
  });

  test('APP_ENV defaults to production, which needs DATABASE_URL', () => {
    expect(problemsOf({})).toEqual([
      'DATABASE_URL must be set when APP_ENV is production (a postgres:// URL)',
    ]);
  });

  test('explicit variables override the environment defaults', () => {
    expect(
      loadConfig({
        APP_ENV: 'production',
        DATABASE_URL: url,
        PORT: '9000',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'pretty',
        DB_POOL_MAX: '25',
      }),
    ).toMatchObject({ port: 9000, host: '127.0.0.1', logLevel: 'warn', logFormat: 'pretty', dbPoolMax: 25 });
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ APP_ENV: 'development', PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 8001 });
  });

  test.each([
    ['APP_ENV', 'prod', 'APP_ENV must be one of development, staging, production, test (got "prod")'],
    ['PORT', 'eighty', 'PORT must be an integer from 0 to 65535 (got "eighty")'],
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535 (got "70000")'],
    [
      'LOG_LEVEL',
      'loud',
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
    ],
    ['LOG_FORMAT', 'xml', 'LOG_FORMAT must be one of json, pretty (got "xml")'],
    ['DB_POOL_MAX', '0', 'DB_POOL_MAX must be an integer from 1 to 100 (got "0")'],
    ['DB_POOL_MAX', '2.5', 'DB_POOL_MAX must be an integer from 1 to 100 (got "2.5")'],
    [
      'DATABASE_URL',
      'mysql://db/loans',
      'DATABASE_URL must be a postgres:// or postgresql:// URL (got "mysql://db/loans")',
    ],
    ['RATE_LIMIT_PER_MINUTE', '-1', 'RATE_LIMIT_PER_MINUTE must be an integer from 0 to 1000000 (got "-1")'],
  ])('a bad %s names the variable and what it accepts', (name, value, message) => {
    expect(problemsOf({ APP_ENV: 'test', [name]: value })).toEqual([message]);
  });

  test('reports every bad variable at once', () => {
    expect(problemsOf({ APP_ENV: 'test', PORT: 'x', LOG_FORMAT: 'y' })).toHaveLength(2);
  });

  test('reads trusted proxies as a list', () => {
    expect(
      loadConfig({ APP_ENV: 'test', TRUSTED_PROXIES: '10.0.0.1, 172.16.0.0/12' }).trustedProxies,
    ).toEqual(['10.0.0.1', '172.16.0.0/12']);
  });
});
