import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { runToExit } from '../support/run';

// No Docker engine here: dclint lints compose.yaml, and these tests hold it to the invariants that matter.

const repoRoot = new URL('../..', import.meta.url).pathname;
const composeFile = join(repoRoot, 'compose.yaml');
const source = await Bun.file(composeFile).text();
const dockerfile = await Bun.file(join(repoRoot, 'docker/Dockerfile')).text();

type Service = {
  [key: string]: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }>;
};

/** compose.yaml as compose reads it: parsed, merge keys resolved, then ${VAR}, ${VAR:-x}, ${VAR:?x} and $$. */
const interpolate = (value: unknown, env: Record<string, string>): unknown =>
  typeof value === 'string'
    ? value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (match, name, operator = '', fallback = '') => {
        if (match === '$$') return '$';
        if (operator.endsWith('?') && !env[name]) throw new Error(`required variable ${name} is missing`);
        return operator.endsWith('-') && !env[name] ? fallback : (env[name] ?? '');
      })
    : typeof value === 'number'
      ? String(value)
      : Array.isArray(value)
        ? value.map((item) => interpolate(item, env))
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env)]))
          : value;
const parsed = parse(source, { merge: true });
const load = (env: Record<string, string>) =>
  interpolate(parsed, env) as { services: Record<string, Service> };
const secrets = { POSTGRES_PASSWORD: 'ownerpassw0rd', API_DB_PASSWORD: 'apipassw0rd' };
const all = load(secrets).services;
const services = Object.entries(all);
/** The one service of a profile named `base` or `base-<profile suffix>`. */
const one = (profile: string, base: string): Service => {
  const found = services.filter(
    ([name, s]) => (s.profiles as string[]).includes(profile) && name.split('-')[0] === base,
  );
  expect(found).toHaveLength(1);
  return found[0]?.[1] as Service;
};
const nameOf = (service: Service) => services.find(([, s]) => s === service)?.[0];
/** The names a service answers to on its networks: its own and its aliases. */
const reachableAs = (service: Service) => [
  nameOf(service),
  ...Object.values(Array.isArray(service.networks) ? {} : (service.networks ?? {})).flatMap(
    (n) => n?.aliases ?? [],
  ),
];
const waits = (service: Service) =>
  Object.fromEntries(
    Object.entries(service.depends_on ?? {}).map(([name, { condition }]) => [name, condition]),
  );
const ownImage = (service: Service) => service.image?.startsWith('branch-loans-') ?? false;
const environments = ['dev', 'staging', 'prod'];
const deployed = ['staging', 'prod'];

