import { Elysia } from 'elysia';

const ALLOWED_METHODS = 'GET, POST, PATCH, DELETE';
const ALLOWED_HEADERS = 'Authorization, Idempotency-Key, If-Match, Content-Type, X-Request-Id';
const EXPOSED_HEADERS = [
  'Location',
  'Link',
  'ETag',
  'X-Request-Id',
  'Idempotent-Replayed',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
].join(', ');
/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for an allow-list of exact origins (`https://office.example`); none: no CORS headers at all. A request
 * from an origin on the list gets Access-Control-Allow-Origin and the exposed headers on every response, errors
 * included; its preflight is answered 204 here, before routing, authentication and the rate limit. Any other
 * origin gets no CORS header (its preflight falls through to the 404 an OPTIONS request gets). Every response
 * varies by Origin, so a cache never hands one origin's answer to another.
 *
 * Not @elysiajs/cors 1.4.2: it adds Allow-Headers and Expose-Headers (and Allow-Credentials, by default) to
 * every response whatever the origin, answers every OPTIONS request 204, a disallowed origin's preflight
 * included, and looks origins up with `in` on a plain object, so `Origin: constructor` is allowed.
 */
export function cors(allowedOrigins: string[]) {
  const plugin = new Elysia({ name: 'cors' });
  if (allowedOrigins.length === 0) return plugin;
  const allowed = new Set(allowedOrigins);
  return plugin.onRequest(({ request, set }) => {
    set.headers.vary = 'Origin';
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return;
    set.headers['access-control-allow-origin'] = origin;
    if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
      set.headers['access-control-allow-methods'] = ALLOWED_METHODS;
      set.headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      set.headers['access-control-max-age'] = String(PREFLIGHT_MAX_AGE_SECONDS);
      return new Response(null, { status: 204 });
    }
    set.headers['access-control-expose-headers'] = EXPOSED_HEADERS;
  });
}
