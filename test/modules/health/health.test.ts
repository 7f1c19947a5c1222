import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createTestApp, type TestApp } from '../../support/app';

describe('liveness and readiness', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close().catch(() => {}));

  test('/health and /ready answer 200 while the database is up', async () => {
    const health = await t.req('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await t.req('/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  test('/ready is 503 while the loans table does not answer, though SELECT 1 would', async () => {
    await t.database.db.execute(sql`ALTER TABLE loans RENAME TO loans_elsewhere`);
    try {
      const ready = await t.req('/ready');
      expect(ready.status).toBe(503);
      expect(ready.headers.get('retry-after')).toBe('5');
    } finally {
      await t.database.db.execute(sql`ALTER TABLE loans_elsewhere RENAME TO loans`);
    }
    expect((await t.req('/ready')).status).toBe(200);
  });

  test('with the database gone, /ready is a 503 problem and /health stays 200', async () => {
    await t.database.close();
    const ready = await t.req('/ready');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toStartWith('application/problem+json');
    expect(ready.headers.get('retry-after')).toBe('5');
    expect((await t.req('/health')).status).toBe(200);
  });
});
