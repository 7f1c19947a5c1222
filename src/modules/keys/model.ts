import { t } from 'elysia';
import { roles } from '../../db/schema';
import { BorrowerId, IsoTime, oneOf, Uuid } from '../../http/schemas';

export const KeyModel = {
  apiKey: t.Object(
    {
      id: Uuid,
      name: t.String({ examples: ['back-office'] }),
      role: oneOf(roles),
      borrower_id: t.Nullable(t.String({ examples: ['usr_kenya_001'] })),
      created_at: IsoTime,
      expires_at: t.Nullable(IsoTime),
      revoked_at: t.Nullable(IsoTime),
    },
    { description: 'An API key, without the key itself, which is shown once when it is created' },
  ),

  createdApiKey: t.Object(
    {
      id: Uuid,
      name: t.String({ examples: ['back-office'] }),
      role: oneOf(roles),
      borrower_id: t.Nullable(t.String({ examples: ['usr_kenya_001'] })),
      key: t.Nullable(
        t.String({
          description:
            'The key: shown in this response only (null when it is replayed through Idempotency-Key)',
          examples: ['blk_3q2Vr8kX…'],
        }),
      ),
      created_at: IsoTime,
      expires_at: t.Nullable(IsoTime),
      revoked_at: t.Nullable(IsoTime),
    },
    { description: 'A new API key, with the key itself: store it now, it is never shown again' },
  ),

  createKey: t.Object(
    {
      name: t.String({
        minLength: 1,
        maxLength: 100,
        pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]+$',
        error: 'name must be 1 to 100 characters with no control characters',
        examples: ['back-office'],
      }),
      role: oneOf(roles, { error: `role must be one of ${roles.join(', ')}` }),
      borrower_id: t.Optional(BorrowerId),
      expires_at: t.Optional(
        t.String({
          format: 'date-time',
          error: 'expires_at must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z',
          examples: ['2027-01-01T00:00:00Z'],
        }),
      ),
    },
    {
      additionalProperties: false,
      examples: [{ name: 'kenya-app', role: 'borrower', borrower_id: 'usr_kenya_001' }],
    },
  ),

  keyParams: t.Object({ id: Uuid }),
};

export type ApiKey = typeof KeyModel.apiKey.static;
export type CreatedApiKey = typeof KeyModel.createdApiKey.static;
