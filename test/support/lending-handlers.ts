import { expect } from 'bun:test';
import type { CommandName } from '../../src/modules/loans/lifecycle';
import type { Loan, LoanSchedule, Repayment } from '../../src/modules/loans/model';
import { type Client, createLoan as createThrough, problemOf, command as send } from './lifecycle';

/** Money as the contract shows it in every currency: a decimal string with exactly two places. */
export const MONEY = /^\d+\.\d{2}$/;

/** Asserts a problem+json answer and returns it. */
export async function expectProblem(response: Response, status: number) {
  const problem = await problemOf(response, status);
  expect(problem.detail).toBeString();
  return problem;
}

/** Asserts a 422 whose one error is at `path`, and returns that error's message. */
export async function expectInvalidAt(response: Response, path: string): Promise<string> {
  const problem = await expectProblem(response, 422);
  expect(problem.errors?.map((error) => error.path)).toEqual([path]);
  return problem.errors?.[0]?.message as string;
}

export const contractLoan = {
  borrower_id: 'usr_india_999',
  amount: '12000.50',
  currency: 'INR',
  term_months: 6,
  interest_rate_apr: '24.00',
};

/** The contract's example loan, with `overrides`, created through the API. */
export const createLoan = (t: Client, overrides: Record<string, unknown> = {}): Promise<Loan> =>
  createThrough(t, { ...contractLoan, ...overrides });

/** A command that must succeed, and the loan it answers. */
export async function command(t: Client, id: string, name: CommandName, body: object = {}): Promise<Loan> {
  const response = await send(t, id, name, body);
  if (response.status !== 200) throw new Error(`${name}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Loan;
}

/** A loan created, approved and disbursed (on `disbursedOn`, today by default) by the development officer. */
export async function disbursedLoan(
  t: Client,
  overrides: Record<string, unknown> = {},
  disbursedOn?: string,
): Promise<Loan> {
  const loan = await createLoan(t, overrides);
  await command(t, loan.id, 'approve');
  return command(t, loan.id, 'disburse', disbursedOn === undefined ? {} : { disbursed_on: disbursedOn });
}

export async function scheduleOf(t: Client, id: string): Promise<LoanSchedule> {
  const response = await t.req(`/api/loans/${id}/schedule`);
  if (response.status !== 200) throw new Error(`schedule: ${response.status} ${await response.text()}`);
  return (await response.json()) as LoanSchedule;
}

export async function repay(t: Client, id: string, body: Record<string, unknown>): Promise<Repayment> {
  const response = await t.post(`/api/loans/${id}/repayments`, body);
  if (response.status !== 201) throw new Error(`repay: ${response.status} ${await response.text()}`);
  return (await response.json()) as Repayment;
}

// Money and dates recomputed here the plain way, independently of src/, so the tests check the service's answers
// rather than repeat its code: cents as bigint, dates through Date.UTC.

export const cents = (money: string): bigint => {
  expect(money).toMatch(MONEY);
  return BigInt(money.replace('.', ''));
};

export const moneyOf = (value: bigint): string => {
  const digits = value.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
};

export const sumMoney = (values: string[]): string =>
  moneyOf(values.reduce((total, v) => total + cents(v), 0n));

/** The UTC date today, `offsetDays` away. */
export const utcDate = (offsetDays = 0, at = Date.now()): string =>
  new Date(at + offsetDays * 86_400_000).toISOString().slice(0, 10);

const parse = (date: string) => date.split('-').map(Number) as [number, number, number];

export const addDays = (date: string, days: number): string => {
  const [year, month, day] = parse(date);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
};

/** `months` calendar months after `date`, clamped to the last day of a shorter month. */
export const addMonths = (date: string, months: number): string => {
  const [year, month, day] = parse(date);
  const lastDay = new Date(Date.UTC(year, month - 1 + months + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month - 1 + months, Math.min(day, lastDay))).toISOString().slice(0, 10);
};

export const daysFrom = (from: string, to: string): number => {
  const [fy, fm, fd] = parse(from);
  const [ty, tm, td] = parse(to);
  return Math.round((Date.UTC(ty, tm - 1, td) - Date.UTC(fy, fm - 1, fd)) / 86_400_000);
};

/**
 * A disbursal date k months before `dueOn` (k at least `fromMonths`) whose k-th instalment falls due exactly on
 * `dueOn` (a month-end `dueOn` needs a long enough month k months earlier), with that k.
 */
export function disbursalWithInstalmentDueOn(
  dueOn: string,
  fromMonths = 1,
): { disbursedOn: string; months: number } {
  for (let months = fromMonths; months <= fromMonths + 11; months++) {
    const disbursedOn = addMonths(dueOn, -months);
    if (addMonths(disbursedOn, months) === dueOn) return { disbursedOn, months };
  }
  throw new Error(`no disbursal date has an instalment due on ${dueOn}`);
}

/** Paid interest and principal of an instalment from its `paid`: a repayment pays interest first. */
export function paidParts(instalment: LoanSchedule['instalments'][number]) {
  const paid = cents(instalment.paid);
  const interest = cents(instalment.interest);
  // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min refuses
  const paidInterest = paid > interest ? interest : paid;
  return { interest: paidInterest, principal: paid - paidInterest };
}

/** Principal still owed on a schedule: the sum over instalments of principal less paid principal. */
export const outstandingPrincipal = (schedule: LoanSchedule): bigint =>
  schedule.instalments.reduce(
    (total, instalment) => total + cents(instalment.principal) - paidParts(instalment).principal,
    0n,
  );
