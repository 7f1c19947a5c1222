import { sql } from 'drizzle-orm';
import { Elysia, t } from 'elysia';
import type { Database } from '../../db/client';
import { loans } from '../../db/schema';
import { Problem, problemResponses } from '../../http/problem';

const READY_TIMEOUT_MS = 1500;

/**
 * Resolves when the loans table answers within the timeout, rejects otherwise. `SELECT 1` alone would pass while
 * a lock on the table stalls every request; this waits on the same lock they do.
 */
async function pingDatabase(db: Database): Promise<void> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([db.execute(sql`SELECT 1 FROM ${loans} LIMIT 1`), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes = (db: Database) =>
  new Elysia({ tags: ['Operations'] })
    .get('/health', () => ({ status: 'ok' as const }), {
      response: { 200: t.Object({ status: t.Literal('ok') }) },
      detail: {
        summary: 'Liveness',
        description: 'Answers while the process serves requests; no database call.',
      },
    })
    .get(
      '/ready',
      async () => {
        try {
          await pingDatabase(db);
        } catch {
          throw Problem.unavailable('The database is not answering.');
        }
        return { status: 'ready' as const };
      },
      {
        response: { 200: t.Object({ status: t.Literal('ready') }), ...problemResponses(503) },
        detail: {
          summary: 'Readiness',
          description: `200 when the loans table answers within ${READY_TIMEOUT_MS} ms, else 503.`,
        },
      },
    );
