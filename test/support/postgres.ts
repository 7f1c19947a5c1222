import { createScratchDatabase } from '../../src/db/scratch-database';

/**
 * A new, empty database on the Postgres that DATABASE_URL points at, and a function that drops it. Each test
 * file takes its own, so files never see each other's rows.
 */
export const createFreshDatabase = (baseUrl: string) => createScratchDatabase(baseUrl, 'test');
