import type { SchemaOptions } from '@sinclair/typebox';
import { t } from 'elysia';
import { identifierText } from './text-rules';

/** Schemas that several modules' models share: identifiers, times and the borrower id rule. */

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const Uuid = t.String({
  pattern: UUID_PATTERN,
  error: 'id must be a UUID',
  examples: ['00000000-0000-0000-0000-000000000001'],
});

export const IsoTime = t.String({ format: 'date-time', examples: ['2026-11-26T07:09:37.969Z'] });

export const IsoDate = t.String({ format: 'date', examples: ['2026-12-01'] });

/** Money as every response shows it: a decimal string with two places, in every currency. */
export const MONEY_PATTERN = '^\\d+\\.\\d{2}$';
export const Money = (example = '12000.50') => t.String({ pattern: MONEY_PATTERN, examples: [example] });

// Stricter than the loans_borrower_id_text CHECK under every locale (its [[:cntrl:]] is Cc in C and en_US.utf8),
// and no longer than varchar(128), which counts code points: a value accepted here never fails in the database.
export const BorrowerId = identifierText({
  maxLength: 128,
  error:
    'borrower_id must be 1 to 128 characters with no control, format (zero-width, bidirectional) or separator characters',
  examples: ['usr_india_999'],
});

/**
 * One of a list of strings: Elysia's `t.UnionEnum` without the `default` it sets to the first value, which Elysia
 * then applies to a query (an absent `?status=` filtered by `pending`) and documents on every response.
 */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  options: SchemaOptions = {},
) {
  const { default: _first, ...schema } = t.UnionEnum(values, options);
  return schema as ReturnType<typeof t.UnionEnum<T>>;
}
