import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Loan } from '../../src/modules/loans/model';
import { type ApiProcess, createApiKeyWithCli, startApiProcess } from '../support/api-process';
import { suiteDatabaseUrl } from '../support/database';
import { createFreshDatabase } from '../support/postgres';

if (!suiteDatabaseUrl)
  console.warn('[skip] idempotency across replicas: two processes need a real Postgres (DATABASE_URL)');

// Idempotency records live in Postgres, so a retry that lands on another replica gets the first one's answer.
describe.skipIf(!suiteDatabaseUrl)('an Idempotency-Key across two API processes on one Postgres', () => {
  const replicas: ApiProcess[] = [];
  let drop: (() => Promise<void>) | undefined;
  let key = '';

  beforeAll(async () => {
    const database = await createFreshDatabase(suiteDatabaseUrl as string);
    drop = database.drop;
    // One after the other: the first applies the migrations, the second finds nothing pending.
    for (let i = 0; i < 2; i++) replicas.push(await startApiProcess({ databaseUrl: database.url }));
    key = await createApiKeyWithCli(database.url);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop('SIGKILL')));
    await drop?.();
  });

  const apply = (replica: ApiProcess, idempotencyKey: string) =>
    fetch(`${replica.url}/api/loans`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: '{"borrower_id":"usr_replicas","amount":"100.00","currency":"KES"}',
    });
  const loansOf = async (replica: ApiProcess) =>
    (await (
      await fetch(`${replica.url}/api/loans?borrower_id=usr_replicas`, {
        headers: { authorization: `Bearer ${key}` },
      })
    ).json()) as Loan[];

  test('a retry on the other replica is the stored answer, and the loan exists once', async () => {
    const [a, b] = replicas as [ApiProcess, ApiProcess];
    const first = await apply(a, 'replicas-1');
    expect(first.status).toBe(201);
    const retry = await apply(b, 'replicas-1');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(await retry.text()).toBe(await first.text());
    expect(await loansOf(b)).toHaveLength(1);
  });

  test('the same key sent to both replicas at once creates one loan', async () => {
    const [a, b] = replicas as [ApiProcess, ApiProcess];
    const before = (await loansOf(a)).length;
    const answers = await Promise.all([apply(a, 'replicas-2'), apply(b, 'replicas-2')]);
    // One creates; the other is its replay, or 409 while the first is still in flight.
    expect(answers.map((answer) => answer.status)).toContain(201);
    for (const answer of answers) expect([201, 409]).toContain(answer.status);
    expect((await loansOf(a)).length).toBe(before + 1);
  });
});
