import { Decimal } from 'decimal.js';
import { RecentMap } from '../../recent';
import type { MinorUnits } from './currency';

// E = P·r / (1 − (1 + r)^−n) is the one step that needs a decimal library: decimal.js, to 40 significant digits
// (the contract asks for at least 34). Everything else is exact integer arithmetic on hundredths (bigint, as
// money.ts checks amounts): interest is balance × APR / 1200 divided exactly and rounded half to even, and sums
// are sums. That is also what keeps a 360-month schedule fast: decimal.js costs about half a microsecond an
// operation here, and a schedule and its view would take a few thousand of them.
const Exact = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });

/** What fixes a schedule's amounts: decimal strings, the APR in percent ("24.00"). */
export interface LoanTerms {
  principal: string;
  aprPercent: string;
  termMonths: number;
  minorUnits: MinorUnits;
}

export interface ScheduleInput extends LoanTerms {
  /** `YYYY-MM-DD`: instalment k falls due k months after it (`disbursed_on`, or today for a projection). */
  firstPeriodStart: string;
}

/** Money is a decimal string with exactly two places in every currency ("2142.40", VND "794.00"). */
export interface Instalment {
  number: number;
  dueOn: string;
  principal: string;
  interest: string;
  total: string;
}

export interface Schedule {
  /** E, the equal monthly instalment; the last one differs by the rounding residual. */
  instalmentAmount: string;
  instalments: Instalment[];
}

/** An instalment as stored (one `instalments` row), with what repayments have paid of it so far. */
export interface InstalmentRecord {
  number: number;
  dueOn: string;
  principal: string;
  interest: string;
  paidPrincipal: string;
  paidInterest: string;
}

/** The part of a repayment that went to one instalment (the contract's `allocation` entries). */
export interface AllocationPart {
  number: number;
  interest: string;
  principal: string;
}

export interface Allocation {
  parts: AllocationPart[];
  /** Principal plus interest still owed after this repayment. */
  outstanding: string;
}

export interface AllocationRefusal {
  refusal: string;
}

export type InstalmentStatus = 'paid' | 'overdue' | 'upcoming';

/** The contract's schedule answer, less `loan_id`, `currency` and `instalment_amount`, in its wire names. */
export interface ScheduleView {
  instalments: {
    number: number;
    due_on: string;
    principal: string;
    interest: string;
    total: string;
    paid: string;
    outstanding: string;
    status: InstalmentStatus;
  }[];
  totals: { principal: string; interest: string; total: string; paid: string; outstanding: string };
  next_due_on: string | null;
  days_past_due: number;
}

// Hundredths of a currency unit, whatever the currency: JSON keeps two places everywhere.
type Hundredths = bigint;

// Amounts cross the edges as integer counts of hundredths (at most 13 digits, far below 2^53): BigInt(number) is
// about four times cheaper than BigInt(string), and a view of 360 instalments converts some 3,000 of them.
const MAX_DIGITS = 13;
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/** A plain decimal string with at most two places ("2142.4", "0.00") as hundredths; anything else is a bug. */
function hundredths(text: string): Hundredths {
  let value = 0;
  let places = -1;
  let digits = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 46 && places === -1 && digits > 0) {
      places = 0;
      continue;
    }
    if (code < 48 || code > 57 || places === 2 || ++digits > MAX_DIGITS) {
      throw new RangeError(`not a money amount: ${text}`);
    }
    value = value * 10 + (code - 48);
    if (places >= 0) places++;
  }
  if (digits === 0 || places === 0) throw new RangeError(`not a money amount: ${text}`);
  return BigInt(places === 2 ? value : places === 1 ? value * 10 : value * 100);
}

/** Hundredths as a decimal string with exactly two places. */
function money(value: Hundredths): string {
  const count = Number(value < 0n ? -value : value);
  const cents = count % 100;
  return `${value < 0n ? '-' : ''}${(count - cents) / 100}.${TWO_DIGITS[cents]}`;
}

const minimum = (a: bigint, b: bigint) => (a < b ? a : b);
const maximum = (a: bigint, b: bigint) => (a > b ? a : b);

const sum = (values: Iterable<Hundredths>): Hundredths => {
  let total = 0n;
  for (const value of values) total += value;
  return total;
};

/** numerator / denominator rounded half to even, exactly. */
function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n) return -divideHalfEven(-numerator, denominator);
  const quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator - quotient * denominator);
  const roundsUp = twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n);
  return roundsUp ? quotient + 1n : quotient;
}

