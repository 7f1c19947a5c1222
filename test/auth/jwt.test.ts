import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { createJwtVerifier, JwksUnavailable } from '../../src/auth/jwt';
import type { Loan } from '../../src/modules/loans/model';
import { bearer, createTestApp, devKeys, type TestApp } from '../support/app';

const ISSUER = 'https://id.example.test/';
/** The outage tests build their own test app: a migrated PGlite takes seconds on a busy machine. */
const TEST_APP_TIMEOUT_MS = 60_000;
const AUDIENCE = 'branch-loans-api';
const BORROWER = 'usr_kenya_001';
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

const signing = {} as Record<Algorithm, SigningKey>;
/** A key pair of each kind that the identity provider does not publish. */
const outsider = {} as Record<Algorithm, SigningKey>;

async function makeKey(alg: Algorithm, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** An identity provider's JWKS endpoint on a loopback port: a real HTTP server, as jose fetches it. */
function serveJwks(keys: JWK[]) {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => Response.json({ keys }),
  });
  return { url: `http://127.0.0.1:${server.port}/.well-known/jwks.json`, stop: () => server.stop(true) };
}

const now = () => Math.floor(Date.now() / 1000);

const claims = (extra: JWTPayload = {}): JWTPayload => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'officer-7',
  roles: ['officer'],
  iat: now(),
  exp: now() + 300,
  ...extra,
});

