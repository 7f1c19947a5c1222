import { beforeAll, describe, expect, test } from 'bun:test';
import { Value } from '@sinclair/typebox/value';
import { sql } from 'drizzle-orm';
import { openDatabase, openSingleConnection } from '../../../src/db/client';
import { runMigrations } from '../../../src/db/migrate';
import { IsoDate, IsoTime } from '../../../src/http/schemas';
import { developmentKeys } from '../../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../../src/modules/keys/repository';
import type { Loan } from '../../../src/modules/loans/model';
import { useTestApp } from '../../support/app';
import { suiteDatabaseUrl } from '../../support/database';

/**
 * Values that pass the API's checks must never be refused by Postgres (that is a 500): each case here once
 * reached the database, or could have.
 */
const t = useTestApp();
const OFFICER = { authorization: 'Bearer dev-officer-key' };
const ADMIN = { authorization: 'Bearer dev-admin-key' };
beforeAll(() => createApiKeyRepository(t.database.db).upsert(developmentKeys));

const valid = { borrower_id: 'usr_hardening', amount: '100.00', currency: 'KES' };
const get = (path: string) => t.req(path, { headers: OFFICER });
const create = (body: Record<string, unknown> | string) => t.post('/api/loans', body, OFFICER);

async function problemOf(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  return (await response.json()) as { detail: string; errors?: { path: string; message: string }[] };
}

describe('ids in the path', () => {
  test.each([
    ['a urn:uuid: prefix', 'urn:uuid:00000000-0000-0000-0000-000000000001'],
    ['braces', '{00000000-0000-0000-0000-000000000001}'],
    ['no hyphens', '00000000000000000000000000000001'],
    ['a trailing newline', '00000000-0000-0000-0000-000000000001\n'],
  ])('answers an id with %s with 400 naming /id', async (_name, id) => {
    const problem = await problemOf(await get(`/api/loans/${encodeURIComponent(id)}`), 400);
    expect(problem.errors?.[0]?.path).toBe('/id');
  });

  test('takes a UUID in capitals (any case, as the contract says)', async () => {
    await problemOf(await get('/api/loans/6F1C1F9E-0B7E-4D8C-9A57-2F4A1C3B9E10'), 404);
  });
});

