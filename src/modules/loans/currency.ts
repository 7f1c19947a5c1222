import type { XML } from 'bun';
// ISO's own list one (current currencies), shipped by currency-codes. Its `data.js` reports "N.A." minor units as
// 0, which would pass gold (XAU) as a zero-decimal currency, and drops the fund flag: the XML keeps both.
import listOne from 'currency-codes/iso-4217-list-one.xml';
import { Decimal } from 'decimal.js';

/** The minor units of the currencies the API lends in: two (KES, INR, …) or none (VND, JPY, …). */
export type MinorUnits = 0 | 2;

export interface CurrencyRule {
  code: string;
  minorUnits: MinorUnits;
}

export interface CurrencyRefusal {
  code: string;
  /** Why the code is refused, worded for the client (`XAU is …`). */
  refusal: string;
}

interface IsoCurrency {
  /** null where ISO publishes "N.A.": metals, units of account, test and no-currency codes. */
  minorUnits: number | null;
  isFund: boolean;
}

const text = (value: XML.Value | XML.Value[] | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

function readListOne(document: XML.Document): { published: string; currencies: Map<string, IsoCurrency> } {
  const root = document.ISO_4217 as XML.Element;
  const entries = (root.CcyTbl as XML.Element).CcyNtry as XML.Element[];
  const currencies = new Map<string, IsoCurrency>();
  for (const entry of entries) {
    const code = text(entry.Ccy);
    // Territories with no universal currency (Antarctica, …) have an entry without a code.
    if (code === undefined) continue;
    const units = text(entry.CcyMnrUnts);
    const name = entry.CcyNm;
    currencies.set(code, {
      minorUnits: units === undefined || units === 'N.A.' ? null : Number(units),
      // ISO marks a fund on its name: <CcyNm IsFund="true">.
      isFund: typeof name === 'object' && !Array.isArray(name) && name['@IsFund'] === 'true',
    });
  }
  return { published: String(root['@Pblshd']), currencies };
}

const iso4217 = readListOne(listOne);

/** The publication date of the ISO 4217 list the rules are derived from (`2024-06-25`). */
export const ISO_4217_PUBLISHED = iso4217.published;

function refusalOf(code: string): string | null {
  const currency = iso4217.currencies.get(code);
  if (!currency) return `${code} is not an active ISO 4217 currency code`;
  if (currency.isFund) return `${code} is an ISO 4217 fund code, not a currency to lend in`;
  if (currency.minorUnits === null) {
    return `${code} has no minor unit of its own in ISO 4217: metals, units of account and test codes are not lent in`;
  }
  if (currency.minorUnits !== 0 && currency.minorUnits !== 2) {
    return `${code} has ${currency.minorUnits} minor units in ISO 4217: not supported (only 0 or 2)`;
  }
  return null;
}

/** Whether the API lends in `code` (already upper-cased), and with how many minor units; otherwise why not. */
export function currencyRule(code: string): CurrencyRule | CurrencyRefusal {
  const refusal = refusalOf(code);
  if (refusal !== null) return { code, refusal };
  return { code, minorUnits: iso4217.currencies.get(code)?.minorUnits as MinorUnits };
}

/** Every code `currencyRule` accepts, sorted: for the OpenAPI document and the README. */
export const SUPPORTED_CURRENCY_CODES: readonly string[] = [...iso4217.currencies.keys()]
  .filter((code) => refusalOf(code) === null)
  .sort();

const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/** Whether a plain decimal string is a whole number of minor units: "8400.00" fits 0 minor units, "8400.50" not. */
export function fitsMinorUnits(amountText: string, minorUnits: MinorUnits): boolean {
  return PLAIN_DECIMAL.test(amountText) && new Decimal(amountText).decimalPlaces() <= minorUnits;
}
