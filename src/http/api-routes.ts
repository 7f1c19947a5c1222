const API_PREFIX = '/api/';

/**
 * Whether a route template (or an OpenAPI path) is under /api, where every route needs a credential and is rate
 * limited. Decide by the matched template, never by Elysia's `path`, which a short Host header shifts.
 */
export const isApiRoute = (route: string) => route.startsWith(API_PREFIX);
