import { FormatRegistry, Type } from '@sinclair/typebox';

// Control (Cc), format (Cf: bidirectional overrides, zero-width characters, the BOM) and line or paragraph
// separators (Zl, Zp): invisible, or able to make one value look like another in a back office.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Length in code points, as Postgres counts varchar(n) in a UTF-8 database: an emoji is one. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/**
 * True when `text` and its NFC form are each 1 to `maxLength` code points, with nothing invisible in them. Both:
 * NFC can lengthen a text (U+0958 becomes two code points) or shorten it, and either form may be what is stored.
 */
export function isIdentifierText(text: string, maxLength: number): boolean {
  if (!text.isWellFormed() || INVISIBLE.test(text)) return false;
  const lengths = [codePointLength(text), codePointLength(text.normalize('NFC'))];
  return lengths.every((length) => length >= 1 && length <= maxLength);
}

/**
 * A string that names someone or something (a borrower id): checked on its NFC form (which may be longer than
 * what was sent), and handed on in that form, so two values that look the same are the same.
 */
export function identifierText(options: { maxLength: number; error: string; examples: string[] }) {
  const format = `identifier-text-${options.maxLength}`;
  if (!FormatRegistry.Has(format)) {
    FormatRegistry.Set(format, (text) => isIdentifierText(text, options.maxLength));
  }
  return Type.Transform(
    Type.String({
      format,
      error: options.error,
      examples: options.examples,
      description:
        `1 to ${options.maxLength} characters (Unicode code points, after NFC normalisation, which is what is ` +
        'stored), with no control, format (zero-width, bidirectional) or line and paragraph separator characters',
    }),
  )
    .Decode((text) => text.normalize('NFC'))
    .Encode((text) => text);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

/** A day of the calendar that Postgres stores: years 1 to 9999 (it has no year 0), each month's real days. */
function isCalendarDay(year: number, month: number, day: number): boolean {
  const days = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  return year >= 1 && days !== undefined && day >= 1 && day <= days;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 full-date (2026-12-01) of a real day. */
export function isIsoDate(text: string): boolean {
  const match = DATE.exec(text);
  return match !== null && isCalendarDay(Number(match[1]), Number(match[2]), Number(match[3]));
}

/**
 * An RFC 3339 date-time (2026-12-01T07:09:37.969Z, or with an offset) of a real day and time, offsets up to
 * ±15:59 (Postgres' limit), whose instant falls in the years 1 to 9999 UTC, which every response can show in
 * four digits. No leap second: a JS Date cannot hold one.
 */
export function isIsoDateTime(text: string): boolean {
  const match = DATE_TIME.exec(text);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = Number(match[6]);
  if (!isCalendarDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return false;
  // In UTC (every timestamp the API writes) a real day of the years 1 to 9999 is the instant itself.
  if (match[7] === undefined) return true;
  const offsetHours = Number(match[8]);
  const offsetMinutes = Number(match[9]);
  if (offsetHours > 15 || offsetMinutes > 59) return false;
  const offset = (match[7] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  // setUTC* rather than Date.UTC, which reads the years 0 to 99 as 1900 to 1999.
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  instant.setUTCHours(hour, minute - offset, second);
  return instant.getUTCFullYear() >= 1 && instant.getUTCFullYear() <= 9999;
}

// Elysia's own `date` and `date-time` take 2026-02-30, year 0000, 01/02/2026 and offsets Postgres refuses (a
// 500 where a 400 or 422 belongs). Set unconditionally: whichever of Elysia and this module loads first, these win.
FormatRegistry.Set('date', isIsoDate);
FormatRegistry.Set('date-time', isIsoDateTime);
