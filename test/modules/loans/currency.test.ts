import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { data as currencyCodes, publishDate } from 'currency-codes';
import {
  currencyRule,
  fitsMinorUnits,
  ISO_4217_PUBLISHED,
  SUPPORTED_CURRENCY_CODES,
} from '../../../src/modules/loans/currency';

// The expectations come from the package's two sources read another way than the module reads them: its
// `data.js` for the codes and their digits, and ISO's XML, scanned as text, for what `data.js` loses (the fund
// flag, and "N.A." minor units, which `data.js` reports as 0).
const listOne = readFileSync(
  createRequire(import.meta.url).resolve('currency-codes/iso-4217-list-one.xml'),
  'utf8',
);
const codesWhere = (pattern: RegExp) =>
  new Set([...listOne.matchAll(pattern)].map((match) => match[1] as string));
const fundCodes = codesWhere(/<CcyNm IsFund="true">[^<]*<\/CcyNm>\s*<Ccy>([A-Z]{3})<\/Ccy>/g);
const noMinorUnitCodes = codesWhere(
  /<Ccy>([A-Z]{3})<\/Ccy>\s*<CcyNbr>\d+<\/CcyNbr>\s*<CcyMnrUnts>N\.A\.<\/CcyMnrUnts>/g,
);
const ordinary = currencyCodes.filter(({ code }) => !fundCodes.has(code) && !noMinorUnitCodes.has(code));

const refusalOf = (code: string) => {
  const rule = currencyRule(code);
  return 'refusal' in rule ? rule.refusal : null;
};

describe('currencyRule, generated from the ISO 4217 list the package ships', () => {
  test('the list is the one the package publishes, with the codes a lender expects in it', () => {
    expect(ISO_4217_PUBLISHED).toBe(publishDate);
    expect(currencyCodes.length).toBeGreaterThan(150);
    // Sanity of the text scan itself, so that an empty match cannot pass the tests below vacuously.
    expect(fundCodes).toContain('CLF');
    expect(noMinorUnitCodes).toContain('XAU');
  });

  for (const { code, digits } of ordinary.filter(({ digits }) => digits === 2 || digits === 0)) {
    test(`accepts ${code} with ${digits} minor units`, () => {
      expect(currencyRule(code)).toEqual({ code, minorUnits: digits as 0 | 2 });
    });
  }

  for (const { code, digits } of ordinary.filter(({ digits }) => digits !== 2 && digits !== 0)) {
    test(`refuses ${code}: ${digits} minor units are not supported`, () => {
      expect(refusalOf(code)).toBe(
        `${code} has ${digits} minor units in ISO 4217: not supported (only 0 or 2)`,
      );
    });
  }

  for (const code of fundCodes) {
    test(`refuses the fund code ${code}`, () => {
      expect(refusalOf(code)).toBe(`${code} is an ISO 4217 fund code, not a currency to lend in`);
    });
  }

  for (const code of noMinorUnitCodes) {
    test(`refuses ${code}, which has no minor unit of its own`, () => {
      expect(refusalOf(code)).toStartWith(`${code} has no minor unit of its own in ISO 4217`);
    });
  }

  test('lists exactly the accepted codes as supported', () => {
    const accepted = ordinary.filter(({ digits }) => digits === 2 || digits === 0).map(({ code }) => code);
    expect([...SUPPORTED_CURRENCY_CODES]).toEqual(accepted.sort());
  });
});

describe('currencyRule on the currencies the API is used with', () => {
  test.each(['KES', 'INR', 'NGN', 'PHP', 'USD', 'EUR'])('accepts %s with two minor units', (code) => {
    expect(currencyRule(code)).toEqual({ code, minorUnits: 2 });
  });

  test.each(['VND', 'JPY', 'KRW', 'UGX'])('accepts %s with no minor unit', (code) => {
    expect(currencyRule(code)).toEqual({ code, minorUnits: 0 });
  });

  test.each(['BHD', 'KWD', 'JOD', 'OMR', 'TND'])('refuses %s for its three minor units', (code) => {
    expect(refusalOf(code)).toContain('3 minor units in ISO 4217: not supported');
  });

  test.each(['XAU', 'XAG', 'XDR', 'XTS', 'XXX'])(
    'refuses the metal, unit of account or test code %s',
    (code) => {
      expect(refusalOf(code)).toBe(
        `${code} has no minor unit of its own in ISO 4217: metals, units of account and test codes are not lent in`,
      );
    },
  );

  test.each(['BOV', 'USN', 'UYI'])('refuses the fund code %s, whatever its minor units', (code) => {
    expect(refusalOf(code)).toBe(`${code} is an ISO 4217 fund code, not a currency to lend in`);
  });

  test.each(['ABC', 'QQQ', 'HRK', 'SLL'])('refuses %s, which is not an active code', (code) => {
    expect(refusalOf(code)).toBe(`${code} is not an active ISO 4217 currency code`);
  });
});

describe('fitsMinorUnits', () => {
  test.each([
    ['8400', 0, true],
    ['8400.00', 0, true],
    ['8400.0', 0, true],
    ['8400.50', 0, false],
    ['8400.05', 0, false],
    ['12000.50', 2, true],
    ['12000.5', 2, true],
    ['0.01', 2, true],
    ['10.005', 2, false],
    ['10.0050', 2, false],
    ['10.0000', 2, true],
    ['1e3', 0, false],
    ['', 0, false],
    ['12.', 2, false],
  ] as const)('%p in %d minor units: %p', (amount, minorUnits, fits) => {
    expect(fitsMinorUnits(amount, minorUnits)).toBe(fits);
  });

  test('holds beyond the precision of a binary float', () => {
    expect(fitsMinorUnits('12345678901234567.000000000000000001', 2)).toBe(false);
    expect(fitsMinorUnits('12345678901234567.10', 2)).toBe(true);
  });
});
