import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { openSingleConnection } from '../../../src/db/client';
import { createIdempotency } from '../../../src/http/idempotency';
import { devKeys, useTestApp } from '../../support/app';
import {
  command,
  countOf,
  createLoan,
  eventsOf,
  lendableLoan,
  loanIn,
  problemOf,
  rowsOf,
  snapshot,
} from '../../support/lifecycle';

const t = useTestApp();

let keyCount = 0;
/** A key no other test uses. */
const freshKey = (label: string) => `${label}-${Date.now()}-${++keyCount}`;
const withKey = (key: string, headers: Record<string, string> = {}) => ({
  'idempotency-key': key,
  ...headers,
});

/** Everything of a response a replay must repeat. */
async function answer(response: Response) {
  return {
    status: response.status,
    body: await response.text(),
    location: response.headers.get('location'),
    etag: response.headers.get('etag'),
  };
}

const loansOf = (borrowerId: string) =>
  countOf(t.database.db, sql`SELECT count(*)::int AS n FROM loans WHERE borrower_id = ${borrowerId}`);
const storedKeys = (key: string) =>
  countOf(t.database.db, sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = ${key}`);

describe('a replay answers what the first request answered, and does nothing again', () => {
  test('create: same status, body text, Location and ETag, marked replayed, with its own request id', async () => {
    const key = freshKey('create');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    const first = await t.post('/api/loans', body, withKey(key, { 'x-request-id': 'first-try' }));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const original = await answer(first);
    expect(original.status).toBe(201);

    const retry = await t.post('/api/loans', body, withKey(key, { 'x-request-id': 'second-try' }));
    expect(await answer(retry)).toEqual(original);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('x-request-id')).toBe('second-try');
    const anonymous = await t.post('/api/loans', body, withKey(key));
    expect(anonymous.headers.get('x-request-id')).not.toBe('first-try');
    expect(await answer(anonymous)).toEqual(original);

    expect(await loansOf(body.borrower_id)).toBe(1);
    const { id } = JSON.parse(original.body) as { id: string };
    expect((await eventsOf(t, id)).map((event) => event.type)).toEqual(['created']);
  });

  test('a command: the first answer again after the loan changed, whatever If-Match the replay carries', async () => {
    const id = await loanIn(t, 'pending');
    const key = freshKey('approve');
    const first = await command(t, id, 'approve', { reason: 'ok' }, withKey(key, { 'if-match': '"1"' }));
    const original = await answer(first);
    expect(original.status).toBe(200);
    expect(original.etag).toBe('"2"');

    expect((await command(t, id, 'undo-approval', {})).status).toBe(200);
    const now = await snapshot(t, id);
    expect(now.etag).toBe('"3"');

    for (const ifMatch of [undefined, '"1"', '"3"', 'W/"2"', 'garbage']) {
      const headers = withKey(key, ifMatch === undefined ? {} : { 'if-match': ifMatch });
      const retry = await command(t, id, 'approve', { reason: 'ok' }, headers);
      expect(await answer(retry)).toEqual(original);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    }
    expect(await snapshot(t, id)).toEqual(now);
  });

  test('a repayment is replayed with its Location and nothing is paid twice', async () => {
    const id = await loanIn(t, 'disbursed');
    const key = freshKey('repay');
    const pay = () => t.post(`/api/loans/${id}/repayments`, { amount: '100.00' }, withKey(key));
    const original = await answer(await pay());
    expect(original.status).toBe(201);
    expect(original.location).toStartWith(`/api/loans/${id}/repayments/`);
    expect(await answer(await pay())).toEqual(original);
    const repayments = (await (await t.req(`/api/loans/${id}/repayments`)).json()) as unknown[];
    expect(repayments).toHaveLength(1);
  });

  test('POST /api/keys replayed answers the same key record with "key": null', async () => {
    const admin = t.as(devKeys.admin);
    const key = freshKey('keys');
    const body = { name: `replayed ${key}`, role: 'officer' };
    const first = await admin.post('/api/keys', body, withKey(key));
    expect(first.status).toBe(201);
    const created = (await first.json()) as { id: string; key: string | null };
    expect(created.key).toBeString();

    const retry = await admin.post('/api/keys', body, withKey(key));
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual({ ...created, key: null });
    const listed = (await (await admin.req('/api/keys')).json()) as { name: string }[];
    expect(listed.filter((apiKey) => apiKey.name === body.name)).toHaveLength(1);
  });
});

describe('a key reused for another request is refused', () => {
  test.each([
    ['another body', { term_months: 12 }],
    ['the same body with other spacing', undefined],
  ])('with %s: 422 idempotency-key-reused, nothing created', async (_what, change) => {
    const key = freshKey('reuse');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    expect((await t.post('/api/loans', body, withKey(key))).status).toBe(201);
    const other = change === undefined ? JSON.stringify(body, null, 2) : { ...body, ...change };
    const problem = await problemOf(await t.post('/api/loans', other, withKey(key)), 422);
    expect(problem.type).toEndWith('/problems/idempotency-key-reused');
    expect(await loansOf(body.borrower_id)).toBe(1);
  });

  test('on another path: 422, and the other loan is untouched', async () => {
    const first = await loanIn(t, 'pending');
    const second = await loanIn(t, 'pending');
    const key = freshKey('path');
    expect((await command(t, first, 'approve', {}, withKey(key))).status).toBe(200);
    const before = await snapshot(t, second);
    const problem = await problemOf(await command(t, second, 'approve', {}, withKey(key)), 422);
    expect(problem.type).toEndWith('/problems/idempotency-key-reused');
    expect(await snapshot(t, second)).toEqual(before);
  });

  test('with another method: 422', async () => {
    const { id } = await createLoan(t);
    const key = freshKey('method');
    const patched = await t.req(`/api/loans/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json', ...withKey(key) },
      body: '{"term_months":3}',
    });
    expect(patched.status).toBe(200);
    const problem = await problemOf(await t.post('/api/loans', lendableLoan, withKey(key)), 422);
    expect(problem.type).toEndWith('/problems/idempotency-key-reused');
  });
});

