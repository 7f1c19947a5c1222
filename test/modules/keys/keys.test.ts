import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { hashApiKey } from '../../../src/auth/api-key';
import { developmentKeys } from '../../../src/modules/keys/dev-keys';
import type { ApiKey, CreatedApiKey } from '../../../src/modules/keys/model';
import type { Loan } from '../../../src/modules/loans/model';
import { bearer, devKeys, useTestApp } from '../../support/app';

const t = useTestApp();
const admin = () => t.as(devKeys.admin);

const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;

async function createKey(body: Record<string, unknown>, headers?: Record<string, string>) {
  const response = await admin().post('/api/keys', body, headers);
  expect(response.status).toBe(201);
  return (await response.json()) as CreatedApiKey & { key: string };
}

async function listKeys(): Promise<ApiKey[]> {
  const response = await admin().req('/api/keys');
  expect(response.status).toBe(200);
  return (await response.json()) as ApiKey[];
}

const revoke = (id: string) => admin().req(`/api/keys/${id}`, { method: 'DELETE' });

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  return (await response.json()) as { detail: string; errors?: { path: string; message: string }[] };
}

/** Every row of every table in the database, as JSON text. */
async function everyRowAsText(): Promise<string> {
  const tables = rowsOf<{ schema: string; name: string }>(
    await t.database.db.execute(sql`
      SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`),
  );
  expect(tables.map((table) => table.name)).toContain('api_keys');
  const dumped: string[] = [];
  for (const { schema, name } of tables) {
    const rows = rowsOf<{ row: string }>(
      await t.database.db.execute(
        sql`SELECT row_to_json(t)::text AS row FROM ${sql.identifier(schema)}.${sql.identifier(name)} t`,
      ),
    );
    dumped.push(...rows.map((row) => row.row));
  }
  return dumped.join('\n');
}

describe('POST /api/keys', () => {
  test('checks the Idempotency-Key (400) and the role (403) before the body rules (422), as the contract orders', async () => {
    const badBody = { name: 'x', role: 'emperor' };
    const badKey = await admin().post('/api/keys', badBody, { 'idempotency-key': 'x'.repeat(256) });
    expect(badKey.status).toBe(400);
    const notAdmin = await t.as(devKeys.officer).post('/api/keys', badBody);
    expect(notAdmin.status).toBe(403);
    expect((await admin().post('/api/keys', badBody)).status).toBe(422);
  });

  test('answers 201 with the key, a long random blk_ string, and the key it describes', async () => {
    const before = Date.now();
    const created = await createKey({ name: 'back-office', role: 'officer' });
    expect(created.key).toMatch(/^blk_[A-Za-z0-9_-]{43,}$/);
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'back-office',
      role: 'officer',
      borrower_id: null,
      key: created.key,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      expires_at: null,
      revoked_at: null,
    });
    expect(Date.parse(created.created_at)).toBeGreaterThanOrEqual(before - 60_000);
    const other = await createKey({ name: 'back-office', role: 'officer' });
    expect(other.key).not.toBe(created.key);
  });

  test('keeps an expiry and a borrower for a borrower key', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await createKey({
      name: 'kenya-app',
      role: 'borrower',
      borrower_id: 'usr_kenya_001',
      expires_at: expiresAt,
    });
    expect(created).toMatchObject({ role: 'borrower', borrower_id: 'usr_kenya_001', expires_at: expiresAt });
  });

  test.each([
    ['a borrower key without borrower_id', { name: 'n', role: 'borrower' }, '/borrower_id'],
    [
      'an officer key with a borrower_id',
      { name: 'n', role: 'officer', borrower_id: 'usr_kenya_001' },
      '/borrower_id',
    ],
    [
      'an admin key with a borrower_id',
      { name: 'n', role: 'admin', borrower_id: 'usr_kenya_001' },
      '/borrower_id',
    ],
    ['no name', { role: 'officer' }, '/name'],
    ['an empty name', { name: '', role: 'officer' }, '/name'],
    ['an unknown role', { name: 'n', role: 'superuser' }, '/role'],
    [
      'an expiry in the past',
      { name: 'n', role: 'officer', expires_at: '2020-01-01T00:00:00Z' },
      '/expires_at',
    ],
    ['an expiry that is not a time', { name: 'n', role: 'officer', expires_at: 'tomorrow' }, '/expires_at'],
    ['a field a client may not set', { name: 'n', role: 'officer', key: 'blk_chosen' }, '/key'],
  ])('refuses %s with 422 naming the field, and stores nothing', async (_, body, path) => {
    const before = (await listKeys()).length;
    const problem = await expectProblem(await admin().post('/api/keys', body), 422);
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    expect((await listKeys()).length).toBe(before);
  });

  test('a replay through Idempotency-Key answers the same key record with "key": null, and makes no second key', async () => {
    const first = await createKey({ name: 'replayed', role: 'officer' }, { 'idempotency-key': 'make-key-1' });
    const before = (await listKeys()).length;
    const replay = await admin().post(
      '/api/keys',
      { name: 'replayed', role: 'officer' },
      { 'idempotency-key': 'make-key-1' },
    );
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual({ ...first, key: null });
    expect((await listKeys()).length).toBe(before);
  });
});

