import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import type { MinorUnits } from '../../../src/modules/loans/currency';
import {
  addMonths,
  allocate,
  applyAllocation,
  buildSchedule,
  daysBetween,
  type InstalmentRecord,
  instalmentAmount,
  isCalendarDate,
  type LoanTerms,
  type Schedule,
  scheduleProblem,
  scheduleView,
  unpaid,
  writeOffAmount,
} from '../../../src/modules/loans/schedule';

// An independent reference for the contract's rule, in exact rationals over bigint: E = P·r / (1 − (1 + r)^−n)
// with r = apr / 120000 (apr in hundredths of a percent) is P·apr·(120000 + apr)^n / (120000·((120000 + apr)^n −
// 120000^n)), rounded half to even once, with no precision to choose; interest is balance·apr / 120000. Amounts
// are in the currency's minor units, so the same arithmetic serves INR and VND.
function halfEven(numerator: bigint, denominator: bigint): bigint {
  const floor = numerator / denominator - (numerator % denominator < 0n ? 1n : 0n);
  const twice = 2n * (numerator - floor * denominator);
  return twice > denominator || (twice === denominator && floor % 2n !== 0n) ? floor + 1n : floor;
}

function reference(amountMinor: bigint, aprHundredths: bigint, n: number) {
  const grown = (120_000n + aprHundredths) ** BigInt(n);
  const e =
    aprHundredths === 0n
      ? halfEven(amountMinor, BigInt(n))
      : halfEven(amountMinor * aprHundredths * grown, 120_000n * (grown - 120_000n ** BigInt(n)));
  const lines: { principal: bigint; interest: bigint }[] = [];
  let balance = amountMinor;
  for (let k = 1; k <= n; k++) {
    const interest = halfEven(balance * aprHundredths, 120_000n);
    const principal = k === n ? balance : e - interest;
    lines.push({ principal, interest });
    balance -= principal;
  }
  const last = lines[n - 1] as { principal: bigint; interest: bigint };
  const distance = last.principal + last.interest - e;
  const amortises =
    lines.every((line) => line.principal > 0n) &&
    100n * (distance < 0n ? -distance : distance) <= (100n * BigInt(n) > e ? 100n * BigInt(n) : e);
  return { e, lines, amortises };
}

/** Minor units of a two-place decimal string the module returned. */
const minor = (text: string, minorUnits: MinorUnits): bigint => {
  expect(text).toMatch(/^-?\d+\.\d\d$/);
  const hundredths = BigInt(text.replace('.', ''));
  if (minorUnits === 0) expect(hundredths % 100n).toBe(0n);
  return minorUnits === 2 ? hundredths : hundredths / 100n;
};

const decimalText = (minorAmount: bigint, minorUnits: MinorUnits): string => {
  if (minorUnits === 0) return String(minorAmount);
  const digits = String(minorAmount).padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
};

const terms = (principal: string, aprPercent: string, termMonths: number, minorUnits: MinorUnits = 2) => ({
  principal,
  aprPercent,
  termMonths,
  minorUnits,
});

const schedule = (principal: string, aprPercent: string, termMonths: number, minorUnits: MinorUnits = 2) =>
  buildSchedule({ ...terms(principal, aprPercent, termMonths, minorUnits), firstPeriodStart: '2026-01-15' });

const column = (built: Schedule, key: 'principal' | 'interest' | 'total') =>
  built.instalments.map((i) => i[key]);

