import { Problem } from '../../http/problem';
import { isIsoDateTime } from '../../http/text-rules';

/** Where a page ends: the (created_at, id) of its last loan, the keyset the next page continues after. */
export interface PagePosition {
  createdAt: string;
  id: string;
}

// Exactly what encodeCursor writes: the time as the API shows it (milliseconds, UTC) and a lower-case UUID.
const POSITION =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const encodeCursor = ({ createdAt, id }: PagePosition): string =>
  Buffer.from(`${createdAt}|${id}`).toString('base64url');

/**
 * The position a cursor of ours carries. Anything else is a 400: a cursor that is not the canonical encoding of
 * its text (Buffer skips stray characters), or one whose time is not a real instant (month 13, 30 February),
 * which Postgres would refuse.
 */
export function decodeCursor(cursor: string): PagePosition {
  const match = POSITION.exec(Buffer.from(cursor, 'base64url').toString());
  const createdAt = match?.[1];
  const id = match?.[2];
  if (!createdAt || !id || !isIsoDateTime(createdAt) || encodeCursor({ createdAt, id }) !== cursor) {
    throw new Problem(
      400,
      'The cursor is not one this API issued; copy it from the Link header of the previous page.',
      { errors: [{ path: '/cursor', message: 'cursor is not valid' }] },
    );
  }
  return { createdAt, id };
}