/** One minor unit in hundredths: 1 for INR, 100 for VND. */
const minorUnitOf = (minorUnits: MinorUnits): Hundredths => (minorUnits === 2 ? 1n : 100n);

interface Line {
  principal: Hundredths;
  interest: Hundredths;
}

// Within this distance of a half minor unit, settle E exactly. 1 − (1 + r)^−n cancels up to six of the 40 digits
// at the smallest rate, which leaves errors near 1e-28 on the largest E (600.00 at 0.01 % over a month, exactly
// 600.005, comes out 600.005000…0021); a value this close to a half that is not one is rarer still.
const NEAR_HALF = new Exact('1e-20');

// E and the schedule rule's verdict depend on the terms alone, and one loan asks for them several times (its
// create, approval and disbursal check its terms; a schedule view shows E): decimal.js spends some 20 µs on E,
// the verdict's amortisation 5 µs at 12 months and over 100 µs at 360, a lookup well under one.
const TERMS_KEPT = 10_000;
const instalmentsByTerms = new RecentMap<bigint>(TERMS_KEPT);
const problemsByTerms = new RecentMap<string | null>(TERMS_KEPT);

/** E in minor units, rounded half to even, from the amount in minor units and the APR in hundredths. */
function equalInstalment(amount: bigint, apr: bigint, n: number): bigint {
  const terms = `${amount} ${apr} ${n}`;
  let e = instalmentsByTerms.get(terms);
  if (e === undefined) {
    e = computeEqualInstalment(amount, apr, n);
    instalmentsByTerms.set(terms, e);
  }
  return e;
}

function computeEqualInstalment(amount: bigint, apr: bigint, n: number): bigint {
  if (apr === 0n) return divideHalfEven(amount, BigInt(n));
  const rate = new Exact(apr.toString()).div(120_000);
  const e = new Exact(amount.toString()).times(rate).div(new Exact(1).minus(rate.plus(1).pow(-n)));
  const whole = e.floor();
  const fromHalf = e.minus(whole).minus(0.5);
  if (fromHalf.abs().gt(NEAR_HALF)) return BigInt(whole.toFixed(0)) + (fromHalf.isPositive() ? 1n : 0n);
  // 8.10 at 20.00 % over one month is exactly 8.235: settle it in exact rationals, E = amount·apr·g / (120000·(g −
  // 120000^n)) with g = (120000 + apr)^n, comparing 2E with the odd number between the two candidates.
  const k = BigInt(whole.toFixed(0));
  const grown = (120_000n + apr) ** BigInt(n);
  const twiceE = 2n * amount * apr * grown;
  const odd = (2n * k + 1n) * 120_000n * (grown - 120_000n ** BigInt(n));
  return twiceE > odd || (twiceE === odd && k % 2n === 1n) ? k + 1n : k;
}

function amortise({ principal, aprPercent, termMonths, minorUnits }: LoanTerms): {
  instalmentAmount: Hundredths;
  lines: Line[];
} {
  if (!Number.isInteger(termMonths) || termMonths < 1) throw new RangeError(`termMonths ${termMonths}`);
  const amount = hundredths(principal);
  const apr = hundredths(aprPercent);
  if (amount <= 0n) throw new RangeError(`principal ${principal}`);
  // Up to 100 %, even a refused 360-month schedule's balance stays far below 2^53 hundredths, which `money` needs.
  if (apr > 10_000n) throw new RangeError(`aprPercent ${aprPercent}`);
  const minorUnit = minorUnitOf(minorUnits);
  if (amount % minorUnit !== 0n) throw new RangeError(`principal ${principal} in ${minorUnits} minor units`);

  const instalmentAmount = equalInstalment(amount / minorUnit, apr, termMonths) * minorUnit;

  const lines: Line[] = [];
  let balance = amount;
  for (let number = 1; number <= termMonths; number++) {
    // balance × APR / 1200 from the balance and the APR themselves, never through a rounded rate: 1000.20 at
    // 10.00 % is exactly 8.335, so 8.34. Both are in hundredths, so that is balance · apr / 120000, to the unit.
    const interest = divideHalfEven(balance * apr, 120_000n * minorUnit) * minorUnit;
    const principalPart = number === termMonths ? balance : instalmentAmount - interest;
    lines.push({ principal: principalPart, interest });
    balance -= principalPart;
  }
  return { instalmentAmount, lines };
}

/**
 * The amortised schedule the contract defines: equal instalments E = P·r / (1 − (1 + r)^−n) (P / n at 0 %),
 * rounded half to even to the minor unit, interest on the balance each month, the last instalment taking the
 * whole remaining balance. It computes refused terms too: ask `scheduleProblem` first.
 */
