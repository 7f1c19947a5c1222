import { Elysia, status, t } from 'elysia';
import { guards } from '../../auth/plugin';
import { type Idempotency, writeIdempotently } from '../../http/idempotency';
import { problemResponses } from '../../http/problem';
import { documentedBody } from '../../http/validation';
import { type CreatedApiKey, KeyModel } from './model';
import type { KeyService } from './service';

export const keyRoutes = (keys: KeyService, idempotency: Idempotency) =>
  new Elysia({ prefix: '/api/keys', tags: ['API keys'] })
    .use(guards)
    .model(KeyModel)
    .post(
      '',
      async ({ request, path, set, principal, body }) => {
        const outcome = await writeIdempotently(
          idempotency,
          { request, path, set, principal },
          async (tx) => {
            const created = await keys.create(body, tx);
            // A replay must not show the key a second time.
            return { status: 201, body: created, replayBody: { ...created, key: null }, headers: {} };
          },
        );
        return status(201, outcome.body as CreatedApiKey);
      },
      {
        permission: 'keys:manage',
        response: { 201: 'createdApiKey', ...problemResponses(400, 401, 403, 413, 415, 422, 429, 503) },
        detail: {
          summary: 'Create an API key (admin)',
          description:
            'The key is in this response only; the database keeps its SHA-256. `borrower_id` is required for ' +
            'the borrower role and refused for the others.',
          ...documentedBody(KeyModel.createKey),
        },
      },
    )
    .get('', () => keys.list(), {
      permission: 'keys:manage',
      response: { 200: t.Array(KeyModel.apiKey), ...problemResponses(401, 403, 429, 503) },
      detail: {
        summary: 'List API keys (admin)',
        description: 'Revoked keys too; never the keys themselves.',
      },
    })
    .delete(
      '/:id',
      async ({ params }) => {
        await keys.revoke(params.id);
        return status(204, undefined);
      },
      {
        permission: 'keys:manage',
        params: 'keyParams',
        response: { 204: t.Void(), ...problemResponses(400, 401, 403, 404, 429, 503) },
        detail: {
          summary: 'Revoke an API key (admin)',
          description: 'The key gets 401 from then on. 204 also when it was already revoked.',
        },
      },
    );
