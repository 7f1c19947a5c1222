import { describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { postgresBinariesMissing, useApiOnThrowawayPostgres } from '../support/throwaway-postgres';
import { missingTools } from '../support/tools';

const skip = missingTools('the SIGTERM test', { 'initdb and pg_ctl': !postgresBinariesMissing });

const REQUESTS = 600;
const CONCURRENCY = 50;
const SIGTERM_AFTER_ACKS = 150;

describe.skipIf(skip)('SIGTERM in the middle of a burst of writes', () => {
  const running = useApiOnThrowawayPostgres();

  test('every acknowledged loan is stored, nothing unasked-for is, and the process exits 0', async () => {
    const { api, postgres: database } = running;
    const acknowledged = new Map<string, string>();
    const outcomes = new Map<string, number>();
    let next = 0;
    let terminated = false;

    const worker = async () => {
      while (next < REQUESTS) {
        const borrower = `usr_set_${next++}`;
        const outcome = await fetch(`${api.url}/api/loans`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${running.officerKey}` },
          body: JSON.stringify({ borrower_id: borrower, amount: '10.00', currency: 'USD' }),
          signal: AbortSignal.timeout(15_000),
        })
          .then(async (response) => {
            if (response.status === 201)
              acknowledged.set(borrower, ((await response.json()) as { id: string }).id);
            return String(response.status);
          })
          .catch((error: Error) => error.name);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (!terminated && acknowledged.size >= SIGTERM_AFTER_ACKS) {
          terminated = true;
          api.process.kill('SIGTERM');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(await api.exited).toBe(0);

    const sql = postgres(database.url, { max: 1 });
    const rows = await sql<{ id: string; borrower_id: string }[]>`SELECT id, borrower_id FROM loans`;
    await sql.end();
    const stored = new Map(rows.map((row) => [row.borrower_id, row.id]));
    const lost = [...acknowledged].filter(([borrower, id]) => stored.get(borrower) !== id);
    const unexpected = rows.filter(
      (row) => !/^usr_set_\d+$/.test(row.borrower_id) || Number(row.borrower_id.slice(8)) >= next,
    );

    console.info(
      `SIGTERM set test: ${REQUESTS} sent, ${acknowledged.size} acknowledged, ${rows.length} stored, ` +
        `outcomes ${JSON.stringify(Object.fromEntries(outcomes))}, lost ${lost.length}, unexpected ${unexpected.length}`,
    );
    expect(acknowledged.size).toBeGreaterThanOrEqual(SIGTERM_AFTER_ACKS);
    expect(lost).toEqual([]);
    expect(unexpected).toEqual([]);
    // Refused connections after the stop are fine; a request the server accepted must not be cut off.
    expect(outcomes.has('TimeoutError')).toBeFalse();
    expect(api.logs().includes('"msg":"stopped"')).toBeTrue();
  }, 60_000);
});
