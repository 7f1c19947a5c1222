import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/config';
import type { Loan } from '../../src/modules/loans/model';
import { devKeys, type TestApp, useTestApp } from '../support/app';

const lendable = {
  borrower_id: 'usr_kenya_001',
  amount: '1200.00',
  currency: 'KES',
  term_months: 6,
  interest_rate_apr: '12.00',
};

/** The steps of a loan's approval and disbursal, each as a credential, against one test app. */
function steps(t: TestApp) {
  const send = async (key: string, path: string, init?: RequestInit) => {
    const response = await t.as(key).req(path, init);
    return { status: response.status, body: (await response.json()) as Loan & { detail?: string } };
  };
  const command = (key: string, id: string, name: string) =>
    send(key, `/api/loans/${id}/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
  return {
    async create(key: string, body: Record<string, unknown> = lendable): Promise<Loan> {
      const response = await t.as(key).post('/api/loans', body);
      expect(response.status).toBe(201);
      return (await response.json()) as Loan;
    },
    approve: (key: string, id: string) => command(key, id, 'approve'),
    disburse: (key: string, id: string) => command(key, id, 'disburse'),
    amend: (key: string, id: string, amount: string) =>
      send(key, `/api/loans/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount }),
      }),
    /** The loan and how many events it has: a refused command leaves both as they were. */
    async state(id: string) {
      const loan = (await send(devKeys.officer, `/api/loans/${id}`)).body;
      const events = (await (await t.req(`/api/loans/${id}/events`)).json()) as unknown[];
      return { status: loan.status, updated_at: loan.updated_at, events: events.length };
    },
  };
}

describe('with four-eyes on', () => {
  const t = useTestApp({ fourEyes: true });
  const { officer, officer2, admin, borrower } = devKeys;

  test('the credential that created a loan cannot approve it (403 saying why); another officer can', async () => {
    const s = steps(t);
    const loan = await s.create(officer);
    const before = await s.state(loan.id);
    const refused = await s.approve(officer, loan.id);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toBe('Four-eyes: the credential that created this loan cannot approve it.');
    expect(await s.state(loan.id)).toEqual(before);
    expect((await s.approve(officer2, loan.id)).status).toBe(200);
  });

  test('the credential that approved a loan cannot disburse it; another can, the creator included', async () => {
    const s = steps(t);
    const loan = await s.create(officer);
    expect((await s.approve(officer2, loan.id)).status).toBe(200);
    const before = await s.state(loan.id);
    const refused = await s.disburse(officer2, loan.id);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toBe('Four-eyes: the credential that approved this loan cannot disburse it.');
    expect(await s.state(loan.id)).toEqual(before);
    const disbursed = await s.disburse(officer, loan.id);
    expect(disbursed.status).toBe(200);
    expect(disbursed.body.status).toBe('disbursed');
  });

  test('the credential that last amended a loan cannot approve it; once someone else amends, it can', async () => {
    const s = steps(t);
    const loan = await s.create(borrower);
    expect((await s.amend(officer2, loan.id, '1300.00')).status).toBe(200);
    const refused = await s.approve(officer2, loan.id);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toBe(
      'Four-eyes: the credential that last amended this loan cannot approve it.',
    );
    expect((await s.amend(admin, loan.id, '1400.00')).status).toBe(200);
    expect((await s.approve(admin, loan.id)).status).toBe(403);
    expect((await s.approve(officer2, loan.id)).status).toBe(200);
  });

  test("a borrower's own application is approved and disbursed by two officers", async () => {
    const s = steps(t);
    const loan = await s.create(borrower);
    expect((await s.approve(officer, loan.id)).status).toBe(200);
    expect((await s.disburse(officer2, loan.id)).status).toBe(200);
  });

  test("the loan's state is checked first: the creator approving an approved loan gets 409, not 403", async () => {
    const s = steps(t);
    const loan = await s.create(officer);
    expect((await s.approve(officer2, loan.id)).status).toBe(200);
    expect((await s.approve(officer, loan.id)).status).toBe(409);
    const untermed = await s.create(officer, { ...lendable, term_months: undefined });
    expect((await s.approve(officer, untermed.id)).status).toBe(409);
  });
});

describe('with four-eyes off', () => {
  const t = useTestApp({ fourEyes: false });

  test('one credential creates, amends, approves and disburses', async () => {
    const s = steps(t);
    const loan = await s.create(devKeys.officer);
    expect((await s.amend(devKeys.officer, loan.id, '1300.00')).status).toBe(200);
    expect((await s.approve(devKeys.officer, loan.id)).status).toBe(200);
    const disbursed = await s.disburse(devKeys.officer, loan.id);
    expect(disbursed.status).toBe(200);
    expect(disbursed.body.status).toBe('disbursed');
  });
});

describe('FOUR_EYES', () => {
  const env = (appEnv: string, extra: Record<string, string> = {}) =>
    loadConfig({ APP_ENV: appEnv, DATABASE_URL: 'postgres://localhost/loans', ...extra });

  test('is on by default in staging and production, off in development and test', () => {
    expect(env('staging').fourEyes).toBe(true);
    expect(env('production').fourEyes).toBe(true);
    expect(env('development').fourEyes).toBe(false);
    expect(env('test').fourEyes).toBe(false);
  });

  test('on and off override the default either way', () => {
    expect(env('production', { FOUR_EYES: 'off' }).fourEyes).toBe(false);
    expect(env('development', { FOUR_EYES: 'on' }).fourEyes).toBe(true);
  });

  test('anything else is a config error naming the variable and what it accepts', () => {
    for (const value of ['maybe', 'true', 'ON']) {
      let error: unknown;
      try {
        env('production', { FOUR_EYES: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([`FOUR_EYES must be one of on, off (got "${value}")`]);
    }
  });
});
