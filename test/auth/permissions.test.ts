import { beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { Elysia } from 'elysia';
import { hashApiKey } from '../../src/auth/api-key';
import { createAuthenticator } from '../../src/auth/authenticator';
import { type Permission, permissions, rolePermissions } from '../../src/auth/permissions';
import { authentication, createGate, guards } from '../../src/auth/plugin';
import { type Role, roles } from '../../src/db/schema';
import { errorHandler } from '../../src/http/error-handler';
import { createLogger } from '../../src/logger';
import type { Loan } from '../../src/modules/loans/model';
import { bearer, devKeys, useTestApp } from '../support/app';

const t = useTestApp();

const credentialOf: Record<Role, string> = {
  borrower: devKeys.borrower,
  officer: devKeys.officer,
  admin: devKeys.admin,
};
const OWN_BORROWER = 'usr_kenya_001';
const OTHER_BORROWER = 'usr_india_002';

const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;

/** Everything a write could change: a request refused with 403 must leave it exactly as it was. */
async function databaseState() {
  const [row] = rowsOf<Record<string, number>>(
    await t.database.db.execute(sql`SELECT
      (SELECT count(*)::int FROM loans) AS loans,
      (SELECT coalesce(sum(version), 0)::int FROM loans) AS versions,
      (SELECT count(*)::int FROM loan_events) AS events,
      (SELECT count(*)::int FROM repayments) AS repayments,
      (SELECT count(*)::int FROM api_keys) AS keys,
      (SELECT count(*)::int FROM api_keys WHERE revoked_at IS NOT NULL) AS revoked`),
  );
  return row;
}

async function createLoan(borrowerId: string, extra: Record<string, unknown> = {}): Promise<Loan> {
  const response = await t.as(devKeys.officer).post('/api/loans', {
    borrower_id: borrowerId,
    amount: '1200.00',
    currency: 'KES',
    term_months: 6,
    interest_rate_apr: '12.00',
    ...extra,
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Loan;
}

/** A loan of `borrowerId` that was approved, disbursed and part repaid, with the repayment's id. */
async function disbursedLoanWithRepayment(borrowerId: string) {
  const loan = await createLoan(borrowerId);
  expect((await t.as(devKeys.officer).post(`/api/loans/${loan.id}/approve`, {})).status).toBe(200);
  expect((await t.as(devKeys.officer2).post(`/api/loans/${loan.id}/disburse`, {})).status).toBe(200);
  const repaid = await t.as(devKeys.officer).post(`/api/loans/${loan.id}/repayments`, { amount: '10.00' });
  expect(repaid.status).toBe(201);
  const { id: repaymentId } = (await repaid.json()) as { id: string };
  return { loanId: loan.id, repaymentId };
}

interface ApiRoute {
  method: string;
  path: string;
  permission: Permission | undefined;
}

/** Every route the app serves under /api, with the permission its guard declares (undefined: none). */
const apiRoutes = (): ApiRoute[] =>
  t.app.routes
    .filter((route) => route.path.startsWith('/api/'))
    .map((route) => ({
      method: route.method,
      path: route.path,
      permission: (route.hooks.detail as Record<string, unknown> | undefined)?.['x-permission'] as
        | Permission
        | undefined,
    }));

const SAFE_METHODS = new Set(['GET', 'HEAD']);

describe('the permission table', () => {
  test('every /api route declares a permission the table knows', () => {
    const routes = apiRoutes();
    expect(routes.length).toBeGreaterThan(10);
    const undeclared = routes.filter((route) => !permissions.includes(route.permission as Permission));
    expect(undeclared.map((route) => `${route.method} ${route.path}`)).toEqual([]);
  });

  test('outside /api only the routes the contract leaves open exist, so none escapes the credential check', () => {
    const open = t.app.routes
      .filter((route) => !route.path.startsWith('/api/'))
      .map((route) => `${route.method} ${route.path}`)
      .sort();
    // /metrics has its own token (its tests check it); the docs' assets are the page's script.
    expect(open).toEqual(
      [
        'GET /docs',
        'GET /docs/assets/scalar.js',
        'GET /docs/json',
        'GET /health',
        'GET /metrics',
        'GET /ready',
      ].sort(),
    );
  });

  test('every permission guards at least one route, and every role has a row', () => {
    const used = new Set(apiRoutes().map((route) => route.permission));
    expect(permissions.filter((permission) => !used.has(permission))).toEqual([]);
    expect(Object.keys(rolePermissions).sort()).toEqual([...roles].sort());
  });

  test('matches the contract: a borrower reads, creates and amends; an officer lends; only an admin manages keys', () => {
    expect([...rolePermissions.borrower].sort()).toEqual(['loans:amend', 'loans:create', 'loans:read']);
    expect([...rolePermissions.officer].sort()).toEqual(
      permissions.filter((permission) => permission !== 'keys:manage').sort(),
    );
    expect([...rolePermissions.admin].sort()).toEqual([...permissions].sort());
  });
});

describe('every /api route × every role', () => {
  let shared: { loanId: string; repaymentId: string };
  beforeAll(async () => {
    shared = await disbursedLoanWithRepayment(OWN_BORROWER);
  });

  /**
   * The request a role sends to a route, once what it needs exists: path parameters name a loan of the borrower behind the borrower key
   * (a fresh pending one for writes, so each write starts from the same state), and a key made for the case.
   */
  async function requestFor(route: ApiRoute, role: Role): Promise<() => Promise<Response>> {
    const safe = SAFE_METHODS.has(route.method);
    const loanId = safe ? shared.loanId : (await createLoan(OWN_BORROWER)).id;
    let keyId = '';
    if (route.path.includes('/api/keys/:id')) {
      const made = await t.as(devKeys.admin).post('/api/keys', { name: 'throwaway', role: 'officer' });
      expect(made.status).toBe(201);
      keyId = ((await made.json()) as { id: string }).id;
    }
    const path = route.path
      .replace(':repaymentId', shared.repaymentId)
      .replace(':id', route.path.startsWith('/api/keys') ? keyId : loanId);
    const body =
      route.method === 'POST' && route.path === '/api/loans'
        ? { borrower_id: OWN_BORROWER, amount: '100.00', currency: 'KES' }
        : route.method === 'POST' && route.path === '/api/keys'
          ? { name: 'made-in-a-test', role: 'officer' }
          : route.method === 'PATCH'
            ? { amount: '1300.00' }
            : route.method === 'POST'
              ? {}
              : undefined;
    return () =>
      t.as(credentialOf[role]).req(path, {
        method: route.method,
        ...(body !== undefined && {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      });
  }

  test.each(roles)('the %s role gets what the table grants it and a 403 for the rest', async (role) => {
    const expected: string[] = [];
    const actual: string[] = [];
    for (const route of apiRoutes()) {
      const name = `${route.method} ${route.path}`;
      const granted = rolePermissions[role].has(route.permission as Permission);
      const send = await requestFor(route, role);
      const before = await databaseState();
      const response = await send();
      const { status } = response;
      if (!granted) {
        expected.push(`${name}: 403 (needs ${route.permission}), nothing changed`);
        const problem = (await response.json()) as { detail?: string };
        const unchanged = JSON.stringify(await databaseState()) === JSON.stringify(before);
        actual.push(
          status === 403 && response.headers.get('content-type')?.startsWith('application/problem+json')
            ? `${name}: 403 (needs ${problem.detail?.includes(String(route.permission)) ? route.permission : problem.detail}), ${unchanged ? 'nothing changed' : 'the database changed'}`
            : `${name}: ${status}`,
        );
      } else if (SAFE_METHODS.has(route.method)) {
        expected.push(`${name}: 200`);
        actual.push(`${name}: ${status}`);
      } else {
        // The role may: the answer is the route's own (2xx, or a 4xx about the loan's state or the body).
        expected.push(`${name}: allowed`);
        actual.push(
          status >= 500 || [401, 403, 404].includes(status) ? `${name}: ${status}` : `${name}: allowed`,
        );
      }
    }
    expect(actual).toEqual(expected);
  });
});

describe('deny by default', () => {
  const CALLER = 'a-valid-admin-key';
  const reached: string[] = [];
  const authenticator = createAuthenticator({
    findKeyByHash: async (hash) =>
      hash === hashApiKey(CALLER)
        ? { id: 'key-1', role: 'admin', borrowerId: null, expiresAt: null, revokedAt: null }
        : undefined,
  });
  const app = new Elysia()
    .use(errorHandler(createLogger({ appEnv: 'test', logLevel: 'silent', logFormat: 'json' })))
    .use(authentication(createGate(authenticator)))
    .use(guards)
    .get('/api/unguarded', () => {
      reached.push('GET /api/unguarded');
      return 'reached';
    })
    .post('/api/unguarded', () => {
      reached.push('POST /api/unguarded');
      return 'reached';
    })
    .get(
      '/api/guarded',
      () => {
        reached.push('GET /api/guarded');
        return 'reached';
      },
      { permission: 'stats:read' },
    );
  const send = (method: string, path: string, credential?: string) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(credential && bearer(credential)),
          ...(method === 'POST' && { 'content-type': 'application/json' }),
        },
        ...(method === 'POST' && { body: '{}' }),
      }),
    );

  test('a route under /api that declares no permission is refused to every credential, even an admin', async () => {
    for (const method of ['GET', 'POST']) {
      const response = await send(method, '/api/unguarded', CALLER);
      expect(response.status).toBe(403);
      expect(((await response.json()) as { detail: string }).detail).toContain('declares no permission');
    }
    expect((await send('GET', '/api/unguarded')).status).toBe(401);
    expect(reached).toEqual([]);
  });

  test('the same app serves a guarded route to a caller the table allows', async () => {
    const response = await send('GET', '/api/guarded', CALLER);
    expect(response.status).toBe(200);
    expect(reached).toEqual(['GET /api/guarded']);
  });
});

describe('borrower scoping', () => {
  const borrower = () => t.as(devKeys.borrower);
  let own: Loan[];
  let others: Loan[];
  let othersDisbursed: { loanId: string; repaymentId: string };
  beforeAll(async () => {
    own = [];
    others = [];
    for (let i = 0; i < 3; i++) {
      own.push(await createLoan(OWN_BORROWER));
      others.push(await createLoan(OTHER_BORROWER));
    }
    othersDisbursed = await disbursedLoanWithRepayment(OTHER_BORROWER);
  });

  const ownIds = async () => {
    const response = await t.as(devKeys.officer).req(`/api/loans?borrower_id=${OWN_BORROWER}&limit=200`);
    return ((await response.json()) as Loan[]).map((loan) => loan.id);
  };

  test("a borrower's list holds their own loans only, all of them, newest first", async () => {
    const response = await borrower().req('/api/loans?limit=200');
    expect(response.status).toBe(200);
    const loans = (await response.json()) as Loan[];
    expect(loans.length).toBeGreaterThanOrEqual(own.length);
    expect(loans.every((loan) => loan.borrower_id === OWN_BORROWER)).toBe(true);
    expect(loans.map((loan) => loan.id)).toEqual(await ownIds());
  });

  test("pages one loan at a time through the borrower's own loans, following Link, with no gap and no repeat", async () => {
    const seen: string[] = [];
    let next: string | null = '/api/loans?limit=1';
    while (next) {
      const response = await borrower().req(next);
      expect(response.status).toBe(200);
      const page = (await response.json()) as Loan[];
      expect(page.length).toBeLessThanOrEqual(1);
      seen.push(...page.map((loan) => loan.id));
      next = response.headers.get('link')?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
      expect(seen.length).toBeLessThan(100);
    }
    expect(seen).toEqual(await ownIds());
  });

  test("?borrower_id= naming another borrower answers 200 with [], naming oneself lists one's own", async () => {
    const response = await borrower().req(`/api/loans?borrower_id=${OTHER_BORROWER}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);
    const mine = await borrower().req(`/api/loans?borrower_id=${OWN_BORROWER}&limit=200`);
    expect(((await mine.json()) as Loan[]).map((loan) => loan.id)).toEqual(await ownIds());
  });

  test("an officer lists every borrower's loans", async () => {
    const response = await t.as(devKeys.officer).req('/api/loans?limit=200');
    const ids = ((await response.json()) as Loan[]).map((loan) => loan.id);
    for (const loan of [...own, ...others]) expect(ids).toContain(loan.id);
  });

  const MISSING = '00000000-0000-4000-8000-0000000f0000';
  const requestsOnLoan = (id: string, repaymentId: string): [string, RequestInit][] => [
    [`/api/loans/${id}`, {}],
    [`/api/loans/${id}/events`, {}],
    [`/api/loans/${id}/schedule`, {}],
    [`/api/loans/${id}/repayments`, {}],
    [`/api/loans/${id}/repayments/${repaymentId}`, {}],
    [
      `/api/loans/${id}`,
      { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"amount":"1.00"}' },
    ],
    ...['approve', 'reject', 'undo-approval', 'disburse', 'undo-disbursal', 'write-off'].map(
      (command): [string, RequestInit] => [
        `/api/loans/${id}/${command}`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"x"}' },
      ],
    ),
    [
      `/api/loans/${id}/repayments`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":"1.00"}' },
    ],
  ];

  /** A response as a client sees it, the loan id (which the detail names) replaced. */
  const seenAs = async (response: Response, id: string) => ({
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.text()).replaceAll(id, '<id>'),
  });

  test("another borrower's loan, its events, schedule, repayments and every command answer the 404 of a missing loan", async () => {
    const { loanId, repaymentId } = othersDisbursed;
    const before = await databaseState();
    const missing = requestsOnLoan(MISSING, repaymentId);
    const theirs = requestsOnLoan(loanId, repaymentId);
    for (const [index, [path, init]] of theirs.entries()) {
      const [missingPath, missingInit] = missing[index] as [string, RequestInit];
      const asMissing = await seenAs(await borrower().req(missingPath, missingInit), MISSING);
      const asTheirs = await seenAs(await borrower().req(path, init), loanId);
      expect({ path, ...asTheirs }).toEqual({ path, ...asMissing });
      expect(asTheirs.status).toBe(404);
    }
    expect(await databaseState()).toEqual(before);
    // The owner and an officer do see it.
    expect((await t.as(devKeys.borrower2).req(`/api/loans/${loanId}`)).status).toBe(200);
    expect((await t.as(devKeys.officer).req(`/api/loans/${loanId}`)).status).toBe(200);
  });

  test("a borrower may not apply for a loan in another borrower's name (403, nothing created)", async () => {
    const before = await databaseState();
    const response = await borrower().post('/api/loans', {
      borrower_id: OTHER_BORROWER,
      amount: '100.00',
      currency: 'KES',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toStartWith('application/problem+json');
    expect(((await response.json()) as { detail: string }).detail).toContain('own borrower_id');
    expect(await databaseState()).toEqual(before);
    const ownLoan = await borrower().post('/api/loans', {
      borrower_id: OWN_BORROWER,
      amount: '100.00',
      currency: 'KES',
    });
    expect(ownLoan.status).toBe(201);
  });
});