describe('GET /api/keys', () => {
  test('lists every key, revoked ones with revoked_at, never a key itself', async () => {
    const kept = await createKey({ name: 'kept', role: 'officer' });
    const dropped = await createKey({ name: 'dropped', role: 'admin' });
    expect((await revoke(dropped.id)).status).toBe(204);
    const response = await admin().req('/api/keys');
    const text = await response.text();
    const listed = JSON.parse(text) as ApiKey[];
    for (const key of listed)
      expect(Object.keys(key).sort()).toEqual([
        'borrower_id',
        'created_at',
        'expires_at',
        'id',
        'name',
        'revoked_at',
        'role',
      ]);
    expect(listed.find((key) => key.id === kept.id)?.revoked_at).toBeNull();
    expect(listed.find((key) => key.id === dropped.id)?.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The development keys are there too, each under its id.
    expect(listed.map((key) => key.id)).toEqual(expect.arrayContaining(developmentKeys.map((key) => key.id)));
    for (const secret of [kept.key, dropped.key, ...Object.values(devKeys)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hashApiKey(secret));
    }
  });
});

describe('DELETE /api/keys/:id', () => {
  test('revokes with 204, and again 204 keeping the first revocation time', async () => {
    const { id } = await createKey({ name: 'twice', role: 'officer' });
    const first = await revoke(id);
    expect(first.status).toBe(204);
    expect(await first.text()).toBe('');
    const revokedAt = (await listKeys()).find((key) => key.id === id)?.revoked_at;
    expect(revokedAt).toBeString();
    expect((await revoke(id)).status).toBe(204);
    expect((await listKeys()).find((key) => key.id === id)?.revoked_at).toBe(revokedAt as string);
  });

  test('404 for an id no key has, 400 for one that is not a UUID', async () => {
    await expectProblem(await revoke('00000000-0000-4000-8000-000000000404'), 404);
    await expectProblem(await revoke('not-a-uuid'), 400);
  });
});

describe('a key from create to revoke', () => {
  test('works at once with its role and borrower, and gets 401 as soon as it is revoked', async () => {
    const created = await createKey({ name: 'kenya-app', role: 'borrower', borrower_id: 'usr_kenya_001' });
    expect(
      (await t.post('/api/loans', { borrower_id: 'usr_india_002', amount: '5.00', currency: 'KES' })).status,
    ).toBe(201);
    const mine = await t
      .as(created.key)
      .post('/api/loans', { borrower_id: 'usr_kenya_001', amount: '5.00', currency: 'KES' });
    expect(mine.status).toBe(201);
    const list = await t.req('/api/loans?limit=200', { headers: bearer(created.key) });
    expect(list.status).toBe(200);
    const loans = (await list.json()) as Loan[];
    expect(loans.length).toBeGreaterThan(0);
    expect(loans.every((loan) => loan.borrower_id === 'usr_kenya_001')).toBe(true);
    await expectProblem(await t.req('/api/stats', { headers: bearer(created.key) }), 403);

    expect((await revoke(created.id)).status).toBe(204);
    const refused = await t.req('/api/loans', { headers: bearer(created.key) });
    await expectProblem(refused, 401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('an admin key made through the API manages keys itself', async () => {
    const created = await createKey({ name: 'second-admin', role: 'admin' });
    expect((await t.req('/api/keys', { headers: bearer(created.key) })).status).toBe(200);
  });
});

describe('who may manage keys', () => {
  test.each([
    ['an officer', devKeys.officer],
    ['a borrower', devKeys.borrower],
  ])('%s gets 403 on every key route, and nothing changes', async (_, credential) => {
    const { id } = await createKey({ name: 'target', role: 'officer' });
    const before = await listKeys();
    const as = t.as(credential);
    await expectProblem(await as.req('/api/keys'), 403);
    await expectProblem(await as.post('/api/keys', { name: 'mine', role: 'admin' }), 403);
    await expectProblem(await as.req(`/api/keys/${id}`, { method: 'DELETE' }), 403);
    expect(await listKeys()).toEqual(before);
  });
});

describe('the key text', () => {
  test('is nowhere in the database: only its SHA-256 is stored', async () => {
    const created = [
      await createKey({ name: 'dumped', role: 'officer' }),
      await createKey({ name: 'dumped-idempotent', role: 'admin' }, { 'idempotency-key': 'dump-1' }),
      await createKey({ name: 'dumped-borrower', role: 'borrower', borrower_id: 'usr_x' }),
    ];
    // Used once, so anything the service might keep about a request has had its chance to be written.
    for (const { key } of created)
      expect((await t.req('/api/loans', { headers: bearer(key) })).status).toBe(200);
    const dump = await everyRowAsText();
    expect(dump.length).toBeGreaterThan(0);
    for (const { key } of created) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice('blk_'.length));
      expect(dump).toContain(hashApiKey(key));
    }
    for (const key of Object.values(devKeys)) expect(dump).not.toContain(key);
  });

  test('is never in a log line', async () => {
    const { key, id } = await createKey({ name: 'logged', role: 'officer' });
    await t.req('/api/loans', { headers: bearer(key) });
    await revoke(id);
    await t.req('/api/loans', { headers: bearer(key) });
    const logged = JSON.stringify(t.logs);
    expect(t.logs.length).toBeGreaterThan(0);
    expect(logged).not.toContain(key);
    expect(logged).not.toContain(key.slice('blk_'.length));
  });
});
