import { beforeAll, describe, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import { Elysia } from 'elysia';
import { summarizeError } from '../../src/db/errors';
import { errorHandler } from '../../src/http/error-handler';
import { createLogger } from '../../src/logger';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { createApiKeyRepository } from '../../src/modules/keys/repository';
import { decodeCursor } from '../../src/modules/loans/cursor';
import { type TestApp, useTestApp } from '../support/app';

const OFFICER = { authorization: 'Bearer dev-officer-key' };

/** A test app whose database is then broken by `fault`, a real change made with plain SQL. */
function useBrokenApp(fault: string): TestApp {
  const t = useTestApp();
  beforeAll(async () => {
    await createApiKeyRepository(t.database.db).upsert(developmentKeys);
    await t.database.db.execute(sql.raw(fault));
  });
  return t;
}

const errorLine = (t: TestApp, requestId: string) =>
  t.logs.find((line) => line.request_id === requestId && line.level === 'error');

describe('an unexpected failure', () => {
  const t = useBrokenApp('DROP TABLE loans CASCADE');

  test('is a 500 problem that names only the request id, and is logged with it', async () => {
    const response = await t.req('/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10', {
      headers: { ...OFFICER, 'x-request-id': 'fault-500' },
    });
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toStartWith('application/problem+json');
    // The whole body, so no SQL, driver message or stack can hide in it.
    expect(await response.json()).toEqual({
      type: 'https://branchloans.com/problems/internal-error',
      title: 'Internal server error',
      status: 500,
      detail: 'Something went wrong on our side; quote request id fault-500 when reporting it.',
    });
    expect(errorLine(t, 'fault-500')).toMatchObject({
      msg: 'unhandled error',
      method: 'GET',
      route: '/api/loans/:id',
      error: { chain: ['DatabaseError'], sqlstate: '42P01' },
    });
  });
});

// Each fault makes the INSERT of a new loan fail inside Postgres, with the borrower id among its parameters.
describe.each([
  [
    'a CHECK the API does not know',
    "ALTER TABLE loans ADD CONSTRAINT loans_forced_fault CHECK (borrower_id <> 'usr_secret_4711')",
    { sqlstate: '23514', constraint: 'loans_forced_fault', table: 'loans' },
  ],
  ['a column gone', 'ALTER TABLE loans DROP COLUMN term_months', { sqlstate: '42703' }],
])('a 500 from the database (%s)', (_name, fault, expected) => {
  const t = useBrokenApp(fault);

  test('is logged with the error class, SQLSTATE, route and request id, and no SQL, parameter or stack', async () => {
    const requestId = `fault-${expected.sqlstate}`;
    const response = await t.post(
      '/api/loans',
      { borrower_id: 'usr_secret_4711', amount: '4321.09', currency: 'KES', term_months: 7 },
      { ...OFFICER, 'x-request-id': requestId },
    );
    expect(response.status).toBe(500);

    const line = errorLine(t, requestId);
    expect(line).toMatchObject({
      msg: 'unhandled error',
      method: 'POST',
      route: '/api/loans',
      // Inside a transaction the statement runs on the driver itself; elsewhere Drizzle wraps the driver's error.
      error: { chain: expect.arrayContaining(['DatabaseError']), ...expected },
    });
    const everything = JSON.stringify(t.logs.filter((entry) => entry.request_id === requestId));
    for (const secret of [
      'usr_secret_4711',
      '4321.09',
      'insert into',
      'params',
      '$1',
      'node_modules',
      'at ',
    ]) {
      expect({ secret, logged: everything.toLowerCase().includes(secret.toLowerCase()) }).toEqual({
        secret,
        logged: false,
      });
    }
    expect(JSON.stringify(line).length).toBeLessThan(600);
  });
});

describe('summarizeError', () => {
  test("names an error thrown in the service's own code by its class and its top frame there, not its message", () => {
    let thrown: unknown;
    try {
      decodeCursor('usr_secret_4711');
    } catch (error) {
      thrown = error;
    }
    expect(summarizeError(thrown)).toEqual({
      chain: ['Problem'],
      at: expect.stringMatching(/^src\/modules\/loans\/cursor\.ts:\d+:\d+$/),
    });
    expect(JSON.stringify(summarizeError(thrown))).not.toContain('cursor is not');
  });
});

describe('a response that breaks its own schema', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ appEnv: 'test', logLevel: 'info', logFormat: 'json' }, {
    write: (line: string) => lines.push(JSON.parse(line)),
  } as never);
  const app = new Elysia()
    .use(errorHandler(logger))
    .get('/broken', () => ({ id: 1, secret_column: 'internal' }) as never, {
      response: { 200: Type.Object({ id: Type.String() }) },
    });

  test('is our fault: a logged 500 that names no field of the row, not a 400', async () => {
    const response = await app.handle(new Request('http://localhost/broken'));
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('secret_column');
    expect(lines.at(-1)).toMatchObject({ level: 'error', route: '/broken' });
  });
});
