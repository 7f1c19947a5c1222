import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runToExit } from '../support/run';

// No Docker engine here: compose.yaml is checked as data. Like compose, it is parsed first and then every string
// value is interpolated (${VAR}, ${VAR:-default}, ${VAR:?message}, $$), so the assertions see the values a real
// run would get.

const repoRoot = new URL('../..', import.meta.url).pathname;
const composeFile = join(repoRoot, 'compose.yaml');
const source = await Bun.file(composeFile).text();

type Env = Record<string, string | undefined>;

function interpolate(text: string, env: Env): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (match, name: string | undefined, operator: string | undefined, argument = '') => {
      if (match === '$$') return '$';
      const value = env[name as string];
      const missing = operator?.startsWith(':') ? !value : value === undefined;
      if (operator?.endsWith('-')) return missing ? argument : (value as string);
      if (operator?.endsWith('?') && missing) {
        throw new Error(`required variable ${name} is missing a value: ${argument}`);
      }
      return value ?? '';
    },
  );
}

interface Healthcheck {
  test: string[];
  interval?: string;
  start_period?: string;
}
interface Service {
  profiles?: string[];
  image?: string;
  build?: { context: string; dockerfile: string; target?: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Healthcheck;
  read_only?: boolean;
  tmpfs?: string[];
  security_opt?: string[];
  cap_drop?: string[];
  restart?: string;
  container_name?: string;
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config: { subnet: string }[] } } | null>;
  volumes: Record<string, unknown>;
}

function interpolateAll(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateAll(item, env)]));
  }
  return value;
}

const parsed: unknown = parse(source, { merge: true });
const load = (env: Env): Compose => interpolateAll(parsed, env) as Compose;
const compose = load({ POSTGRES_PASSWORD: 's3cretpassw0rd' });
const services = Object.entries(compose.services);

const inProfile = (profile: string) => services.filter(([, service]) => service.profiles?.includes(profile));
const isPostgres = (service: Service) => service.image?.startsWith('postgres:') ?? false;
const isMigrate = (service: Service) => service.command?.join(' ') === 'bun src/db/cli/migrate.ts';
const isApi = (service: Service) =>
  service.build?.target === 'runtime' &&
  !isMigrate(service) &&
  (service.image?.startsWith('branch-loans-api') ?? false);
const isCaddy = (service: Service) => service.image?.startsWith('caddy:') ?? false;
const isBackup = (service: Service) => service.build?.target === 'backup';

function one(profile: string, kind: (service: Service) => boolean): [string, Service] {
  const found = inProfile(profile).filter(([, service]) => kind(service));
  expect(found).toHaveLength(1);
  return found[0] as [string, Service];
}

const bytes = (size: string) => {
  const match = /^(\d+(?:\.\d+)?)([KMG])$/.exec(size);
  if (!match) throw new Error(`not a size: ${size}`);
  return Number(match[1]) * 1024 ** ('KMG'.indexOf(match[2] as string) + 1);
};
const networksOf = (service: Service) =>
  Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});

const environments = [
  {
    profile: 'dev',
    appEnv: 'development',
    port: 8001,
    logLevel: 'debug',
    logFormat: 'pretty',
    pgMemory: '512M',
  },
  { profile: 'staging', appEnv: 'staging', port: 8000, logLevel: 'info', logFormat: 'json', pgMemory: '1G' },
  { profile: 'prod', appEnv: 'production', port: 8000, logLevel: 'info', logFormat: 'json', pgMemory: '2G' },
] as const;