describe('buildSchedule: hand-checked vectors', () => {
  test("the contract's example: 12000.50 INR at 24.00 % over 6 months", () => {
    const built = schedule('12000.50', '24.00', 6);
    expect(built.instalmentAmount).toBe('2142.40');
    expect(column(built, 'total')).toEqual([
      '2142.40',
      '2142.40',
      '2142.40',
      '2142.40',
      '2142.40',
      '2142.39',
    ]);
    expect(column(built, 'interest')).toEqual(['240.01', '201.96', '163.15', '123.57', '83.19', '42.01']);
    expect(column(built, 'principal')).toEqual([
      '1902.39',
      '1940.44',
      '1979.25',
      '2018.83',
      '2059.21',
      '2100.38',
    ]);
    expect(built.instalments.map((i) => i.number)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('interest comes from the balance and the APR, not a rounded rate: 1000.20 at 10.00 % is 8.335, so 8.34', () => {
    const built = schedule('1000.20', '10.00', 12);
    expect(built.instalmentAmount).toBe('87.93');
    expect(column(built, 'interest').slice(0, 3)).toEqual(['8.34', '7.67', '7.00']);
    expect(built.instalments[11]).toMatchObject({ principal: '87.24', interest: '0.73', total: '87.97' });
  });

  test('rounds half to even: 0.125 is 0.12 and 0.135 is 0.14', () => {
    // 7.50 at 20.00 % is 0.125 of interest a month; 8.10 at 20.00 % is 0.135.
    expect(schedule('7.50', '20.00', 2).instalments[0]?.interest).toBe('0.12');
    expect(schedule('8.10', '20.00', 2).instalments[0]?.interest).toBe('0.14');
  });

  test('an exact half in E itself is rounded to even too: 8.10 at 20.00 % over one month is 8.235, so 8.24', () => {
    expect(instalmentAmount(terms('8.10', '20.00', 1))).toBe('8.24');
    expect(instalmentAmount(terms('7.50', '20.00', 1))).toBe('7.62');
    expect(instalmentAmount(terms('1000.20', '10.00', 1))).toBe('1008.54');
    // At 0.01 %, where 1 − (1 + r)^−1 cancels most digits: 600.005, 3000.025 and 41400.345.
    expect(instalmentAmount(terms('600.00', '0.01', 1))).toBe('600.00');
    expect(instalmentAmount(terms('3000.00', '0.01', 1))).toBe('3000.02');
    expect(instalmentAmount(terms('41400.00', '0.01', 1))).toBe('41400.34');
  });

  test('a zero-rate loan divides the principal, the last instalment taking the remainder', () => {
    const built = schedule('1000.00', '0.00', 3);
    expect(built.instalmentAmount).toBe('333.33');
    expect(column(built, 'principal')).toEqual(['333.33', '333.33', '333.34']);
    expect(column(built, 'interest')).toEqual(['0.00', '0.00', '0.00']);
    expect(column(schedule('1200.00', '0', 12), 'total')).toEqual(Array(12).fill('100.00'));
  });

  test('a zero-decimal currency: 8400 VND at 24.00 % over 12 months, in whole dong with two places', () => {
    const built = schedule('8400', '24.00', 12, 0);
    expect(built.instalmentAmount).toBe('794.00');
    expect(column(built, 'interest')).toEqual(
      ['168', '155', '143', '130', '116', '103', '89', '75', '61', '46', '31', '16'].map((v) => `${v}.00`),
    );
    expect(column(built, 'principal')).toEqual(
      ['626', '639', '651', '664', '678', '691', '705', '719', '733', '748', '763', '783'].map(
        (v) => `${v}.00`,
      ),
    );
    expect(built.instalments[11]?.total).toBe('799.00');
    expect(schedule('8400.00', '24.00', 12, 0)).toEqual(built);
  });

  test('a 360-month loan: 50000.00 at 5.00 %, whose principal adds up to the amount exactly', () => {
    const built = schedule('50000.00', '5.00', 360);
    expect(built.instalmentAmount).toBe('268.41');
    expect(built.instalments.slice(0, 3).map((i) => [i.principal, i.interest])).toEqual([
      ['60.08', '208.33'],
      ['60.33', '208.08'],
      ['60.58', '207.83'],
    ]);
    expect(built.instalments.slice(-3).map((i) => [i.principal, i.interest, i.total])).toEqual([
      ['265.08', '3.33', '268.41'],
      ['266.18', '2.23', '268.41'],
      ['267.97', '1.12', '269.09'],
    ]);
    const principal = built.instalments.reduce((total, i) => total + minor(i.principal, 2), 0n);
    const interest = built.instalments.reduce((total, i) => total + minor(i.interest, 2), 0n);
    expect(principal).toBe(5_000_000n);
    expect(interest).toBe(4_662_828n);
    expect(built.instalments[359]?.dueOn).toBe('2056-01-15');
  });

  test('a disbursal on the 31st falls due on each month’s last day when the month is shorter', () => {
    const built = buildSchedule({ ...terms('12000.00', '24.00', 14), firstPeriodStart: '2026-12-31' });
    expect(built.instalments.map((i) => i.dueOn)).toEqual([
      '2027-01-31',
      '2027-02-28',
      '2027-03-31',
      '2027-04-30',
      '2027-05-31',
      '2027-06-30',
      '2027-07-31',
      '2027-08-31',
      '2027-09-30',
      '2027-10-31',
      '2027-11-30',
      '2027-12-31',
      '2028-01-31',
      '2028-02-29',
    ]);
  });

  test('due dates count months from the start, not from the previous due date', () => {
    const dueOn = buildSchedule({
      ...terms('900.00', '12.00', 3),
      firstPeriodStart: '2026-01-31',
    }).instalments.map((i) => i.dueOn);
    expect(dueOn).toEqual(['2026-02-28', '2026-03-31', '2026-04-30']);
  });

  test('instalmentAmount gives E alone', () => {
    expect(instalmentAmount(terms('12000.50', '24.00', 6))).toBe('2142.40');
    expect(instalmentAmount(terms('8400.00', '24.00', 12, 0))).toBe('794.00');
  });

  test('refuses input the validation should have stopped, rather than computing nonsense', () => {
    expect(() => schedule('0.00', '10.00', 12)).toThrow(RangeError);
    expect(() => schedule('100.00', '10.00', 0)).toThrow(RangeError);
    expect(() => schedule('100.00', '10.00', 1.5)).toThrow(RangeError);
    expect(() => schedule('100.005', '10.00', 12)).toThrow(RangeError);
    expect(() => schedule('8400.50', '24.00', 12, 0)).toThrow(RangeError);
    expect(() => schedule('1e3', '10.00', 12)).toThrow(RangeError);
    expect(() => schedule('100.00', '100.01', 12)).toThrow(RangeError);
    expect(() => buildSchedule({ ...terms('100.00', '1.00', 2), firstPeriodStart: '2026-02-30' })).toThrow(
      RangeError,
    );
  });
});

describe('scheduleProblem', () => {
  test('accepts the contract example and the sample loans', () => {
    expect(scheduleProblem(terms('12000.50', '24.00', 6))).toBeNull();
    for (const [amount, minorUnits] of [
      ['12500.00', 2],
      ['50000.00', 2],
      ['32000.00', 2],
      ['8400.00', 0],
      ['21000.00', 2],
    ] as const) {
      expect(scheduleProblem(terms(amount, '24.00', 12, minorUnits))).toBeNull();
    }
  });

  test('refuses 50000.00 at 36 % over 360 months, whose instalments would repay more than the amount', () => {
    expect(scheduleProblem(terms('50000.00', '36.00', 360))).toBe(
      '360 monthly instalments cannot amortise 50000.00 at 36.00 % APR: the instalments before the last would repay 54264.38, leaving -4264.38 for the last',
    );
  });

  test('refuses a last instalment further from E than the larger of n minor units and E / 100', () => {
    // 50000.00 at 12.00 % over 360: E = 514.31, the last 501.57; 12.74 apart, the bound is 5.1431.
    expect(scheduleProblem(terms('50000.00', '12.00', 360))).toBe(
      '360 monthly instalments cannot amortise 50000.00 at 12.00 % APR: the last instalment would be 501.57 against 514.31 for the others, further apart than 360 minor units or 1 % of the instalment',
    );
    // 50000.00 at 8.00 %: E = 366.88, the last 369.92; 3.04 apart, within 3.6688.
    expect(scheduleProblem(terms('50000.00', '8.00', 360))).toBeNull();
  });

  test('refuses an instalment that would repay no principal', () => {
    expect(scheduleProblem(terms('0.01', '0.00', 2))).toBe(
      '2 monthly instalments cannot amortise 0.01 at 0.00 % APR: instalment 1 would repay a principal of 0.00, its interest of 0.00 taking the whole instalment of 0.00',
    );
    expect(scheduleProblem(terms('3', '0.00', 4, 0))).toContain('leaving 0.00 for the last');
  });

  test('agrees with the reference on random terms', () => {
    fc.assert(
      fc.property(loanTerms(), ({ amountMinor, aprHundredths, termMonths, minorUnits }) => {
        const loan = terms(
          decimalText(amountMinor, minorUnits),
          decimalText(aprHundredths, 2),
          termMonths,
          minorUnits,
        );
        expect(scheduleProblem(loan) === null).toBe(
          reference(amountMinor, aprHundredths, termMonths).amortises,
        );
      }),
      { numRuns: 300 },
    );
  });
});

function loanTerms(range: { terms?: [number, number]; aprHundredths?: [number, number] } = {}) {
  const [minTerm, maxTerm] = range.terms ?? [1, 360];
  const [minApr, maxApr] = range.aprHundredths ?? [0, 10_000];
  return fc.constantFrom<MinorUnits>(2, 0).chain((minorUnits) =>
    fc.record({
      minorUnits: fc.constant(minorUnits),
      // 0.01 to 50000.00, or 1 to 50000 for a currency with no minor unit.
      amountMinor: fc.bigInt({ min: 1n, max: minorUnits === 2 ? 5_000_000n : 50_000n }),
      aprHundredths: fc.oneof(fc.constant(0n), fc.bigInt({ min: BigInt(minApr), max: BigInt(maxApr) })),
      termMonths: fc.integer({ min: minTerm, max: maxTerm }),
    }),
  );
}

type RandomTerms = { amountMinor: bigint; aprHundredths: bigint; termMonths: number; minorUnits: MinorUnits };

const asTerms = ({ amountMinor, aprHundredths, termMonths, minorUnits }: RandomTerms): LoanTerms =>
  terms(decimalText(amountMinor, minorUnits), decimalText(aprHundredths, 2), termMonths, minorUnits);

const acceptedTerms = (range?: Parameters<typeof loanTerms>[0]) =>
  loanTerms(range).filter((random) => scheduleProblem(asTerms(random)) === null);

describe('buildSchedule: properties', () => {
  test('equals the exact rational reference, line by line, accepted or not', () => {
    fc.assert(
      fc.property(loanTerms(), (random) => {
        const built = buildSchedule({ ...asTerms(random), firstPeriodStart: '2026-03-31' });
        const expected = reference(random.amountMinor, random.aprHundredths, random.termMonths);
        expect(minor(built.instalmentAmount, random.minorUnits)).toBe(expected.e);
        expect(
          built.instalments.map((i) => [
            minor(i.principal, random.minorUnits),
            minor(i.interest, random.minorUnits),
          ]),
        ).toEqual(expected.lines.map((line) => [line.principal, line.interest]));
      }),
      { numRuns: 300 },
    );
  });

  test('E on an exact half cent, at one month and two, equals the exact reference', () => {
    // amount · apr = 60000 · odd is an interest of exactly half a cent: one-month ties at any rate dividing 60000.
    const oneMonthTie = fc
      .constantFrom(1n, 2n, 3n, 5n, 8n, 12n, 16n, 25n, 75n, 2000n, 6000n)
      .chain((apr) =>
        fc
          .bigInt({ min: 0n, max: ((5_000_000n * apr) / 60_000n - 1n) / 2n })
          .map((m) => ({ amount: (60_000n * (2n * m + 1n)) / apr, apr, n: 1 })),
      );
    // Two-month ties, found by a search in exact rationals: (amount in hundredths, apr in hundredths).
    const twoMonthTie = fc
      .constantFrom<[bigint, bigint]>([4_001_000n, 60n], [2_560_800n, 75n], [922_080n, 125n], [57_720n, 500n])
      .map(([amount, apr]) => ({ amount, apr, n: 2 }));
    fc.assert(
      fc.property(fc.oneof(oneMonthTie, twoMonthTie), ({ amount, apr, n }) => {
        const built = buildSchedule({
          ...terms(decimalText(amount, 2), decimalText(apr, 2), n),
          firstPeriodStart: '2026-01-31',
        });
        expect(minor(built.instalmentAmount, 2)).toBe(reference(amount, apr, n).e);
        if (n === 1) expect(built.instalmentAmount).toBe(built.instalments[0]?.total as string);
      }),
      { numRuns: 300 },
    );
  });

  const amortisationHolds = (random: RandomTerms) => {
    const { minorUnits } = random;
    const built = buildSchedule({ ...asTerms(random), firstPeriodStart: '2026-01-31' });
    const e = minor(built.instalmentAmount, minorUnits);
    expect(built.instalments).toHaveLength(random.termMonths);
    let balance = random.amountMinor;
    for (const [index, instalment] of built.instalments.entries()) {
      const principal = minor(instalment.principal, minorUnits);
      const interest = minor(instalment.interest, minorUnits);
      expect(interest).toBeGreaterThanOrEqual(0n);
      expect(principal).toBeGreaterThan(0n);
      expect(minor(instalment.total, minorUnits)).toBe(principal + interest);
      if (index < built.instalments.length - 1) expect(principal + interest).toBe(e);
      balance -= principal;
      expect(balance).toBeGreaterThanOrEqual(0n);
    }
    expect(balance).toBe(0n);
  };

  test('for accepted terms: principal adds up to the amount, equal instalments, a balance that never goes negative', () => {
    fc.assert(fc.property(acceptedTerms(), amortisationHolds), { numRuns: 300 });
  });

  test('the same for long loans at ordinary rates (240 to 360 months, 0 to 12 %)', () => {
    fc.assert(
      fc.property(acceptedTerms({ terms: [240, 360], aprHundredths: [0, 1200] }), amortisationHolds),
      {
        numRuns: 100,
      },
    );
  });
});

describe('allocate', () => {
  const contractLoan = () => unpaid(schedule('12000.50', '24.00', 6).instalments);

  test('pays the oldest instalment first, its interest before its principal', () => {
    expect(allocate(contractLoan(), '100.00')).toEqual({
      parts: [{ number: 1, interest: '100.00', principal: '0.00' }],
      outstanding: '12754.39',
    });
    expect(allocate(contractLoan(), '2142.40')).toEqual({
      parts: [{ number: 1, interest: '240.01', principal: '1902.39' }],
      outstanding: '10711.99',
    });
  });

  test('goes on to the next instalment, paying its scheduled interest first', () => {
    expect(allocate(contractLoan(), '3000.00')).toEqual({
      parts: [
        { number: 1, interest: '240.01', principal: '1902.39' },
        { number: 2, interest: '201.96', principal: '655.64' },
      ],
      outstanding: '9854.39',
    });
  });

  test('continues from what earlier repayments paid', () => {
    const afterFirst = applyAllocation(contractLoan(), [
      { number: 1, interest: '240.01', principal: '1000.00' },
    ]);
    expect(allocate(afterFirst, '1000.00')).toEqual({
      parts: [
        { number: 1, interest: '0.00', principal: '902.39' },
        { number: 2, interest: '97.61', principal: '0.00' },
      ],
      outstanding: '10614.38',
    });
  });

  test('takes the whole outstanding total and refuses a cent more, or nothing', () => {
    const full = allocate(contractLoan(), '12854.39');
    expect(full).toMatchObject({ outstanding: '0.00' });
    expect('parts' in full && full.parts).toHaveLength(6);
    expect(allocate(contractLoan(), '12854.40')).toEqual({
      refusal: 'the amount 12854.40 is more than the 12854.39 outstanding',
    });
    expect(allocate(contractLoan(), '0.00')).toEqual({ refusal: 'the amount must be greater than 0' });
    expect(allocate(contractLoan(), '0')).toEqual({ refusal: 'the amount must be greater than 0' });
  });

  test('takes instalments in number order whatever order they arrive in', () => {
    expect(allocate(contractLoan().reverse(), '300.00')).toEqual(allocate(contractLoan(), '300.00'));
  });

  test('random repayment sequences: exact sums, oldest first, repaid exactly when nothing is outstanding', () => {
    const scenario = fc.record({
      loan: acceptedTerms({ terms: [1, 60] }),
      // Each repayment is this many thousandths of what is outstanding (at least one minor unit).
      // (1000, the whole of it, one time in six).
      shares: fc.array(
        fc.oneof(
          { arbitrary: fc.integer({ min: 1, max: 999 }), weight: 5 },
          { arbitrary: fc.constant(1000), weight: 1 },
        ),
        { minLength: 1, maxLength: 30 },
      ),
    });
    fc.assert(
      fc.property(scenario, ({ loan, shares }) => {
        const { minorUnits } = loan;
        let instalments = unpaid(
          buildSchedule({ ...asTerms(loan), firstPeriodStart: '2026-01-31' }).instalments,
        );
        let outstanding = minor(scheduleView(instalments, '2026-01-31').totals.outstanding, minorUnits);
        let paidSoFar = 0n;
        for (const share of shares) {
          if (outstanding === 0n) break;
          const portion = (outstanding * BigInt(share)) / 1000n;
          const amount = portion > 0n ? portion : 1n;
          expect(allocate(instalments, decimalText(outstanding + 1n, minorUnits))).toHaveProperty('refusal');

          const result = allocate(instalments, decimalText(amount, minorUnits));
          if (!('parts' in result)) throw new Error(result.refusal);
          const allocated = result.parts.reduce(
            (total, part) => total + minor(part.interest, minorUnits) + minor(part.principal, minorUnits),
            0n,
          );
          expect(allocated).toBe(amount);
          expect(minor(result.outstanding, minorUnits)).toBe(outstanding - amount);

          instalments = applyAllocation(instalments, result.parts);
          paidSoFar += amount;
          outstanding -= amount;
          const view = scheduleView(instalments, '2026-01-31');
          expect(minor(view.totals.outstanding, minorUnits)).toBe(outstanding);
          expect(minor(view.totals.paid, minorUnits)).toBe(paidSoFar);
          expectPaidOldestFirst(instalments, minorUnits);
          const repaid = view.instalments.every((i) => i.status === 'paid');
          expect(repaid).toBe(outstanding === 0n);
          expect(view.next_due_on === null).toBe(outstanding === 0n);
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** Every instalment before the first not fully paid is paid; none after it is touched; interest before principal. */
function expectPaidOldestFirst(instalments: readonly InstalmentRecord[], minorUnits: MinorUnits) {
  const owed = instalments.map((i) => ({
    interest: minor(i.interest, minorUnits) - minor(i.paidInterest, minorUnits),
    principal: minor(i.principal, minorUnits) - minor(i.paidPrincipal, minorUnits),
    paid: minor(i.paidInterest, minorUnits) + minor(i.paidPrincipal, minorUnits),
  }));
  for (const each of owed) {
    expect(each.interest).toBeGreaterThanOrEqual(0n);
    expect(each.principal).toBeGreaterThanOrEqual(0n);
  }
  const current = owed.findIndex((each) => each.interest + each.principal > 0n);
  if (current === -1) return;
  const partly = owed[current] as (typeof owed)[number];
  if (minor(instalments[current]?.paidPrincipal ?? '0.00', minorUnits) > 0n) expect(partly.interest).toBe(0n);
  for (const later of owed.slice(current + 1)) expect(later.paid).toBe(0n);
}

describe('scheduleView', () => {
  const loan = () => unpaid(schedule('12000.50', '24.00', 6).instalments);
  // Due on 2026-02-15, 03-15, 04-15, 05-15, 06-15 and 07-15.

  test('a loan with nothing paid, before its first due date', () => {
    const view = scheduleView(loan(), '2026-01-20');
    expect(view.instalments[0]).toEqual({
      number: 1,
      due_on: '2026-02-15',
      principal: '1902.39',
      interest: '240.01',
      total: '2142.40',
      paid: '0.00',
      outstanding: '2142.40',
      status: 'upcoming',
    });
    expect(view.instalments.map((i) => i.status)).toEqual(Array(6).fill('upcoming'));
    expect(view.totals).toEqual({
      principal: '12000.50',
      interest: '853.89',
      total: '12854.39',
      paid: '0.00',
      outstanding: '12854.39',
    });
    expect(view.next_due_on).toBe('2026-02-15');
    expect(view.days_past_due).toBe(0);
  });

  test('an instalment due today is upcoming, not overdue', () => {
    const view = scheduleView(loan(), '2026-02-15');
    expect(view.instalments[0]?.status).toBe('upcoming');
    expect(view.days_past_due).toBe(0);
  });

  test('paid, overdue and upcoming; days past due counted from the oldest unpaid instalment', () => {
    const paidOne = applyAllocation(loan(), [
      { number: 1, interest: '240.01', principal: '1902.39' },
      { number: 2, interest: '201.96', principal: '100.00' },
    ]);
    const view = scheduleView(paidOne, '2026-04-20');
    expect(view.instalments.map((i) => i.status)).toEqual([
      'paid',
      'overdue',
      'overdue',
      'upcoming',
      'upcoming',
      'upcoming',
    ]);
    expect(view.instalments[1]).toMatchObject({ paid: '301.96', outstanding: '1840.44' });
    expect(view.next_due_on).toBe('2026-03-15');
    expect(view.days_past_due).toBe(36);
    expect(view.totals).toMatchObject({ paid: '2444.36', outstanding: '10410.03' });
  });

  test('a fully repaid loan has nothing due', () => {
    const all = allocate(loan(), '12854.39');
    if (!('parts' in all)) throw new Error(all.refusal);
    const view = scheduleView(applyAllocation(loan(), all.parts), '2027-01-01');
    expect(view.instalments.every((i) => i.status === 'paid' && i.outstanding === '0.00')).toBe(true);
    expect(view.totals.outstanding).toBe('0.00');
    expect(view.next_due_on).toBeNull();
    expect(view.days_past_due).toBe(0);
  });

  test('a zero-decimal currency still shows two places', () => {
    const view = scheduleView(unpaid(schedule('8400.00', '24.00', 12, 0).instalments), '2026-01-15');
    expect(view.totals).toEqual({
      principal: '8400.00',
      interest: '1133.00',
      total: '9533.00',
      paid: '0.00',
      outstanding: '9533.00',
    });
  });
});

describe('writeOffAmount', () => {
  test('is the principal still owed plus the unpaid interest of instalments due by today', () => {
    const loan = applyAllocation(unpaid(schedule('12000.50', '24.00', 6).instalments), [
      { number: 1, interest: '240.01', principal: '1902.39' },
      { number: 2, interest: '100.00', principal: '0.00' },
    ]);
    // Principal owed 10098.11; interest due by 2026-03-15 and unpaid: 101.96 of instalment 2.
    expect(writeOffAmount(loan, '2026-03-15')).toBe('10200.07');
    expect(writeOffAmount(loan, '2026-03-14')).toBe('10098.11');
  });
});

describe('calendar dates', () => {
  test('addMonths keeps the day, or clamps it to the end of a shorter month', () => {
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2028-01-31', 1)).toBe('2028-02-29');
    expect(addMonths('2024-02-29', 12)).toBe('2025-02-28');
    expect(addMonths('2026-12-15', 1)).toBe('2027-01-15');
    expect(addMonths('2026-05-31', 360)).toBe('2056-05-31');
    expect(addMonths('2100-01-29', 1)).toBe('2100-02-28');
    expect(addMonths('2000-01-29', 1)).toBe('2000-02-29');
  });

  test('isCalendarDate accepts real dates in YYYY-MM-DD only', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    for (const text of [
      '2026-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-04-31',
      '2026-1-01',
      '26-01-01',
      '2026-01-01T00:00',
    ]) {
      expect(isCalendarDate(text)).toBe(false);
    }
  });

  const dates = fc
    .record({
      year: fc.integer({ min: 1900, max: 2200 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 31 }),
    })
    .filter(({ year, month, day }) => new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day);
  const text = ({ year, month, day }: { year: number; month: number; day: number }) =>
    `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  const utcDay = ({ year, month, day }: { year: number; month: number; day: number }) =>
    Date.UTC(year, month - 1, day) / 86_400_000;

  test('daysBetween agrees with Date.UTC over three centuries', () => {
    fc.assert(
      fc.property(dates, dates, (from, to) => {
        expect(daysBetween(text(from), text(to))).toBe(utcDay(to) - utcDay(from));
      }),
      { numRuns: 1000 },
    );
  });

  test('addMonths agrees with Date.UTC month arithmetic, clamped', () => {
    fc.assert(
      fc.property(dates, fc.integer({ min: 0, max: 400 }), (from, months) => {
        const lastDay = new Date(Date.UTC(from.year, from.month - 1 + months + 1, 0));
        const expected = new Date(
          Date.UTC(lastDay.getUTCFullYear(), lastDay.getUTCMonth(), Math.min(from.day, lastDay.getUTCDate())),
        );
        expect(addMonths(text(from), months)).toBe(expected.toISOString().slice(0, 10));
      }),
      { numRuns: 1000 },
    );
  });
});
