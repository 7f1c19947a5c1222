import { openSingleConnection } from './client';

let created = 0;

/** Runs one administrative statement on the server at `serverUrl`, on a connection of its own. */
async function administer(serverUrl: string, statement: string): Promise<void> {
  const admin = openSingleConnection(serverUrl);
  try {
    await admin.unsafe(statement);
  } finally {
    await admin.end();
  }
}

/**
 * A new, empty database on the Postgres server at `serverUrl`, named for its purpose and this process, and a
 * function that drops it: each test file and each benchmark run takes its own. Not used by the service itself.
 */
export async function createScratchDatabase(
  serverUrl: string,
  purpose: 'test' | 'bench',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `loans_${purpose}_${process.pid}_${Date.now().toString(36)}_${++created}`;
  await administer(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => administer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