describe('compose.yaml', () => {
  test('names the project, so container names and volumes do not depend on the checkout folder', () => {
    expect(compose.name).toBe('branch-loans');
  });

  test.each(environments)(
    'the $profile profile has Postgres, a one-shot migration and the API',
    ({ profile }) => {
      const [, postgres] = one(profile, isPostgres);
      const [, migrate] = one(profile, isMigrate);
      one(profile, isApi);
      expect(postgres.restart).toBe('unless-stopped');
      expect(migrate.restart).toBe('no');
    },
  );

  test('puts Caddy and the scheduled backup in staging and prod, not in dev', () => {
    for (const profile of ['staging', 'prod']) {
      one(profile, isCaddy);
      one(profile, isBackup);
    }
    expect(inProfile('dev').filter(([, service]) => isCaddy(service) || isBackup(service))).toEqual([]);
  });

  test('gives production the plain service names, so `--scale api=3` is the scale-out line', () => {
    expect(one('prod', isApi)[0]).toBe('api');
    expect(one('prod', isCaddy)[0]).toBe('caddy');
    const [, api] = one('prod', isApi);
    expect(api.container_name).toBeUndefined();
    expect(api.ports).toBeUndefined();
  });

  test.each(environments)(
    'runs the $profile API with APP_ENV=$appEnv on port $port, $logLevel logs as $logFormat',
    ({ profile, appEnv, port, logLevel, logFormat }) => {
      const [, api] = one(profile, isApi);
      expect(api.environment).toMatchObject({
        APP_ENV: appEnv,
        PORT: port,
        LOG_LEVEL: logLevel,
        LOG_FORMAT: logFormat,
      });
      const [postgresName] = one(profile, isPostgres);
      expect(String(api.environment?.DATABASE_URL)).toBe(
        `postgres://loans:s3cretpassw0rd@${postgresName}:5432/loans`,
      );
    },
  );

  test('hot-reloads in development only: src/ mounted read-only and Bun in watch mode', () => {
    const [, dev] = one('dev', isApi);
    expect(dev.command).toEqual(['bun', '--watch', 'src/index.ts']);
    expect(dev.volumes).toContain('./src:/app/src:ro');
    for (const profile of ['staging', 'prod']) {
      const [, api] = one(profile, isApi);
      expect(api.command).toBeUndefined();
      expect(api.volumes ?? []).toEqual([]);
    }
  });

  test.each(environments)(
    'limits the $profile Postgres to $pgMemory, pins it to 15.x on bookworm and keeps its data in a named volume',
    ({ profile, pgMemory }) => {
      const [, postgres] = one(profile, isPostgres);
      expect(postgres.deploy?.resources?.limits?.memory).toBe(pgMemory);
      expect(postgres.image).toMatch(/^postgres:15\.\d+-bookworm$/);
      const [volume, target] = (postgres.volumes?.[0] ?? '').split(':');
      expect(target).toBe('/var/lib/postgresql/data');
      expect(Object.keys(compose.volumes)).toContain(volume as string);
    },
  );

  test('checks Postgres with pg_isready over TCP, so the init-time socket-only server does not count', () => {
    for (const { profile } of environments) {
      const [, postgres] = one(profile, isPostgres);
      expect(postgres.healthcheck?.test.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
      expect(postgres.healthcheck?.test).toContain('--host=127.0.0.1');
    }
  });

  test('caps CPU and memory of every long-running service', () => {
    for (const [name, service] of services) {
      const limits = service.deploy?.resources?.limits;
      expect({ name, cpus: Number(limits?.cpus) > 0 }).toEqual({ name, cpus: true });
      expect({ name, memory: bytes(limits?.memory ?? '') <= bytes('2G') }).toEqual({ name, memory: true });
    }
  });

  test.each(environments)('starts the $profile stack in order by depends_on conditions', ({ profile }) => {
    const [postgres] = one(profile, isPostgres);
    const [migrate, migrateService] = one(profile, isMigrate);
    const [api, apiService] = one(profile, isApi);
    expect(migrateService.depends_on).toEqual({ [postgres]: { condition: 'service_healthy' } });
    expect(apiService.depends_on).toEqual({
      [postgres]: { condition: 'service_healthy' },
      [migrate]: { condition: 'service_completed_successfully' },
    });
    if (profile !== 'dev') {
      expect(one(profile, isCaddy)[1].depends_on).toEqual({ [api]: { condition: 'service_healthy' } });
      expect(one(profile, isBackup)[1].depends_on).toEqual({
        [postgres]: { condition: 'service_healthy' },
        [migrate]: { condition: 'service_completed_successfully' },
      });
    }
  });

  test('never waits by sleeping: no command or entrypoint calls sleep', () => {
    for (const [, service] of services) {
      expect([...(service.entrypoint ?? []), ...(service.command ?? [])].join(' ')).not.toMatch(/\bsleep\b/);
    }
  });

  test('every service that others wait on has a healthcheck', () => {
    for (const [, service] of services) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        if (condition === 'service_healthy') expect(compose.services[dependency]?.healthcheck).toBeDefined();
      }
    }
  });

  test('runs every API and migration read-only with a /tmp tmpfs, no new privileges and no capabilities', () => {
    const apps = services.filter(([, service]) => service.image?.startsWith('branch-loans-'));
    expect(apps.length).toBe(8);
    for (const [, service] of apps) {
      expect(service.read_only).toBe(true);
      expect(service.tmpfs?.some((mount) => mount.startsWith('/tmp'))).toBe(true);
      expect(service.security_opt).toContain('no-new-privileges:true');
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.restart).toBeDefined();
    }
  });

  test('sets no-new-privileges and a restart policy on every service', () => {
    for (const [, service] of services) {
      expect(service.security_opt).toContain('no-new-privileges:true');
      expect(['unless-stopped', 'no']).toContain(service.restart as string);
    }
  });

  test('refuses to start without POSTGRES_PASSWORD: no default password for any environment', () => {
    expect(() => load({})).toThrow(/POSTGRES_PASSWORD/);
    expect(() => load({ POSTGRES_PASSWORD: '' })).toThrow(/POSTGRES_PASSWORD/);
    expect(source).not.toMatch(/POSTGRES_PASSWORD:?-/);
    for (const { profile } of environments) {
      expect(one(profile, isPostgres)[1].environment?.POSTGRES_PASSWORD).toBe('s3cretpassw0rd');
    }
  });

  test('publishes 80 and 443 (TCP and UDP for HTTP/3) from Caddy only; everything else binds to 127.0.0.1', () => {
    for (const profile of ['staging', 'prod']) {
      expect(one(profile, isCaddy)[1].ports).toEqual(['80:80', '443:443', '443:443/udp']);
    }
    for (const [, service] of services.filter(([, service]) => !isCaddy(service))) {
      for (const port of service.ports ?? []) expect(port).toStartWith('127.0.0.1:');
    }
  });

  test('mounts the repository Caddyfile into Caddy and defaults its upstream to api:8000', () => {
    for (const profile of ['staging', 'prod']) {
      const [, caddy] = one(profile, isCaddy);
      expect(caddy.volumes).toContain('./caddy/Caddyfile:/etc/caddy/Caddyfile:ro');
      expect(caddy.environment?.API_UPSTREAMS).toBe('api:8000');
      expect(caddy.image).toMatch(/^caddy:2\.\d+\.\d+-alpine$/);
    }
    // The staging API answers to `api` as well, so the same default reaches it.
    const [, staging] = one('staging', isApi);
    expect((staging.networks as Record<string, { aliases: string[] }>).edge?.aliases).toContain('api');
  });

  test('trusts X-Forwarded-For only from the edge network, which holds nothing but Caddy and the API', () => {
    const subnet = compose.networks.edge?.ipam?.config[0]?.subnet;
    expect(subnet).toBe('10.213.80.0/24');
    for (const profile of ['staging', 'prod']) {
      expect(one(profile, isApi)[1].environment?.TRUSTED_PROXIES).toBe(subnet as string);
    }
    const onEdge = services.filter(([, service]) => networksOf(service).includes('edge'));
    for (const [, service] of onEdge) expect(isCaddy(service) || isApi(service)).toBe(true);
    for (const [, service] of services.filter(([, service]) => isPostgres(service))) {
      expect(networksOf(service)).toEqual(['backend']);
    }
  });

  test('backs staging and prod up on a schedule into a named volume, daily unless BACKUP_INTERVAL_SECONDS says otherwise', () => {
    for (const profile of ['staging', 'prod']) {
      const [, backup] = one(profile, isBackup);
      const [postgresName] = one(profile, isPostgres);
      expect(backup.build?.dockerfile).toBe('docker/Dockerfile');
      expect(backup.environment).toMatchObject({
        BACKUP_DIR: '/backups',
        BACKUP_KEEP: '7',
        BACKUP_INTERVAL_SECONDS: '86400',
        DATABASE_URL: `postgres://loans:s3cretpassw0rd@${postgresName}:5432/loans`,
      });
      const [volume, target] = (backup.volumes?.[0] ?? '').split(':');
      expect(target).toBe('/backups');
      expect(Object.keys(compose.volumes)).toContain(volume as string);
    }
    const hourly = load({ POSTGRES_PASSWORD: 'x', BACKUP_INTERVAL_SECONDS: '3600' });
    expect(hourly.services.backup?.environment?.BACKUP_INTERVAL_SECONDS).toBe('3600');
  });

  test('runs pinned Prometheus and Grafana in the monitoring profile only, on 127.0.0.1', () => {
    const monitoring = inProfile('monitoring');
    expect(monitoring.map(([name]) => name).sort()).toEqual(['grafana', 'prometheus']);
    const [, prometheus] = monitoring.find(([name]) => name === 'prometheus') as [string, Service];
    const [, grafana] = monitoring.find(([name]) => name === 'grafana') as [string, Service];
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(prometheus.volumes).toContain(
      './docker/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
    expect(grafana.volumes).toContain('./docker/grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(networksOf(prometheus)).toContain('backend');
  });

  test('hands METRICS_TOKEN to the API and to the file Prometheus sends as its bearer token', () => {
    const withToken = load({ POSTGRES_PASSWORD: 'x', METRICS_TOKEN: 'a-token-of-24-characters' });
    expect(withToken.services.api?.environment?.METRICS_TOKEN).toBe('a-token-of-24-characters');
    const prometheus = withToken.services.prometheus as Service;
    expect(prometheus.environment?.METRICS_TOKEN).toBe('a-token-of-24-characters');
    expect(prometheus.command?.join(' ')).toContain('printf \'%s\' "$METRICS_TOKEN" > /tmp/metrics_token');
  });

  test('passes dclint, a maintained compose linter, with no errors or warnings', async () => {
    const dclint = join(repoRoot, 'node_modules/dclint/bin/dclint.cjs');
    const { code, stdout, stderr } = await runToExit(
      [process.execPath, dclint, composeFile, '--max-warnings', '0'],
      { cwd: repoRoot },
    );
    expect(`${stdout}${stderr}`.trim()).toBe('');
    expect(code).toBe(0);
  });
});
