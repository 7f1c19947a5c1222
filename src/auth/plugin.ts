import { type DocumentDecoration, Elysia } from 'elysia';
import { isApiRoute } from '../http/api-routes';
import { Problem } from '../http/problem';
import type { Authenticator } from './authenticator';
import { may, type Permission, type Principal } from './permissions';

const principals = new WeakMap<Request, Principal>();
const guarded = new WeakSet<Request>();

/**
 * Authenticates a request once, however many hooks ask, and remembers the principal for the guards.
 * `afterAuthentication` runs next either way (the rate limit: per credential, per address when there is none).
 */
type ResponseHeaders = { headers: Record<string, unknown> };

export function createGate(
  authenticator: Authenticator,
  afterAuthentication?: (request: Request, set: ResponseHeaders, actor: string | undefined) => Promise<void>,
) {
  const passed = new WeakMap<Request, Promise<Principal>>();
  const run = async (request: Request, set: ResponseHeaders) => {
    let principal: Principal | undefined;
    try {
      principal = await authenticator.authenticate(request.headers.get('authorization'));
      principals.set(request, principal);
      return principal;
    } finally {
      await afterAuthentication?.(request, set, principal?.actor);
    }
  };
  return (request: Request, set: ResponseHeaders): Promise<Principal> => {
    let result = passed.get(request);
    if (!result) {
      result = run(request, set);
      passed.set(request, result);
    }
    return result;
  };
}

export type Gate = ReturnType<typeof createGate>;

/** Throws the 403 a principal without the permission gets. */
export function authorize(principal: Principal, permission: Permission): void {
  if (!may(principal, permission)) {
    throw new Problem(403, `The ${principal.role} role may not do this (it needs ${permission}).`);
  }
}

/**
 * Authentication for every /api route: the credential is checked once the route is known and before the body
 * is read (so 404, then 401, then 413/415/400), and a route that declares no guard is refused: deny unless a
 * permission is granted.
 */
export const authentication = (gate: Gate) =>
  new Elysia({ name: 'authentication' })
    // A parser that reads nothing: it runs before the JSON parser, so a bad body cannot hide a bad credential.
    // Decided by the matched route's template, never by the path Elysia cuts out of request.url (which a short
    // or odd Host header can shift).
    .onParse({ as: 'global' }, async ({ request, route, set }) => {
      if (isApiRoute(route)) await gate(request, set);
    })
    .onTransform({ as: 'global' }, async ({ request, route, set }) => {
      if (isApiRoute(route)) await gate(request, set);
    })
    .onBeforeHandle({ as: 'global' }, ({ request, route }) => {
      if (isApiRoute(route) && !guarded.has(request)) {
        throw new Problem(403, 'This route declares no permission, so no one may call it.');
      }
    });

// The OpenAPI operation says which permission it needs; `x-` extensions are valid OpenAPI but not in Elysia's type.
const documented = (permission: Permission) =>
  ({ security: [{ bearer: [] }], 'x-permission': permission }) as DocumentDecoration;

/** Who an authenticated request acts as; undefined before authentication or when it failed. */
export const principalOf = (request: Request): Principal | undefined => principals.get(request);

/**
 * The guards a route declares:
 * - `permission: 'stats:read'`: checked before the body is validated;
 * - `loanPermission: 'loans:approve'`: the service checks it once the loan is found, so that another borrower's
 *   loan answers 404 exactly as a missing one would, never 403.
 * Either gives the handler its `principal`.
 */
export const guards = new Elysia({ name: 'guards' }).macro({
  permission: (permission: Permission) => ({
    detail: documented(permission),
    transform({ request }) {
      guarded.add(request);
      authorize(principalOf(request) as Principal, permission);
    },
    resolve: ({ request }) => ({ principal: principalOf(request) as Principal }),
  }),
  loanPermission: (permission: Permission) => ({
    detail: documented(permission),
    transform({ request }) {
      guarded.add(request);
    },
    resolve: ({ request }) => ({ principal: principalOf(request) as Principal }),
  }),
});
