import { beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { generateApiKey, hashApiKey } from '../../src/auth/api-key';
import { apiKeys } from '../../src/db/schema';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { bearer, devKeys, useTestApp } from '../support/app';

const t = useTestApp();

const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;

async function countLoans(): Promise<number> {
  const [row] = rowsOf<{ n: number }>(await t.database.db.execute(sql`SELECT count(*)::int AS n FROM loans`));
  return row?.n ?? -1;
}

const newLoan = JSON.stringify({ borrower_id: 'usr_kenya_001', amount: '100.00', currency: 'KES' });

async function expectUnauthorized(response: Response) {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  const problem = (await response.json()) as Record<string, unknown>;
  expect(problem).toMatchObject({ status: 401, title: 'Unauthorized', detail: expect.any(String) });
  return problem;
}

/** A revoked key, one past its expiry, one within it. */
const stored = { revoked: generateApiKey(), expired: generateApiKey(), valid: generateApiKey() };

beforeAll(async () => {
  const admin = t.as(devKeys.admin);
  const revoked = (await (await admin.post('/api/keys', { name: 'revoked', role: 'officer' })).json()) as {
    id: string;
    key: string;
  };
  stored.revoked = revoked.key;
  expect((await admin.req(`/api/keys/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
  // The API refuses an expiry in the past, so the expired key goes in as an operator's SQL would put it.
  await t.database.db.insert(apiKeys).values({
    name: 'expired',
    role: 'officer',
    keyHash: hashApiKey(stored.expired),
    expiresAt: new Date(Date.now() - 1000).toISOString(),
  });
  const valid = await admin.post('/api/keys', {
    name: 'valid for an hour',
    role: 'officer',
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  stored.valid = ((await valid.json()) as { key: string }).key;
});

/** Authorization headers that must all be refused, each with what makes it wrong. */
const refused: [string, () => string | null][] = [
  ['no Authorization header', () => null],
  ['Bearer with nothing after it', () => 'Bearer'],
  ['Bearer and a space with nothing after it', () => 'Bearer '],
  ['a Basic credential', () => `Basic ${btoa('dev-officer-key:x')}`],
  ['the key with no scheme', () => devKeys.officer],
  ['two credentials in one header', () => `Bearer ${devKeys.officer}, Bearer ${devKeys.admin}`],
  ['two keys after one Bearer', () => `Bearer ${devKeys.officer} ${devKeys.admin}`],
  ['an unknown key', () => `Bearer ${generateApiKey()}`],
  ['a revoked key', () => `Bearer ${stored.revoked}`],
  ['a key past its expires_at', () => `Bearer ${stored.expired}`],
  ['a key one character short', () => `Bearer ${devKeys.officer.slice(0, -1)}`],
  ['a JWT when no identity provider is set up', () => 'Bearer aaa.bbb.ccc'],
];

describe('a credential that is missing, malformed, unknown, revoked or expired', () => {
  test.each(refused)(
    '%s: 401 problem with WWW-Authenticate: Bearer, on reads and writes',
    async (_, header) => {
      const authorization = header();
      const headers = { authorization: authorization ?? '' };
      await expectUnauthorized(await t.req('/api/loans', { headers }));
      await expectUnauthorized(await t.req('/api/stats', { headers }));
      const before = await countLoans();
      await expectUnauthorized(
        await t.req('/api/loans', {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: newLoan,
        }),
      );
      expect(await countLoans()).toBe(before);
    },
  );

  test('two Authorization headers are refused as two credentials', async () => {
    const headers = new Headers();
    headers.append('authorization', `Bearer ${devKeys.officer}`);
    headers.append('authorization', `Bearer ${devKeys.admin}`);
    await expectUnauthorized(await t.req('/api/loans', { headers }));
  });

  test('the credential is checked before the body: a bad key with malformed JSON is still a 401', async () => {
    const response = await t.req('/api/loans', {
      method: 'POST',
      headers: { authorization: `Bearer ${generateApiKey()}`, 'content-type': 'application/json' },
      body: '{"borrower_id":',
    });
    await expectUnauthorized(response);
  });

  test('a refused credential never appears in an answer or a log line', async () => {
    const secrets = [generateApiKey(), stored.revoked, stored.expired];
    for (const secret of secrets) {
      const response = await t.req('/api/loans', { headers: bearer(secret) });
      expect(await response.text()).not.toContain(secret);
    }
    const logged = JSON.stringify(t.logs);
    for (const secret of secrets) expect(logged).not.toContain(secret);
  });
});

describe('a credential that works', () => {
  test('a key within its expiry is accepted', async () => {
    expect((await t.req('/api/loans', { headers: bearer(stored.valid) })).status).toBe(200);
  });

  test('the Bearer scheme is matched whatever its case, as HTTP auth schemes are', async () => {
    for (const scheme of ['bearer', 'BEARER']) {
      const response = await t.req('/api/loans', {
        headers: { authorization: `${scheme} ${devKeys.officer}` },
      });
      expect(response.status).toBe(200);
    }
  });

  test('health, readiness and the docs need no credential', async () => {
    for (const path of ['/health', '/ready', '/docs', '/docs/json']) {
      expect((await t.req(path, { headers: { authorization: '' } })).status).toBe(200);
    }
  });

  test('HEAD on an /api route needs a credential too', async () => {
    const response = await t.req('/api/loans', { method: 'HEAD', headers: { authorization: '' } });
    expect(response.status).toBe(401);
  });

  test('a short Host never skips authentication', async () => {
    for (const host of ['x', 'ab', 'abc', 'x:1']) {
      const response = await t.app.handle(new Request(`http://${host}/api/loans`));
      expect([401, 404]).toContain(response.status);
    }
  });
});

describe('the access log line', () => {
  const accessLines = (requestId: string) =>
    t.logs.filter((line) => line.msg === 'request' && line.request_id === requestId);

  test('names the acting key by its id, never by the key', async () => {
    const officer = developmentKeys.find((key) => key.keyHash === hashApiKey(devKeys.officer));
    await t.req('/api/loans', { headers: { 'x-request-id': 'actor-by-key' } });
    const lines = accessLines('actor-by-key');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 200, actor: officer?.id });
    expect(JSON.stringify(lines)).not.toContain(devKeys.officer);
  });

  test('has a null actor when the credential failed, and does not carry it', async () => {
    const secret = generateApiKey();
    await t.req('/api/loans', { headers: { ...bearer(secret), 'x-request-id': 'actor-refused' } });
    const lines = accessLines('actor-refused');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 401, actor: null });
    expect(JSON.stringify(t.logs)).not.toContain(secret);
  });
});
