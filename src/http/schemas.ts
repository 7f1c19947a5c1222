import { t } from 'elysia';

/** Schemas that several modules' models share: identifiers, times and the borrower id rule. */

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const Uuid = t.String({
  pattern: UUID_PATTERN,
  error: 'id must be a UUID',
  examples: ['00000000-0000-0000-0000-000000000001'],
});

export const IsoTime = t.String({ format: 'date-time', examples: ['2026-11-26T07:09:37.969Z'] });

export const IsoDate = t.String({ format: 'date', examples: ['2026-12-01'] });

export const BorrowerId = t.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$',
  error: 'borrower_id must be 1 to 128 characters with no control characters',
  examples: ['usr_india_999'],
});
