import { Problem } from '../../http/problem';

/** Where a page ends: the (created_at, id) of its last loan, the keyset the next page continues after. */
export interface PagePosition {
  createdAt: string;
  id: string;
}

const POSITION =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const encodeCursor = ({ createdAt, id }: PagePosition): string =>
  Buffer.from(`${createdAt}|${id}`).toString('base64url');

export function decodeCursor(cursor: string): PagePosition {
  const match = POSITION.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1] || !match[2]) {
    throw new Problem(
      400,
      'The cursor is not one this API issued; copy it from the Link header of the previous page.',
      { errors: [{ path: '/cursor', message: 'cursor is not valid' }] },
    );
  }
  return { createdAt: match[1], id: match[2] };
}
