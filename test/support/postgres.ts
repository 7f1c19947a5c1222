import postgres from 'postgres';

let created = 0;

/**
 * A new, empty database on the Postgres that DATABASE_URL points at, named for this process, and a function
 * that drops it. Each test file takes its own, so files never see each other's rows.
 */
export async function createFreshDatabase(
  baseUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `loans_test_${process.pid}_${Date.now().toString(36)}_${++created}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}
