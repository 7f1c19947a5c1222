import { FormatRegistry } from '@sinclair/typebox';
import { MAX_INTEREST_RATE_APR, MAX_LOAN_AMOUNT } from '../../db/schema';

const DECIMAL = /^(\d{1,10})(?:\.(\d{1,2}))?$/;

/** Hundredths of a decimal string with at most two places ("250.5" is 25050n), or null for anything else. */
export function toHundredths(text: string): bigint | null {
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const [, whole = '', fraction = ''] = match;
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

/** A JSON number that reached us as a safe integer, or the exact text the client wrote. */
export const decimalText = (value: number | string): string =>
  typeof value === 'number' ? String(value) : value;

export const AMOUNT_FORMAT = 'loan-amount';
export const PAYMENT_FORMAT = 'payment-amount';
export const RATE_FORMAT = 'interest-rate';

/** The most a money column (numeric(12, 2)) holds; a repayment is bounded by what is outstanding, not by this. */
export const MAX_MONEY = '9999999999.99';

const MAX_AMOUNT_HUNDREDTHS = toHundredths(MAX_LOAN_AMOUNT) as bigint;
const MAX_RATE_HUNDREDTHS = BigInt(MAX_INTEREST_RATE_APR) * 100n;

FormatRegistry.Set(AMOUNT_FORMAT, (text) => {
  const hundredths = toHundredths(text);
  return hundredths !== null && hundredths > 0n && hundredths <= MAX_AMOUNT_HUNDREDTHS;
});
FormatRegistry.Set(PAYMENT_FORMAT, (text) => {
  const hundredths = toHundredths(text);
  return hundredths !== null && hundredths > 0n;
});
FormatRegistry.Set(RATE_FORMAT, (text) => {
  const hundredths = toHundredths(text);
  return hundredths !== null && hundredths <= MAX_RATE_HUNDREDTHS;
});
