import { Elysia, ElysiaCustomStatusResponse } from 'elysia';
import { accessLogger, type Logger } from '../logger';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** What the access log and the metrics see of each request once its response is sent. */
export interface CompletedRequest {
  requestId: string;
  method: string;
  /** The route template (`/api/loans/:id`), never the raw path; `unmatched` when no route took it. */
  route: string;
  status: number;
  durationSeconds: number;
}

const startedAt = new WeakMap<Request, number>();

/** The request id a response and its log lines carry; set before anything else runs, errors included. */
export const requestIdOf = (headers: Record<string, unknown>): string => String(headers[REQUEST_ID_HEADER]);

/**
 * Gives every request an id (the client's, when it is sane), which every log line about it carries; as the
 * response goes out, writes one access-log line and tells `onCompleted`.
 */
export function requestContext(
  logger: Logger,
  {
    onCompleted,
    actorOf,
  }: {
    onCompleted?: (request: CompletedRequest) => void;
    /** Who the request acted as (an API key's id, `jwt:<sub>`), once authenticated; never the credential. */
    actorOf?: (request: Request) => string | undefined;
  } = {},
) {
  const writeAccessLine = accessLogger(logger);
  return (
    new Elysia({ name: 'request-context' })
      .onRequest(({ request, set }) => {
        startedAt.set(request, performance.now());
        const offered = request.headers.get(REQUEST_ID_HEADER);
        set.headers[REQUEST_ID_HEADER] =
          offered && SANE_REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
      })
      // mapResponse runs once for every response (handler, error or no route) just before it is sent, and
      // synchronously: cheaper than onAfterResponse, which Elysia schedules on a later tick.
      .mapResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
        const completed: CompletedRequest = {
          requestId: requestIdOf(set.headers),
          method: request.method,
          route: route || 'unmatched',
          status:
            responseValue instanceof ElysiaCustomStatusResponse
              ? responseValue.code
              : typeof set.status === 'number'
                ? set.status
                : 200,
          durationSeconds: (performance.now() - (startedAt.get(request) ?? performance.now())) / 1000,
        };
        writeAccessLine({
          request_id: completed.requestId,
          method: completed.method,
          route: completed.route,
          status: completed.status,
          duration_ms: Math.round(completed.durationSeconds * 100_000) / 100,
          actor: actorOf?.(request) ?? null,
        });
        onCompleted?.(completed);
        // Handed back unchanged (Elysia maps whatever this returns, not only a Response): on the no-route path
        // it would send an empty body if this returned nothing. The loans tests' 404 case guards it.
        return responseValue as Response;
      })
  );
}
