/**
 * Operator commands for API keys, on DATABASE_URL (or the embedded database):
 *   bun run keys:create --role ROLE --name NAME [--borrower ID] [--expires ISO-TIME]
 *   bun run keys:list
 *   bun run keys:revoke ID
 * keys:create prints the key alone on the last line of stdout: the only time it is ever shown.
 */
import { parseArgs } from 'node:util';
import { ValidationError } from 'elysia';
import { runDatabaseCommand } from '../../db/cli/command';
import { runMigrations } from '../../db/migrate';
import { Problem } from '../../http/problem';
import { UUID_PATTERN } from '../../http/schemas';
import { createApiKeyRepository } from './repository';
import { createKeyService } from './service';

const [command, ...rest] = Bun.argv.slice(2);
const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    role: { type: 'string' },
    name: { type: 'string' },
    borrower: { type: 'string' },
    expires: { type: 'string' },
  },
});

/** A refusal as one line an operator can act on. */
function explain(error: unknown) {
  if (error instanceof ValidationError) {
    const rules = error.all.map((issue) => ('schema' in issue && issue.schema.error) || issue.summary);
    return new Error([...new Set(rules)].join('; '));
  }
  if (error instanceof Problem) {
    return new Error(`${error.detail} ${error.errors?.map((e) => e.message).join('; ') ?? ''}`.trim());
  }
  return error;
}

let output: string[] = [];
await runDatabaseCommand(`keys:${command}`, async (database, logger) => {
  await runMigrations(database);
  const keys = createKeyService(createApiKeyRepository(database.db));
  if (command === 'create') {
    const input = {
      name: values.name,
      role: values.role,
      ...(values.borrower !== undefined && { borrower_id: values.borrower }),
      ...(values.expires !== undefined && { expires_at: values.expires }),
    };
    const created = await keys.create(input).catch((error) => {
      throw explain(error);
    });
    logger.info(
      { id: created.id, role: created.role },
      'keys:create: key created; it is printed below, once',
    );
    output = [created.key ?? ''];
  } else if (command === 'list') {
    output = (await keys.list()).map((key) => JSON.stringify(key));
  } else if (command === 'revoke') {
    const [id] = positionals;
    if (!id || !new RegExp(UUID_PATTERN).test(id)) throw new Error('usage: bun run keys:revoke ID (a UUID)');
    await keys.revoke(id).catch((error) => {
      throw explain(error);
    });
    logger.info({ id }, 'keys:revoke: key revoked');
  } else {
    throw new Error(
      'usage: keys:create --role ROLE --name NAME [--borrower ID] | keys:list | keys:revoke ID',
    );
  }
});
// After the logs are flushed, so the key is the last line.
for (const line of output) console.log(line);
