import { describe, expect, test } from 'bun:test';
import { postgresBinariesMissing, useApiOnThrowawayPostgres } from '../support/throwaway-postgres';
import { missingTools } from '../support/tools';

const skip = missingTools('the database outage test', { 'initdb and pg_ctl': !postgresBinariesMissing });

/** Polls until `check` returns true, and says how long that took; fails after `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await Bun.sleep(100);
  }
  return Date.now() - started;
}

describe.skipIf(skip)('when the database goes away and comes back', () => {
  const running = useApiOnThrowawayPostgres();
  const loan = { borrower_id: 'usr_outage', amount: '100.00', currency: 'KES' };
  const post = () =>
    fetch(`${running.api.url}/api/loans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${running.officerKey}` },
      body: JSON.stringify(loan),
      signal: AbortSignal.timeout(10_000),
    });

  test('readiness fails fast, writes get 503, and the same process recovers by itself', async () => {
    const { api, postgres } = running;
    expect((await post()).status).toBe(201);
    const pid = api.process.pid;

    await postgres.stop();
    const readyDown = await within(3_000, async () => (await fetch(`${api.url}/ready`)).status === 503);
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    const started = Date.now();
    const refused = await post();
    const refusedAfter = Date.now() - started;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toStartWith('application/problem+json');
    const body = await refused.text();
    expect(body).not.toMatch(/ECONNREFUSED|postgres|select|insert/i);
    expect(refusedAfter).toBeLessThan(5_000);

    await postgres.start();
    const readyUp = await within(20_000, async () => (await fetch(`${api.url}/ready`)).status === 200);
    const createdAgain = await within(20_000, async () => (await post()).status === 201);
    expect(api.process.pid).toBe(pid);
    expect(api.process.exitCode).toBeNull();
    console.info(
      `outage: /ready 503 after ${readyDown} ms, POST 503 in ${refusedAfter} ms; ` +
        `recovered: /ready 200 after ${readyUp} ms, POST 201 ${createdAgain} ms later`,
    );
  }, 60_000);
});
