import { openSingleConnection } from '../../src/db/client';

let created = 0;

/** Runs one administrative statement on the server at `baseUrl`, on a connection of its own. */
async function administer(baseUrl: string, statement: string): Promise<void> {
  const admin = openSingleConnection(baseUrl);
  try {
    await admin.unsafe(statement);
  } finally {
    await admin.end();
  }
}

/**
 * A new, empty database on the Postgres that DATABASE_URL points at, named for this process, and a function
 * that drops it. Each test file takes its own, so files never see each other's rows.
 */
export async function createFreshDatabase(
  baseUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `loans_test_${process.pid}_${Date.now().toString(36)}_${++created}`;
  await administer(baseUrl, `CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => administer(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
