import type { Role } from '../db/schema';
import { Problem } from '../http/problem';
import { RecentMap } from '../recent';
import { hashApiKey } from './api-key';
import { createJwtVerifier, JwksUnavailable, JwtRejected, type JwtSettings } from './jwt';
import type { Principal } from './permissions';

/** An API key as the database holds it, without its hash. */
export interface StoredApiKey {
  id: string;
  role: Role;
  borrowerId: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface AuthenticatorOptions {
  findKeyByHash: (hash: string) => Promise<StoredApiKey | undefined>;
  jwt?: JwtSettings;
  /** How long a key looked up stays cached in this process (a revocation elsewhere takes at most this long). */
  keyCacheMs?: number;
  now?: () => number;
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

// The scheme is case-insensitive (RFC 9110 §11.1): `bearer …` is the same credential.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;
const KEY_CACHE_MS = 5000;
const KEY_CACHE_ENTRIES = 10_000;

const unauthorized = (detail: string) =>
  new Problem(401, detail, { headers: { 'www-authenticate': 'Bearer' } });

/**
 * Turns an Authorization header into a Principal, or throws the problem that answers it: 401 for anything
 * missing, malformed, unknown, revoked, expired or unverifiable; 403 for a token naming no role or several;
 * 503 when the identity provider's keys cannot be had.
 */
export function createAuthenticator({
  findKeyByHash,
  jwt,
  keyCacheMs = KEY_CACHE_MS,
  now = Date.now,
}: AuthenticatorOptions) {
  const verifyJwt = jwt && createJwtVerifier(jwt);
  const cache = new RecentMap<{ key: StoredApiKey | undefined; at: number }>(KEY_CACHE_ENTRIES);

  async function lookUpKey(hash: string): Promise<StoredApiKey | undefined> {
    const cached = cache.get(hash);
    if (cached && now() - cached.at < keyCacheMs) return cached.key;
    const key = await findKeyByHash(hash);
    cache.set(hash, { key, at: now() });
    return key;
  }

  async function fromApiKey(credential: string): Promise<Principal> {
    const key = await lookUpKey(hashApiKey(credential));
    if (!key) throw unauthorized('The API key is not known.');
    if (key.revokedAt) throw unauthorized('The API key has been revoked.');
    if (key.expiresAt && Date.parse(key.expiresAt) <= now()) throw unauthorized('The API key has expired.');
    return { actor: key.id, role: key.role, borrowerId: key.borrowerId };
  }

  async function fromJwt(token: string): Promise<Principal> {
    if (!verifyJwt) throw unauthorized('This service accepts API keys only: no identity provider is set up.');
    try {
      const { sub, roles } = await verifyJwt(token);
      const [role, ...others] = roles;
      if (!role || others.length > 0) {
        throw new Problem(403, 'The token must name exactly one role of borrower, officer or admin.');
      }
      return { actor: `jwt:${sub}`, role, borrowerId: role === 'borrower' ? sub : null };
    } catch (error) {
      if (error instanceof JwtRejected) throw unauthorized(error.message);
      if (error instanceof JwksUnavailable) {
        throw Problem.unavailable(
          'The identity provider cannot be reached to verify the token; retry shortly.',
        );
      }
      throw error;
    }
  }

  return {
    async authenticate(authorization: string | null): Promise<Principal> {
      if (!authorization) throw unauthorized('Send Authorization: Bearer <API key or token>.');
      const credential = BEARER.exec(authorization)?.[1];
      if (!credential) throw unauthorized('The Authorization header must be one Bearer credential.');
      return JWT_SHAPE.test(credential) ? fromJwt(credential) : fromApiKey(credential);
    },
    /** Drops every cached key lookup: called when a key is revoked, so this process honours it at once. */
    forgetKeys() {
      cache.clear();
    },
  };
}