describe('cursors', () => {
  const cursor = (text: string) => Buffer.from(text).toString('base64url');
  const id = '6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10';

  test.each([
    ['month 13', '2026-13-01T00:00:00.000Z'],
    ['30 February', '2026-02-30T00:00:00.000Z'],
    ['29 February of a common year', '2026-02-29T00:00:00.000Z'],
    ['hour 25', '2026-01-01T25:00:00.000Z'],
    ['hour 24', '2026-01-01T24:00:00.000Z'],
    ['minute 60', '2026-01-01T00:60:00.000Z'],
    ['a leap second', '2026-12-31T23:59:60.000Z'],
    ['year 0000', '0000-01-01T00:00:00.000Z'],
  ])('answers a cursor with %s with 400 naming /cursor', async (_name, time) => {
    const problem = await problemOf(await get(`/api/loans?cursor=${cursor(`${time}|${id}`)}`), 400);
    expect(problem.errors?.[0]?.path).toBe('/cursor');
  });

  test('answers a cursor that is not the canonical encoding of its text with 400', async () => {
    const canonical = cursor(`2026-01-01T00:00:00.000Z|${id}`);
    expect((await get(`/api/loans?cursor=${canonical}`)).status).toBe(200);
    await problemOf(await get(`/api/loans?cursor=${canonical}!!`), 400);
  });

  test('takes a cursor at the edges of the calendar', async () => {
    for (const time of ['2028-02-29T23:59:59.999Z', '0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      expect((await get(`/api/loans?cursor=${cursor(`${time}|${id}`)}`)).status).toBe(200);
    }
  });
});

describe('query parameters', () => {
  test('a parameter the list does not know (a cache-buster) is ignored', async () => {
    const response = await get('/api/loans?_=1733000000000&utm_source=mail&limit=5');
    expect(response.status).toBe(200);
    expect(await response.json()).toBeArray();
  });

  test.each([
    ['limit past 32 bits', 'limit=4294967296'],
    ['a limit with a NUL', 'limit=5%00'],
    ['a borrower_id filter with a NUL', 'borrower_id=usr%00x'],
    ['a borrower_id filter with a bidirectional override', 'borrower_id=usr%E2%80%AEx'],
  ])('answers %s with 400', async (_name, query) => {
    await problemOf(await get(`/api/loans?${query}`), 400);
  });
});

describe('term_months', () => {
  test.each([
    ['6.0', 6],
    ['360.00', 360],
    ['1.0', 1],
  ])('takes the integral number %s as %p', async (raw, expected) => {
    const response = await create(
      `{"borrower_id":"b","amount":"10.00","currency":"KES","term_months":${raw}}`,
    );
    expect(response.status).toBe(201);
    expect(((await response.json()) as Loan).term_months).toBe(expected);
  });

  test.each([
    ['6.5', '6.5'],
    ['the string "6"', '"6"'],
    ['the string "6.0"', '"6.0"'],
    ['361.0', '361.0'],
    ['6e0', '6e0'],
  ])('refuses %s with 422 on /term_months', async (_name, raw) => {
    const response = await create(
      `{"borrower_id":"b","amount":"10.00","currency":"KES","term_months":${raw}}`,
    );
    const problem = await problemOf(response, 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(['/term_months']);
  });
});

describe('borrower_id', () => {
  const emoji = '\u{1F600}';

  test('counts characters, not UTF-16 units: 128 emoji are accepted and stored as sent', async () => {
    const response = await create({ ...valid, borrower_id: emoji.repeat(128) });
    expect(response.status).toBe(201);
    const loan = (await response.json()) as Loan;
    expect(loan.borrower_id).toBe(emoji.repeat(128));
    expect(((await (await get(`/api/loans/${loan.id}`)).json()) as Loan).borrower_id).toBe(emoji.repeat(128));
  });

  test.each([
    ['129 emoji', emoji.repeat(129)],
    ['129 letters', 'x'.repeat(129)],
    ['a right-to-left override (U+202E)', 'usr_\u202Eevil'],
    ['a zero-width space (U+200B)', 'usr_\u200Bkenya'],
    ['a zero-width joiner (U+200D)', 'usr_\u200Dkenya'],
    ['a byte order mark (U+FEFF)', '\uFEFFusr_kenya'],
    ['a line separator (U+2028)', 'usr_\u2028kenya'],
    ['a paragraph separator (U+2029)', 'usr_\u2029kenya'],
    ['a C1 control (U+0085)', 'usr_\u0085kenya'],
    ['a bell (U+0007)', 'usr_\u0007kenya'],
    ['an empty string', ''],
    // U+0958 has no composed form: NFC makes each one two code points, 256 in all.
    ['128 characters that NFC makes 256', '\u0958'.repeat(128)],
  ])('refuses %s with 422 on /borrower_id', async (_name, borrowerId) => {
    const problem = await problemOf(await create({ ...valid, borrower_id: borrowerId }), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(['/borrower_id']);
  });

  test('stores a decomposed é composed (NFC), so the two spellings are one borrower', async () => {
    const response = await create({ ...valid, borrower_id: 'jose\u0301' });
    expect(response.status).toBe(201);
    const loan = (await response.json()) as Loan;
    expect(loan.borrower_id).toBe('jos\u00E9');
    const listed = await get(`/api/loans?borrower_id=${encodeURIComponent('jose\u0301')}`);
    expect(((await listed.json()) as Loan[]).map((l) => l.id)).toEqual([loan.id]);
  });

  test('judges the length after NFC: 64 characters that NFC makes 128 are accepted', async () => {
    const response = await create({ ...valid, borrower_id: '\u0958'.repeat(64) });
    expect(response.status).toBe(201);
    expect(((await response.json()) as Loan).borrower_id).toBe('\u0915\u093C'.repeat(64));
  });

  test('a NUL is refused before validation, as text no database column can hold (400)', async () => {
    await problemOf(await create({ ...valid, borrower_id: 'usr\u0000x' }), 400);
  });
});

/** Code points the borrower_id CHECK of the migrated loans table refuses, evaluated by Postgres itself. */
async function refusedByCheck(query: (text: string) => Promise<{ cp: number }[]>): Promise<number[]> {
  const [definition] = (await query(
    `SELECT pg_get_constraintdef(oid) AS cp FROM pg_constraint WHERE conname = 'loans_borrower_id_text'`,
  )) as unknown as { cp: string }[];
  const expression = definition?.cp.replace(/^CHECK /, '');
  expect(expression).toBeString();
  const rows = await query(
    `SELECT cp FROM generate_series(1, 1114111) AS cp, LATERAL (SELECT 'usr_' || chr(cp) AS borrower_id) AS probe
     WHERE (cp < 55296 OR cp > 57343) AND NOT ${expression}`,
  );
  return rows.map((row) => Number(row.cp));
}

describe('the borrower_id CHECK agrees with the API', () => {
  const refusedByApi = async (codePoints: number[]) => {
    for (const cp of codePoints) {
      const response = await create({ ...valid, borrower_id: `usr_${String.fromCodePoint(cp)}` });
      expect({ cp: cp.toString(16), status: response.status }).toEqual({ cp: cp.toString(16), status: 422 });
    }
  };

  test("under the suite database's locale, the API refuses every character the CHECK refuses", async () => {
    const codePoints = await refusedByCheck(async (text) => {
      const result = await t.database.db.execute(sql.raw(text));
      return (Array.isArray(result) ? result : (result as { rows: { cp: number }[] }).rows) as {
        cp: number;
      }[];
    });
    expect(codePoints.length).toBeGreaterThan(0);
    await refusedByApi(codePoints);
    // Over a million regular-expression matches: seconds on the embedded database.
  }, 60_000);

  // The compose image runs en_US.utf8; a test database may be C. Only a real Postgres has a choice of locale.
  for (const locale of ['C', 'en_US.utf8']) {
    test.skipIf(!suiteDatabaseUrl)(
      `with LC_CTYPE ${locale}, the API refuses what the CHECK refuses`,
      async () => {
        const admin = openSingleConnection(suiteDatabaseUrl as string);
        const name = `loans_locale_${process.pid}_${locale.replace(/\W/g, '_').toLowerCase()}`;
        try {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`);
          await admin.unsafe(
            `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE '${locale}'`,
          );
        } catch (error) {
          await admin.end();
          if (!/invalid locale name/.test((error as Error).message)) throw error;
          console.warn(`[skip] the Postgres at DATABASE_URL has no ${locale} locale`);
          return;
        }
        const url = new URL(suiteDatabaseUrl as string);
        url.pathname = `/${name}`;
        const database = openDatabase({ appEnv: 'test', databaseUrl: url.toString(), dbPoolMax: 1 });
        const connection = openSingleConnection(url.toString());
        try {
          await runMigrations(database);
          expect((await connection`SHOW lc_ctype`)[0]?.lc_ctype).toBe(locale);
          await refusedByApi(await refusedByCheck((text) => connection.unsafe(text)));
        } finally {
          await connection.end();
          await database.close();
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await admin.end();
        }
      },
      60_000,
    );
  }
});

describe('dates and times in a body', () => {
  const storable = async (cast: 'date' | 'timestamptz', value: string) => {
    try {
      await t.database.db.execute(sql`SELECT ${value}::text::${sql.raw(cast)}`);
      return true;
    } catch {
      return false;
    }
  };

  test.each([
    ['date', '2026-02-30'],
    ['date', '2026-02-29'],
    ['date', '0000-01-01'],
    ['date', '01/02/2026'],
    ['date', '2026-1-2'],
    ['date', '2026-01-01T00:00:00Z'],
    ['date-time', '2026-02-30T00:00:00Z'],
    ['date-time', '0000-01-01T00:00:00Z'],
    ['date-time', '2026-01-01T00:00:00+23:00'],
    ['date-time', '2026-01-01T24:00:00Z'],
    ['date-time', 'Thu Jan 01 2026 00:00:00 GMT+0000 (UTC)'],
    ['date-time', '9999-12-31T23:59:59-01:00'],
  ])('the %s format refuses %p', (format, value) => {
    expect(Value.Check(format === 'date' ? IsoDate : IsoTime, value)).toBeFalse();
  });

  test('every date and time the formats accept, Postgres stores', async () => {
    const dates = ['2028-02-29', '0001-01-01', '9999-12-31', '2026-12-01'];
    const times = [
      '2026-12-01T07:09:37.969Z',
      '2026-12-01T07:09:37Z',
      '2026-12-01T07:09:37.123456789+05:30',
      '2026-01-01T00:00:00+15:59',
      '2026-01-01T00:00:00-15:59',
      '0001-01-01T00:00:00-01:00',
      '9999-12-31T23:59:59Z',
    ];
    for (const value of dates) {
      expect({ value, valid: Value.Check(IsoDate, value), stored: await storable('date', value) }).toEqual({
        value,
        valid: true,
        stored: true,
      });
    }
    for (const value of times) {
      expect({
        value,
        valid: Value.Check(IsoTime, value),
        stored: await storable('timestamptz', value),
      }).toEqual({ value, valid: true, stored: true });
    }
  });

  test('a key expiring on 30 February is a 422, not a 500', async () => {
    const response = await t.post(
      '/api/keys',
      { name: 'hardening', role: 'officer', expires_at: '2027-02-30T00:00:00Z' },
      ADMIN,
    );
    const problem = await problemOf(response, 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(['/expires_at']);
  });
});