export function buildSchedule(input: ScheduleInput): Schedule {
  const { instalmentAmount, lines } = amortise(input);
  const start = partsOf(input.firstPeriodStart);
  return {
    instalmentAmount: money(instalmentAmount),
    instalments: lines.map(({ principal, interest }, index) => ({
      number: index + 1,
      dueOn: monthsAfter(start, index + 1),
      principal: money(principal),
      interest: money(interest),
      total: money(principal + interest),
    })),
  };
}

/** E alone: a stored schedule's `instalment_amount`. */
export function instalmentAmount(terms: LoanTerms): string {
  return money(amortise(terms).instalmentAmount);
}

/**
 * Why these terms cannot be amortised (for a 422 on `/term_months`, or a 409 at approval), or null when they can:
 * an instalment would repay no principal, or the last would be further from E than max(n minor units, E / 100).
 */
export function scheduleProblem(terms: LoanTerms): string | null {
  const key = `${terms.principal} ${terms.aprPercent} ${terms.termMonths} ${terms.minorUnits}`;
  let problem = problemsByTerms.get(key);
  if (problem === undefined) {
    problem = amortisationProblem(terms);
    problemsByTerms.set(key, problem);
  }
  return problem;
}

function amortisationProblem(terms: LoanTerms): string | null {
  const { instalmentAmount: e, lines } = amortise(terms);
  const n = terms.termMonths;
  const cannot = `${n} monthly instalments cannot amortise ${terms.principal} at ${terms.aprPercent} % APR`;
  const last = lines[n - 1] as Line;
  const index = lines.findIndex((line) => line.principal <= 0n);
  if (index === n - 1) {
    return `${cannot}: the instalments before the last would repay ${money(hundredths(terms.principal) - last.principal)}, leaving ${money(last.principal)} for the last`;
  }
  const failing = lines[index];
  if (failing) {
    return `${cannot}: instalment ${index + 1} would repay a principal of ${money(failing.principal)}, its interest of ${money(failing.interest)} taking the whole instalment of ${money(e)}`;
  }
  const lastTotal = last.principal + last.interest;
  const distance = lastTotal > e ? lastTotal - e : e - lastTotal;
  // In hundredths of hundredths, so that E / 100 stays an integer comparison.
  if (distance * 100n > maximum(BigInt(n) * minorUnitOf(terms.minorUnits) * 100n, e)) {
    return `${cannot}: the last instalment would be ${money(lastTotal)} against ${money(e)} for the others, further apart than ${n} minor units or 1 % of the instalment`;
  }
  return null;
}

const owedOn = (instalment: InstalmentRecord) => ({
  interest: hundredths(instalment.interest) - hundredths(instalment.paidInterest),
  principal: hundredths(instalment.principal) - hundredths(instalment.paidPrincipal),
});

const byNumber = (instalments: readonly InstalmentRecord[]) =>
  [...instalments].sort((a, b) => a.number - b.number);

/**
 * Spreads a repayment over the instalments: the oldest not fully paid first, its interest then its principal,
 * then on to the next (so paying early pays the scheduled interest of every instalment it reaches). The amount
 * must already fit the currency's minor units. Nothing, or more than is outstanding, is refused.
 */
export function allocate(
  instalments: readonly InstalmentRecord[],
  amount: string,
): Allocation | AllocationRefusal {
  const paying = hundredths(amount);
  if (paying <= 0n) return { refusal: 'the amount must be greater than 0' };
  const owed = byNumber(instalments).map((instalment) => ({
    number: instalment.number,
    ...owedOn(instalment),
  }));
  const outstanding = sum(owed.map((each) => each.interest + each.principal));
  if (paying > outstanding) {
    return { refusal: `the amount ${money(paying)} is more than the ${money(outstanding)} outstanding` };
  }

  const parts: AllocationPart[] = [];
  let left = paying;
  for (const each of owed) {
    if (left === 0n) break;
    const interest = minimum(left, each.interest);
    const principal = minimum(left - interest, each.principal);
    left -= interest + principal;
    if (interest > 0n || principal > 0n) {
      parts.push({ number: each.number, interest: money(interest), principal: money(principal) });
    }
  }
  return { parts, outstanding: money(outstanding - paying) };
}

