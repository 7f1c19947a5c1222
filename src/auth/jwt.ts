import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { type Role, roles } from '../db/schema';
import { isIdentifierText } from '../http/text-rules';

export interface JwtSettings {
  jwksUrl: string;
  issuer: string;
  audience: string;
}

/** Asymmetric algorithms only: a token signed with HS256 using the public key as the secret must fail. */
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 60;
const MAX_SUB_LENGTH = 255;

/** What a verified token says about its caller, before the role rule is applied. */
export type JwtIdentity = { sub: string; roles: Role[] };

/** The token is not acceptable; the message says why in terms a client can act on. */
export class JwtRejected extends Error {}
/** The identity provider's key set could not be fetched and no key is cached. */
export class JwksUnavailable extends Error {}

// Failures that are about the token, not about reaching the key set.
const TOKEN_ERRORS = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWSInvalid,
  errors.JWTInvalid,
  errors.JWKInvalid,
];

/**
 * Verifies JWTs against a remote JWKS (jose caches it, with a cooldown before refetching for an unknown `kid`).
 * When a refresh fails, the last key set that was fetched keeps verifying, so an identity provider's outage
 * only stops callers when no key was ever cached.
 */
export function createJwtVerifier(settings: JwtSettings) {
  const remote = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 3000 });
  let lastKnown: JSONWebKeySet | undefined;

  const keys: JWTVerifyGetKey = async (header, token) => {
    try {
      const key = await remote(header, token);
      lastKnown = remote.jwks();
      return key;
    } catch (error) {
      if (TOKEN_ERRORS.some((kind) => error instanceof kind)) throw error;
      if (lastKnown) return createLocalJWKSet(lastKnown)(header, token);
      throw new JwksUnavailable('the identity provider key set cannot be fetched', { cause: error });
    }
  };

  return async function verify(token: string): Promise<JwtIdentity> {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      // jose checks that sub is present, not what it is; it becomes the actor and a borrower's borrower_id.
      if (typeof payload.sub !== 'string' || !isIdentifierText(payload.sub, MAX_SUB_LENGTH)) {
        throw new JwtRejected(
          `The token's sub claim must be 1 to ${MAX_SUB_LENGTH} characters with no control characters.`,
        );
      }
      const claimed = Array.isArray(payload.roles) ? payload.roles : [payload.roles];
      return {
        // NFC, as a borrower_id is stored, so a borrower's token matches their loans.
        sub: payload.sub.normalize('NFC'),
        roles: roles.filter((role) => claimed.includes(role)),
      };
    } catch (error) {
      if (error instanceof JwksUnavailable) throw error;
      if (error instanceof errors.JOSEError) throw new JwtRejected(jwtFailure(error));
      throw error;
    }
  };
}

function jwtFailure(error: InstanceType<typeof errors.JOSEError>): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.claim === 'nbf'
      ? 'The token is not valid yet.'
      : `The token's ${error.claim} claim is not acceptable.`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) return 'No key of the identity provider matches the token.';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The token is not signed with an accepted algorithm.';
  return 'The token cannot be verified.';
}