/** A token as the identity provider would sign it; `payload` keys set to undefined are left out. */
function sign(payload: JWTPayload, alg: Algorithm = 'RS256', key: SigningKey = signing[alg]) {
  const body = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
  return new SignJWT(body).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

const encodePart = (value: unknown) => base64url.encode(JSON.stringify(value));

const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;

async function countLoans(t: TestApp): Promise<number> {
  const [row] = rowsOf<{ n: number }>(await t.database.db.execute(sql`SELECT count(*)::int AS n FROM loans`));
  return row?.n ?? -1;
}

const newLoan = { borrower_id: BORROWER, amount: '100.00', currency: 'KES' };

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  if (status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
  return (await response.json()) as { status: number; detail: string };
}

let jwks: ReturnType<typeof serveJwks>;
let t: TestApp;

beforeAll(async () => {
  for (const alg of ALGORITHMS) {
    signing[alg] = await makeKey(alg, `idp-${alg}`);
    outsider[alg] = await makeKey(alg, `idp-${alg}`);
  }
  jwks = serveJwks(ALGORITHMS.map((alg) => signing[alg].jwk));
  t = await createTestApp({ jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE } });
  // Loans of two borrowers, so a borrower's token can be seen to be scoped.
  for (const borrowerId of [BORROWER, 'usr_india_002']) {
    expect(
      (await t.as(devKeys.officer).post('/api/loans', { ...newLoan, borrower_id: borrowerId })).status,
    ).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
  jwks?.stop();
});

describe('a valid token', () => {
  test.each(ALGORITHMS)('signed with %s is accepted', async (alg) => {
    const response = await t.req('/api/stats', { headers: bearer(await sign(claims(), alg)) });
    expect(response.status).toBe(200);
  });

  test("a borrower's token is scoped to its sub: their loans only, their own applications only", async () => {
    const token = await sign(claims({ sub: BORROWER, roles: ['borrower'] }));
    const list = await t.req('/api/loans?limit=200', { headers: bearer(token) });
    expect(list.status).toBe(200);
    const loans = (await list.json()) as Loan[];
    expect(loans.length).toBeGreaterThan(0);
    expect(loans.every((loan) => loan.borrower_id === BORROWER)).toBe(true);
    expect((await t.as(token).post('/api/loans', newLoan)).status).toBe(201);
    await expectProblem(
      await t.as(token).post('/api/loans', { ...newLoan, borrower_id: 'usr_india_002' }),
      403,
    );
    await expectProblem(await t.req('/api/stats', { headers: bearer(token) }), 403);
  });

  test('an officer reads every loan and the stats, but may not manage keys; an admin may', async () => {
    const officer = await sign(claims({ roles: ['officer'] }));
    const loans = (await (
      await t.req('/api/loans?limit=200', { headers: bearer(officer) })
    ).json()) as Loan[];
    expect(new Set(loans.map((loan) => loan.borrower_id)).size).toBeGreaterThan(1);
    await expectProblem(await t.req('/api/keys', { headers: bearer(officer) }), 403);
    const admin = await sign(claims({ sub: 'admin-1', roles: ['admin'] }));
    expect((await t.req('/api/keys', { headers: bearer(admin) })).status).toBe(200);
  });

  test('the loan and its events record jwt:<sub> as the actor, and so does the access line', async () => {
    const token = await sign(claims({ sub: 'officer-42' }));
    const created = await t.as(token).post('/api/loans', newLoan, { 'x-request-id': 'jwt-actor' });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as Loan;
    const events = (await (await t.req(`/api/loans/${id}/events`)).json()) as { actor: string }[];
    expect(events.map((event) => event.actor)).toEqual(['jwt:officer-42']);
    const access = t.logs.filter((line) => line.msg === 'request' && line.request_id === 'jwt-actor');
    expect(access).toMatchObject([{ status: 201, actor: 'jwt:officer-42' }]);
    expect(JSON.stringify(t.logs)).not.toContain(token);
  });

  test("a borrower's sub is taken in NFC, as borrower ids are stored: a decomposed é still finds their loans", async () => {
    const composed = 'usr_jos\u00e9_003';
    const decomposed = 'usr_jose\u0301_003';
    expect(
      (await t.as(devKeys.officer).post('/api/loans', { ...newLoan, borrower_id: composed })).status,
    ).toBe(201);
    const token = await sign(claims({ sub: decomposed, roles: ['borrower'] }));
    const loans = (await (await t.req('/api/loans', { headers: bearer(token) })).json()) as Loan[];
    expect(loans.map((loan) => loan.borrower_id)).toEqual([composed]);
    expect((await t.as(token).post('/api/loans', { ...newLoan, borrower_id: decomposed })).status).toBe(201);
  });

  test('aud may be a list that holds our audience', async () => {
    const token = await sign(claims({ aud: ['another-api', AUDIENCE] }));
    expect((await t.req('/api/stats', { headers: bearer(token) })).status).toBe(200);
  });

  test('roles other than borrower, officer and admin are ignored', async () => {
    const token = await sign(claims({ roles: ['officer', 'superuser', 'root'] }));
    expect((await t.req('/api/stats', { headers: bearer(token) })).status).toBe(200);
  });

  test('within the 60 s clock skew: an nbf 30 s ahead and an exp 30 s past still pass', async () => {
    for (const skewed of [claims({ nbf: now() + 30 }), claims({ exp: now() - 30, iat: now() - 300 })]) {
      expect((await t.req('/api/stats', { headers: bearer(await sign(skewed)) })).status).toBe(200);
    }
  });
});

describe('a token that fails a check: 401 problem, nothing created', () => {
  const forged = async (): Promise<[string, string][]> => {
    const valid = await sign(claims());
    const [header, , signature] = valid.split('.');
    const spki = await exportSPKI(signing.RS256.publicKey);
    return [
      ['expired beyond the skew', await sign(claims({ exp: now() - 120, iat: now() - 600 }))],
      ['not valid yet beyond the skew', await sign(claims({ nbf: now() + 120 }))],
      ['for another audience', await sign(claims({ aud: 'another-api' }))],
      ['for a list of other audiences', await sign(claims({ aud: ['another-api', 'a-third'] }))],
      ['from another issuer', await sign(claims({ iss: 'https://evil.example.test/' }))],
      ['with no exp', await sign(claims({ exp: undefined }))],
      ['with no sub', await sign(claims({ sub: undefined }))],
      ['with a number for sub', await sign(claims({ sub: 42 as unknown as string }))],
      ['with an empty sub', await sign(claims({ sub: '' }))],
      ['with a control character in sub', await sign(claims({ sub: 'officer\n7' }))],
      ['with a sub of 256 characters', await sign(claims({ sub: 'x'.repeat(256) }))],
      [
        'with alg none',
        `${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(claims({ roles: ['admin'] }))}.`,
      ],
      [
        'HS256-signed with the public key as the secret',
        await new SignJWT(claims({ roles: ['admin'] }))
          .setProtectedHeader({ alg: 'HS256', kid: signing.RS256.kid })
          .sign(new TextEncoder().encode(spki)),
      ],
      ['naming an unknown kid', await sign(claims(), 'RS256', { ...outsider.RS256, kid: 'no-such-kid' })],
      [
        'signed by a key the provider does not publish, under its kid',
        await sign(claims(), 'ES256', outsider.ES256),
      ],
      [
        'with a tampered payload',
        `${header}.${encodePart(claims({ roles: ['admin'], sub: 'mallory' }))}.${signature}`,
      ],
      ['with its signature cut off', `${header}.${valid.split('.')[1]}.`],
    ];
  };

  test('each of them', async () => {
    const before = await countLoans(t);
    const answers: string[] = [];
    const expected: string[] = [];
    for (const [name, token] of await forged()) {
      expected.push(`${name}: 401`);
      const read = await t.req('/api/loans', { headers: bearer(token) });
      const write = await t.as(token).post('/api/loans', newLoan);
      const ok = async (response: Response) =>
        response.status === 401 &&
        response.headers.get('www-authenticate') === 'Bearer' &&
        (response.headers.get('content-type') ?? '').startsWith('application/problem+json') &&
        ((await response.json()) as { status: number }).status === 401;
      answers.push(
        `${name}: ${(await ok(read)) && (await ok(write)) ? 401 : `${read.status}/${write.status}`}`,
      );
    }
    expect(answers).toEqual(expected);
    expect(await countLoans(t)).toBe(before);
  });

  test('the detail of an expired token says so', async () => {
    const problem = await expectProblem(
      await t.req('/api/stats', { headers: bearer(await sign(claims({ exp: now() - 120 }))) }),
      401,
    );
    expect(problem.detail).toContain('expired');
  });
});

describe('a token whose roles do not name exactly one role: 403', () => {
  test.each([
    ['no roles claim', { roles: undefined }],
    ['an empty roles list', { roles: [] }],
    ['only unknown roles', { roles: ['superuser'] }],
    ['two roles', { roles: ['officer', 'admin'] }],
  ])('%s', async (_, extra) => {
    const token = await sign(claims(extra as JWTPayload));
    const before = await countLoans(t);
    const problem = await expectProblem(await t.req('/api/stats', { headers: bearer(token) }), 403);
    expect(problem.detail).toContain('exactly one role');
    await expectProblem(await t.as(token).post('/api/loans', newLoan), 403);
    expect(await countLoans(t)).toBe(before);
  });
});

describe('an identity provider that cannot be reached', () => {
  test(
    'with no key cached, a token gets 503 (with Retry-After), never a pass and never a 500',
    async () => {
      const gone = serveJwks([signing.RS256.jwk]);
      gone.stop();
      const app = await createTestApp({ jwt: { jwksUrl: gone.url, issuer: ISSUER, audience: AUDIENCE } });
      try {
        const token = await sign(claims());
        const problem = await expectProblem(await app.req('/api/stats', { headers: bearer(token) }), 503);
        expect(problem.detail).toContain('identity provider');
        const write = await app.as(token).post('/api/loans', newLoan);
        await expectProblem(write, 503);
        expect(write.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await countLoans(app)).toBe(0);
        // API keys do not depend on it.
        expect((await app.req('/api/stats')).status).toBe(200);
      } finally {
        await app.close();
      }
    },
    TEST_APP_TIMEOUT_MS,
  );

  test.each([
    ['answers 500', () => new Response('oops', { status: 500 })],
    ['answers something that is not a key set', () => Response.json({ keys: 'none' })],
    ['answers HTML', () => new Response('<html></html>', { headers: { 'content-type': 'text/html' } })],
  ])('a JWKS endpoint that %s is an outage (JwksUnavailable, so 503), not a bad token', async (_, answer) => {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: answer });
    try {
      const verify = createJwtVerifier({
        jwksUrl: `http://127.0.0.1:${server.port}/jwks`,
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      await expect(verify(await sign(claims()))).rejects.toBeInstanceOf(JwksUnavailable);
    } finally {
      server.stop(true);
    }
  });

  test(
    'once a key is cached, tokens still verify after the JWKS goes away',
    async () => {
      const provider = serveJwks([signing.ES256.jwk]);
      const app = await createTestApp({ jwt: { jwksUrl: provider.url, issuer: ISSUER, audience: AUDIENCE } });
      try {
        expect((await app.req('/api/stats', { headers: bearer(await sign(claims(), 'ES256')) })).status).toBe(
          200,
        );
        provider.stop();
        const fresh = await sign(claims({ sub: 'officer-8' }), 'ES256');
        expect((await app.req('/api/stats', { headers: bearer(fresh) })).status).toBe(200);
        // A key it never saw still fails as a bad token, not as an outage.
        const unknown = await sign(claims(), 'ES256', { ...outsider.ES256, kid: 'rotated-in-later' });
        await expectProblem(await app.req('/api/stats', { headers: bearer(unknown) }), 401);
      } finally {
        await app.close();
      }
    },
    TEST_APP_TIMEOUT_MS,
  );
});