describe('keys belong to the credential that sent them', () => {
  test('the same key and body from another credential is a new request', async () => {
    const key = freshKey('scope');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    const mine = await t.post('/api/loans', body, withKey(key));
    const theirs = await t.as(devKeys.officer2).post('/api/loans', body, withKey(key));
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(((await theirs.json()) as { id: string }).id).not.toBe(((await mine.json()) as { id: string }).id);
    expect(await loansOf(body.borrower_id)).toBe(2);
  });

  test("another credential's key never replays to this one, even with another body", async () => {
    const key = freshKey('scope-body');
    expect((await t.post('/api/loans', lendableLoan, withKey(key))).status).toBe(201);
    const other = await t.as(devKeys.admin).post('/api/loans', { ...lendableLoan, amount: 5 }, withKey(key));
    expect(other.status).toBe(201);
  });
});

describe('only a success is stored', () => {
  test('a 422 is not stored: the corrected request with the same key is processed afresh', async () => {
    const key = freshKey('fix-body');
    const refused = await t.post('/api/loans', { ...lendableLoan, amount: 0 }, withKey(key));
    await problemOf(refused, 422);
    expect(await storedKeys(key)).toBe(0);
    // Even the identical request is tried again, not answered from a record.
    await problemOf(await t.post('/api/loans', { ...lendableLoan, amount: 0 }, withKey(key)), 422);
    const fixed = await t.post('/api/loans', lendableLoan, withKey(key));
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });

  test('a 409 is not stored: once the loan is fixed, the same command with the same key runs', async () => {
    const { id } = await createLoan(t, { term_months: undefined });
    const key = freshKey('fix-loan');
    await problemOf(await command(t, id, 'approve', {}, withKey(key)), 409);
    expect(await storedKeys(key)).toBe(0);
    const patched = await t.req(`/api/loans/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: '{"term_months":6}',
    });
    expect(patched.status).toBe(200);
    const approved = await command(t, id, 'approve', {}, withKey(key));
    expect(approved.status).toBe(200);
    expect(approved.headers.get('idempotent-replayed')).toBeNull();
  });

  test('a 412 and a 404 are not stored either', async () => {
    const id = await loanIn(t, 'pending');
    const key = freshKey('precondition');
    await problemOf(await command(t, id, 'approve', {}, withKey(key, { 'if-match': '"9"' })), 412);
    expect((await command(t, id, 'approve', {}, withKey(key, { 'if-match': '"1"' }))).status).toBe(200);
    const missing = freshKey('missing');
    await problemOf(
      await command(t, '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10', 'approve', {}, withKey(missing)),
      404,
    );
    expect(await storedKeys(missing)).toBe(0);
  });
});

describe('a key while its first request is still running', () => {
  test('concurrent retries of a create with one key create one loan', async () => {
    const key = freshKey('concurrent');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => t.post('/api/loans', body, withKey(key))),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    const created = responses.filter((response) => response.status === 201);
    expect(created.filter((response) => !response.headers.has('idempotent-replayed'))).toHaveLength(1);
    expect(new Set(await Promise.all(created.map((response) => response.text()))).size).toBe(1);
    for (const response of responses.filter((r) => r.status === 409)) {
      expect(((await response.json()) as { type: string }).type).toEndWith(
        '/problems/idempotency-key-in-flight',
      );
    }
    expect(await loansOf(body.borrower_id)).toBe(1);
  });

  test('409 idempotency-key-in-flight with Retry-After: 1 while the first waits on the loan, then the replay', async () => {
    if (t.database.driver !== 'postgres') {
      console.info(
        'in-flight test skipped on PGlite: it has one connection, so nothing can hold the loan while a request waits on it',
      );
      return;
    }
    const id = await loanIn(t, 'pending');
    const key = freshKey('in-flight');
    const holder = openSingleConnection(t.database.url);
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = holder.begin(async (tx) => {
      await tx`SELECT id FROM loans WHERE id = ${id} FOR UPDATE`;
      locked();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    try {
      await isLocked;
      const first = command(t, id, 'approve', {}, withKey(key));
      while ((await storedKeys(key)) === 0) await Bun.sleep(5);
      const retry = await command(t, id, 'approve', {}, withKey(key));
      const problem = await problemOf(retry, 409);
      expect(problem.type).toEndWith('/problems/idempotency-key-in-flight');
      expect(retry.headers.get('retry-after')).toBe('1');
      release();
      await holding;
      const original = await answer(await first);
      expect(original.status).toBe(200);
      const replay = await command(t, id, 'approve', {}, withKey(key));
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await answer(replay)).toEqual(original);
      expect((await eventsOf(t, id)).map((event) => event.type)).toEqual(['created', 'approved']);
    } finally {
      release();
      await holding.catch(() => {});
      await holder.end();
    }
  });

  test('a claim still open answers 409; one abandoned for over 60 s is taken over', async () => {
    const key = freshKey('abandoned');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    expect((await t.post('/api/loans', body, withKey(key))).status).toBe(201);
    // What a request still running (or whose process died) leaves: the claim without a response.
    await t.database.db.execute(
      sql`UPDATE idempotency_keys SET status = NULL, body = NULL, headers = NULL WHERE key = ${key}`,
    );
    const open = await t.post('/api/loans', body, withKey(key));
    expect((await problemOf(open, 409)).type).toEndWith('/problems/idempotency-key-in-flight');
    expect(open.headers.get('retry-after')).toBe('1');
    await t.database.db.execute(
      sql`UPDATE idempotency_keys SET created_at = now() - interval '61 seconds' WHERE key = ${key}`,
    );
    const taken = await t.post('/api/loans', body, withKey(key));
    expect(taken.status).toBe(201);
    expect(taken.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('keys are kept for 24 hours', () => {
  test('a key 23 hours old still replays; past 24 hours it is fresh again', async () => {
    const key = freshKey('expiry');
    const body = { ...lendableLoan, borrower_id: `usr_${key}` };
    const first = await answer(await t.post('/api/loans', body, withKey(key)));
    const age = (interval: string) =>
      t.database.db.execute(
        sql`UPDATE idempotency_keys SET created_at = now() - ${interval}::interval WHERE key = ${key}`,
      );
    await age('23 hours');
    expect(await answer(await t.post('/api/loans', body, withKey(key)))).toEqual(first);
    await age('24 hours 1 second');
    const fresh = await t.post('/api/loans', body, withKey(key));
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(await loansOf(body.borrower_id)).toBe(2);
    // Expired, the key may carry another request too.
    await age('25 hours');
    expect((await t.post('/api/loans', { ...body, amount: 7 }, withKey(key))).status).toBe(201);
  });
});

describe('the sweep', () => {
  const ACTOR = 'sweep-test';
  const keep = (key: string, age: string) =>
    t.database.db.execute(
      sql`INSERT INTO idempotency_keys (actor, key, fingerprint, status, body, headers, created_at)
          VALUES (${ACTOR}, ${key}, ${'0'.repeat(64)}, 201, '{}', '{}', now() - ${age}::interval)`,
    );
  const left = () =>
    rowsOf<{ key: string }>(
      t.database.db,
      sql`SELECT key FROM idempotency_keys WHERE actor = ${ACTOR} ORDER BY key`,
    );

  test('deletes the records past 24 hours and keeps the younger ones', async () => {
    await keep('sweep-old', '24 hours 1 minute');
    await keep('sweep-young', '23 hours 59 minutes');
    expect(await createIdempotency(t.database.db).sweep()).toBeGreaterThanOrEqual(1);
    expect(await left()).toEqual([{ key: 'sweep-young' }]);
  });

  test('runs by itself once an hour has passed since the last one, on the next keyed write', async () => {
    await keep('sweep-later', '2 days');
    let now = Date.now();
    const idempotency = createIdempotency(t.database.db, () => now);
    const write = (key: string) =>
      idempotency.run({ actor: ACTOR, key, method: 'POST', path: '/api/loans', rawBody: '{}' }, async () => ({
        status: 201,
        body: {},
        headers: {},
      }));
    await write('sweep-early-write');
    expect((await left()).map((row) => row.key)).toContain('sweep-later');
    now += 61 * 60 * 1000;
    await write('sweep-late-write');
    for (let tries = 0; tries < 100 && (await left()).some((row) => row.key === 'sweep-later'); tries++) {
      await Bun.sleep(20);
    }
    expect((await left()).map((row) => row.key)).not.toContain('sweep-later');
  });
});
