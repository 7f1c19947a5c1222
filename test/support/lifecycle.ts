import { expect } from 'bun:test';
import type { SQL } from 'drizzle-orm';
import { hashApiKey } from '../../src/auth/api-key';
import type { LoanStatus } from '../../src/db/schema';
import { developmentKeys } from '../../src/modules/keys/dev-keys';
import { type CommandName, commandNames, transitions } from '../../src/modules/loans/lifecycle';
import type { Loan, LoanEvent, LoanSchedule } from '../../src/modules/loans/model';
import type { TestApp } from './app';

// Walking loans through their lifecycle over the API, for the lifecycle, idempotency, concurrency and audit tests.

/** What a test sends requests through: the test app itself or `t.as(key)`. */
export type Client = Pick<TestApp, 'req' | 'post'>;

/** A loan every command can act on: it has the term and rate that approval needs. */
export const lendableLoan = {
  borrower_id: 'usr_kenya_001',
  amount: '1200.00',
  currency: 'KES',
  term_months: 6,
  interest_rate_apr: '12.00',
};

/** The audit actor a development key is recorded as. */
export function actorOf(key: string): string {
  const found = developmentKeys.find((devKey) => devKey.keyHash === hashApiKey(key));
  if (!found) throw new Error(`${key} is not a development key`);
  return found.id;
}

/** A body the command accepts: a reason where it takes one, nothing for a disbursal (today by default). */
export const commandBody = (name: CommandName): { reason?: string } =>
  transitions[name].body === 'disbursal' ? {} : { reason: `${name}: checked by the test` };

/**
 * The shortest command sequence from pending to each status the transition table reaches, found by a
 * breadth-first walk over the table itself; `repaid` is reached by a repayment, not a command.
 */
export const commandPaths: Partial<Record<LoanStatus, CommandName[]>> = (() => {
  const paths: Partial<Record<LoanStatus, CommandName[]>> = { pending: [] };
  const queue: LoanStatus[] = ['pending'];
  for (let status = queue.shift(); status !== undefined; status = queue.shift()) {
    for (const name of commandNames) {
      const { from, to } = transitions[name];
      if (from === status && paths[to] === undefined) {
        paths[to] = [...(paths[status] as CommandName[]), name];
        queue.push(to);
      }
    }
  }
  return paths;
})();

export async function createLoan(client: Client, overrides: Record<string, unknown> = {}): Promise<Loan> {
  const response = await client.post('/api/loans', { ...lendableLoan, ...overrides });
  expect(response.status).toBe(201);
  return (await response.json()) as Loan;
}

export const command = (
  client: Client,
  id: string,
  name: CommandName,
  body: unknown = commandBody(name),
  headers: Record<string, string> = {},
) => client.post(`/api/loans/${id}/${name}`, body, headers);

/** Pays everything the schedule says is outstanding, which turns the loan repaid. */
export async function repayInFull(
  client: Client,
  id: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const schedule = (await (await client.req(`/api/loans/${id}/schedule`)).json()) as LoanSchedule;
  return client.post(`/api/loans/${id}/repayments`, { amount: schedule.totals.outstanding }, headers);
}

/** Moves a pending loan to `status` through the API, checking each step succeeds. */
export async function walkTo(client: Client, id: string, status: LoanStatus): Promise<void> {
  const path = commandPaths[status === 'repaid' ? 'disbursed' : status];
  if (!path) throw new Error(`the transition table reaches no ${status}`);
  for (const name of path) expect((await command(client, id, name)).status).toBe(200);
  if (status === 'repaid') expect((await repayInFull(client, id)).status).toBe(201);
}

/** The id of a new loan brought to `status` through the API. */
export async function loanIn(
  client: Client,
  status: LoanStatus,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const loan = await createLoan(client, overrides);
  await walkTo(client, loan.id, status);
  return loan.id;
}

export async function eventsOf(client: Client, id: string): Promise<LoanEvent[]> {
  const response = await client.req(`/api/loans/${id}/events`);
  expect(response.status).toBe(200);
  return (await response.json()) as LoanEvent[];
}

/** The loan exactly as GET answers it (body text and ETag), and how many events it has. */
export async function snapshot(client: Client, id: string) {
  const response = await client.req(`/api/loans/${id}`);
  expect(response.status).toBe(200);
  return {
    text: await response.text(),
    etag: response.headers.get('etag'),
    events: (await eventsOf(client, id)).length,
  };
}

/** The version an ETag header carries. */
export const versionOf = (etag: string | null) => Number(JSON.parse(etag ?? 'null'));

export async function problemOf(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toStartWith('application/problem+json');
  return (await response.json()) as {
    type: string;
    detail: string;
    errors?: { path: string; message: string }[];
  };
}

/** Rows of a raw query on either driver (postgres.js answers an array, PGlite `{ rows }`). */
export async function rowsOf<T>(db: TestApp['database']['db'], query: SQL): Promise<T[]> {
  const result = await db.execute(query);
  return (Array.isArray(result) ? result : (result as unknown as { rows: T[] }).rows) as T[];
}

/** One number from a raw `SELECT count(*)::int AS n …`. */
export async function countOf(db: TestApp['database']['db'], query: SQL): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(db, query);
  return Number(row?.n);
}