/** The instalments once a repayment's parts are added to what each had been paid. */
export function applyAllocation(
  instalments: readonly InstalmentRecord[],
  parts: readonly AllocationPart[],
): InstalmentRecord[] {
  const partOf = new Map(parts.map((part) => [part.number, part]));
  return instalments.map((instalment) => {
    const part = partOf.get(instalment.number);
    if (!part) return instalment;
    return {
      ...instalment,
      paidInterest: money(hundredths(instalment.paidInterest) + hundredths(part.interest)),
      paidPrincipal: money(hundredths(instalment.paidPrincipal) + hundredths(part.principal)),
    };
  });
}

/** Instalments as stored at disbursal, or shown in a projection: nothing paid yet. */
export function unpaid(instalments: readonly Instalment[]): InstalmentRecord[] {
  return instalments.map(({ number, dueOn, principal, interest }) => ({
    number,
    dueOn,
    principal,
    interest,
    paidPrincipal: '0.00',
    paidInterest: '0.00',
  }));
}

/**
 * Paid, outstanding and status per instalment, the totals, the oldest unpaid due date and how many days it is
 * past `today` (a `YYYY-MM-DD` in the business time zone, passed in so that the rule never reads a clock).
 */
export function scheduleView(instalments: readonly InstalmentRecord[], today: string): ScheduleView {
  const todayNumber = dayNumber(today);
  const totals = { principal: 0n, interest: 0n, paid: 0n };
  let nextDueOn: string | null = null;
  const rows = byNumber(instalments).map((instalment) => {
    const principal = hundredths(instalment.principal);
    const interest = hundredths(instalment.interest);
    const paid = hundredths(instalment.paidPrincipal) + hundredths(instalment.paidInterest);
    const outstanding = principal + interest - paid;
    totals.principal += principal;
    totals.interest += interest;
    totals.paid += paid;
    if (outstanding !== 0n) nextDueOn ??= instalment.dueOn;
    // `YYYY-MM-DD` texts sort as their dates do.
    const status: InstalmentStatus =
      outstanding === 0n ? 'paid' : instalment.dueOn < today ? 'overdue' : 'upcoming';
    return {
      number: instalment.number,
      due_on: instalment.dueOn,
      principal: money(principal),
      interest: money(interest),
      total: money(principal + interest),
      paid: money(paid),
      outstanding: money(outstanding),
      status,
    };
  });
  const total = totals.principal + totals.interest;
  return {
    instalments: rows,
    totals: {
      principal: money(totals.principal),
      interest: money(totals.interest),
      total: money(total),
      paid: money(totals.paid),
      outstanding: money(total - totals.paid),
    },
    next_due_on: nextDueOn,
    days_past_due: nextDueOn === null ? 0 : Math.max(0, todayNumber - dayNumber(nextDueOn)),
  };
}

/**
 * What a write-off writes off (the `written_off` event's amount): all the principal still owed, plus the unpaid
 * interest of the instalments due on or before `today`; interest not yet due is not owed.
 */
export function writeOffAmount(instalments: readonly InstalmentRecord[], today: string): string {
  const todayNumber = dayNumber(today);
  return money(
    sum(
      instalments.map((instalment) => {
        const owed = owedOn(instalment);
        return dayNumber(instalment.dueOn) <= todayNumber ? owed.principal + owed.interest : owed.principal;
      }),
    ),
  );
}

// Calendar dates as `YYYY-MM-DD`, in integer arithmetic: no Date object, so no time zone and no two-digit-year
// surprise (Date.UTC(99, 0, 1) is 1999).

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

const daysInMonth = (year: number, month: number) =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

function calendarParts(text: string): { year: number; month: number; day: number } | null {
  const match = DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

function partsOf(text: string) {
  const parts = calendarParts(text);
  if (!parts) throw new RangeError(`not a calendar date: ${text}`);
  return parts;
}

/** Whether `text` is a real calendar date written `YYYY-MM-DD` (`2026-02-29` is not). */
export const isCalendarDate = (text: string): boolean => calendarParts(text) !== null;

const pad = (value: number, width: number) => String(value).padStart(width, '0');

function monthsAfter(
  { year, month, day }: { year: number; month: number; day: number },
  months: number,
): string {
  const index = year * 12 + (month - 1) + months;
  const toYear = Math.floor(index / 12);
  const toMonth = (index % 12) + 1;
  return `${pad(toYear, 4)}-${pad(toMonth, 2)}-${pad(Math.min(day, daysInMonth(toYear, toMonth)), 2)}`;
}

/** `months` calendar months after `date`, on the same day or the month's last day when it is shorter. */
export const addMonths = (date: string, months: number): string => monthsAfter(partsOf(date), months);

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
function dayNumber(date: string): number {
  const { year, month, day } = partsOf(date);
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export const daysBetween = (from: string, to: string): number => dayNumber(to) - dayNumber(from);
