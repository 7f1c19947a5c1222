import { describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { useTestApp } from '../support/app';

describe('an unexpected failure', () => {
  const t = useTestApp();

  test('is a 500 problem that names only the request id, and is logged with it', async () => {
    // A real fault, not a mock: the table the query needs is gone.
    await t.database.db.execute(sql`DROP TABLE loans`);
    const response = await t.req('/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10', {
      headers: { 'x-request-id': 'fault-500' },
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

    const logged = t.logs.find((line) => line.request_id === 'fault-500' && line.level === 'error');
    expect(logged).toMatchObject({
      msg: 'unhandled error',
      path: '/api/loans/6f1c1f9e-0b7e-4d8c-9a57-2f4a1c3b9e10',
    });
    expect(JSON.stringify(logged)).toContain('relation');
  });
});