describe('compose.yaml', () => {
  test('passes dclint, a maintained compose linter, with no errors or warnings', async () => {
    const dclint = join(repoRoot, 'node_modules/dclint/bin/dclint.cjs');
    const { code, stdout, stderr } = await runToExit([
      process.execPath,
      dclint,
      composeFile,
      '--max-warnings',
      '0',
    ]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
    expect(code).toBe(0);
  });

  test('holds no secret: both passwords come from .env, and compose refuses to start without them', () => {
    for (const missing of Object.keys(secrets))
      expect(() => load({ ...secrets, [missing]: '' })).toThrow(missing);
    expect(source).not.toMatch(/(POSTGRES|API_DB)_PASSWORD:?-|:\/\/\w+:(?!\$\{)[^@\s]+@/);
  });

  test.each(environments)('starts %s in order, each wait on a health check or a finished job', (profile) => {
    const [postgres, migrate, api] = ['postgres', 'migrate', 'api'].map((base) => nameOf(one(profile, base)));
    expect(waits(one(profile, 'migrate'))).toEqual({ [`${postgres}`]: 'service_healthy' });
    expect(waits(one(profile, 'api'))).toEqual({
      [`${postgres}`]: 'service_healthy',
      [`${migrate}`]: 'service_completed_successfully',
      ...(profile !== 'dev' && { [`${nameOf(one(profile, 'redis'))}`]: 'service_healthy' }),
    });
    if (profile !== 'dev') expect(waits(one(profile, 'caddy'))).toEqual({ [`${api}`]: 'service_healthy' });
    for (const [, service] of services) {
      for (const [name, condition] of Object.entries(waits(service))) {
        expect(condition === 'service_completed_successfully' || all[name]?.healthcheck !== undefined).toBe(
          true,
        );
      }
      expect([...((service.entrypoint as string[]) ?? []), ...(service.command ?? [])]).not.toContain(
        'sleep',
      );
    }
  });

  test('runs every container read-only, with no capabilities or new privileges, and none as root by choice', () => {
    for (const [name, service] of services) {
      const { security_opt, read_only, cap_drop } = service;
      // Postgres' entrypoint hands its data directory to its own user, which needs root's capabilities.
      const locked = !service.image?.startsWith('postgres:');
      expect({ name, security_opt, read_only, cap_drop }).toEqual({
        name,
        security_opt: ['no-new-privileges:true'],
        read_only: locked ? true : undefined,
        cap_drop: locked ? ['ALL'] : undefined,
      });
    }
    // Our images run as the Dockerfile's numeric USER, Redis as its image's own user.
    expect(dockerfile).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    for (const [, service] of services)
      expect(service.user).toBe(service.image?.startsWith('redis:') ? 'redis' : undefined);
  });

  test('pins every image it does not build to an exact version', () => {
    for (const [, { image }] of services.filter(([, s]) => !ownImage(s))) {
      expect(image).toMatch(/:v?\d+(\.\d+){1,2}(-\w+)?$|@sha256:[0-9a-f]{64}$/);
    }
  });

  test.each(deployed)(
    'shares rate limits in %s through a Redis that keeps and publishes nothing',
    (profile) => {
      const redis = one(profile, 'redis');
      expect(redis.command).toEqual(['redis-server', '--save', '', '--appendonly', 'no']);
      expect(redis.healthcheck).toMatchObject({ test: ['CMD', 'redis-cli', 'ping'] });
      expect(redis.ports).toBeUndefined();
      const url = one(profile, 'api').environment?.REDIS_URL;
      expect(reachableAs(redis)).toContain(new URL(`${url}`).hostname);
      expect(loadConfig({ APP_ENV: 'staging', DATABASE_URL: 'postgres://db', REDIS_URL: url })).toMatchObject(
        {
          redisUrl: url,
        },
      );
    },
  );

  test.each(environments)('runs the %s API as its own role and the jobs as the owner', (profile) => {
    const postgres = one(profile, 'postgres');
    const migrate = one(profile, 'migrate').environment ?? {};
    const url = (base: string) => {
      const value = String(one(profile, base).environment?.DATABASE_URL);
      // A URL src/config.ts accepts, on this profile's Postgres.
      expect(loadConfig({ APP_ENV: 'staging', DATABASE_URL: value }).databaseUrl).toBe(value);
      expect(reachableAs(postgres)).toContain(new URL(value).hostname);
      return new URL(value);
    };
    expect(url('api')).toMatchObject({ username: migrate.API_DB_ROLE, password: secrets.API_DB_PASSWORD });
    expect(migrate.API_DB_PASSWORD).toBe(secrets.API_DB_PASSWORD);
    const owner = { username: postgres.environment?.POSTGRES_USER, password: secrets.POSTGRES_PASSWORD };
    for (const job of profile === 'dev' ? ['migrate'] : ['migrate', 'backup'])
      expect(url(job)).toMatchObject(owner);
  });

  test('gives the API no variable that the image and src/config.ts would set to the same anyway', () => {
    const envBlock = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? '';
    const image = Object.fromEntries(
      [...envBlock.matchAll(/(\w+)=(\S+)/g)].map(([, key, value]) => [key, value]),
    );
    const config = (env: Record<string, string>) => {
      try {
        return loadConfig({ ...image, ...env });
      } catch (error) {
        return String(error);
      }
    };
    for (const profile of environments) {
      const env = one(profile, 'api').environment ?? {};
      // An empty value passes an unset .env variable through, leaving the service its default.
      for (const key of Object.keys(env).filter((key) => env[key] !== '')) {
        const { [key]: _, ...without } = env;
        expect({ profile, key, redundant: Bun.deepEquals(config(without), config(env)) }).toMatchObject({
          redundant: false,
        });
      }
    }
  });

  test('publishes 80 and 443 from Caddy only; every other published port is on 127.0.0.1', () => {
    for (const [name, { ports = [] }] of services.filter(([name]) => !name.startsWith('caddy'))) {
      expect({ name, ports: ports.filter((port) => !port.startsWith('127.0.0.1:')) }).toEqual({
        name,
        ports: [],
      });
    }
    for (const profile of deployed)
      expect(one(profile, 'caddy').ports).toEqual(['80:80', '443:443', '443:443/udp']);
  });
});
