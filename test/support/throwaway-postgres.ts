import { afterAll, beforeAll } from 'bun:test';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiProcess, createApiKeyWithCli, freePort, startApiProcess } from './api-process';
import { runToExit } from './run';

/** Postgres server binaries: PATH first, then Debian's versioned directory. */
function binary(name: 'initdb' | 'pg_ctl'): string | undefined {
  const debian = Bun.spawnSync([
    'sh',
    '-c',
    'ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1',
  ]);
  const debianBin = debian.stdout.toString().trim();
  return Bun.which(name) ?? (debianBin ? Bun.which(name, { PATH: debianBin }) : null) ?? undefined;
}

export const postgresBinariesMissing = !binary('initdb') || !binary('pg_ctl');

export interface ThrowawayPostgres {
  url: string;
  start: () => Promise<void>;
  /** A fast shutdown: open connections are closed, as when a database server goes away. */
  stop: () => Promise<void>;
  destroy: () => Promise<void>;
}

// Postgres refuses to run as root; as root, run it as the postgres user.
const isRoot = process.getuid?.() === 0;
const asServerUser = (command: string[]) =>
  isRoot ? ['runuser', '-u', 'postgres', '--', ...command] : command;
const idOfPostgres = (flag: '-u' | '-g') => Number(Bun.spawnSync(['id', flag, 'postgres']).stdout.toString());

async function run(command: string[]): Promise<void> {
  const { code, stdout, stderr } = await runToExit(asServerUser(command));
  if (code !== 0) throw new Error(`${command.join(' ')} exited with ${code}:\n${stdout}${stderr}`);
}

/** A private Postgres cluster on a free loopback port, which a test may stop and start at will. */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const initdb = binary('initdb');
  const pgCtl = binary('pg_ctl');
  if (!initdb || !pgCtl) throw new Error('initdb and pg_ctl are not installed');
  const dir = mkdtempSync(join(tmpdir(), 'loans-pg-'));
  if (isRoot) chownSync(dir, idOfPostgres('-u'), idOfPostgres('-g'));
  const data = join(dir, 'data');
  const port = await freePort();
  await run([
    initdb,
    '--pgdata',
    data,
    '--username',
    'postgres',
    '--auth',
    'trust',
    '--no-sync',
    '--encoding',
    'UTF8',
  ]);
  const options = `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`;
  const start = () =>
    run([pgCtl, '--pgdata', data, '--log', join(dir, 'server.log'), '--options', options, '--wait', 'start']);
  const stop = () => run([pgCtl, '--pgdata', data, '--mode', 'fast', '--wait', 'stop']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy: async () => {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** For a fault test: a throwaway Postgres and one API process on it, started in beforeAll, gone after. */
export function useApiOnThrowawayPostgres(): {
  postgres: ThrowawayPostgres;
  api: ApiProcess;
  officerKey: string;
} {
  const running = {} as { postgres: ThrowawayPostgres; api: ApiProcess; officerKey: string };
  beforeAll(async () => {
    running.postgres = await startThrowawayPostgres();
    running.api = await startApiProcess({
      databaseUrl: running.postgres.url,
      env: { RATE_LIMIT_PER_MINUTE: '0' },
    });
    running.officerKey = await createApiKeyWithCli(running.postgres.url);
  }, 60_000);
  afterAll(async () => {
    await running.api?.stop('SIGKILL');
    await running.postgres?.destroy();
  });
  return running;
}
