/**
 * `bun run db:migrate`: applies pending migrations; the compose `migrate` job runs this, as the owner. With
 * API_DB_ROLE and API_DB_PASSWORD set it then creates or updates the API's own role and its grants, after every
 * migration, so a table a migration adds is granted at once (docs/deployment.md, "Database roles").
 */
import { Type as t } from '@sinclair/typebox';
import { ConfigError, readEnv } from '../../config';
import { runMigrations } from '../migrate';
import { type ApiRole, grantApiRole } from '../roles';
import { runDatabaseCommand } from './command';

const RoleEnv = t.Object({
  API_DB_ROLE: t.Optional(
    t.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$', description: 'a lower-case role name such as loans_api' }),
  ),
  API_DB_PASSWORD: t.Optional(
    t.String({ pattern: '^[!-~]{16,}$', description: '16 or more printable ASCII characters, no spaces' }),
  ),
});

function apiRoleFromEnv(): ApiRole | undefined {
  const env = readEnv(RoleEnv, process.env);
  if (env.API_DB_ROLE === undefined && env.API_DB_PASSWORD === undefined) return undefined;
  if (env.API_DB_ROLE === undefined || env.API_DB_PASSWORD === undefined) {
    throw new ConfigError(['API_DB_ROLE and API_DB_PASSWORD must be set together, or neither']);
  }
  return { name: env.API_DB_ROLE, password: env.API_DB_PASSWORD };
}

await runDatabaseCommand('migrate', async (database, logger) => {
  const role = apiRoleFromEnv();
  await runMigrations(database);
  logger.info('migrate: the database is up to date');
  if (!role) return;
  if (database.driver !== 'postgres') {
    logger.warn('migrate: API_DB_ROLE ignored: the embedded database has no roles to grant');
    return;
  }
  await grantApiRole(database.url, role);
  logger.info({ role: role.name }, 'migrate: the API role has its grants');
});
