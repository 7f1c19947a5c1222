import { Elysia } from 'elysia';
import type { Logger } from '../logger';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

const startedAt = new WeakMap<Request, number>();

/** The request id a response and its log lines carry; set before anything else runs, errors included. */
export const requestIdOf = (headers: Record<string, unknown>): string => String(headers[REQUEST_ID_HEADER]);

/**
 * Gives every request an id (the client's, when it is sane), a child logger that stamps it on every line,
 * and one access-log line when the response is sent.
 */
export const requestContext = (logger: Logger) =>
  new Elysia({ name: 'request-context' })
    .onRequest(({ request, set }) => {
      startedAt.set(request, performance.now());
      const offered = request.headers.get(REQUEST_ID_HEADER);
      set.headers[REQUEST_ID_HEADER] =
        offered && SANE_REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
    })
    .derive({ as: 'global' }, ({ set }) => ({ log: logger.child({ request_id: requestIdOf(set.headers) }) }))
    .onAfterResponse({ as: 'global' }, ({ request, route, path, set }) => {
      const started = startedAt.get(request);
      logger.info(
        {
          request_id: requestIdOf(set.headers),
          method: request.method,
          route: route || path,
          status: set.status,
          duration_ms:
            started === undefined ? undefined : Math.round((performance.now() - started) * 100) / 100,
        },
        'request',
      );
    });
