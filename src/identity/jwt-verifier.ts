import { decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { AuthenticationError } from '../http/authentication-error.js';

/**
 * Verifies an OIDC access token (a JWT) and says in words what is wrong with a bad one. Only
 * asymmetric algorithms: `none` and HS* are refused before any key is looked at, which closes the
 * "sign HS256 with the public key" confusion.
 */

export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
/** Clock skew allowed between us and the issuer for exp / nbf. */
export const CLOCK_TOLERANCE_SECONDS = 30;

export interface JwtVerifierOptions {
  issuer: string;
  keys: JWTVerifyGetKey;
  /** The IDE client id: a token whose azp (Keycloak) or client_id (RFC 9068) is this is for us. */
  clientId: string;
  /** Accepted `aud` values. */
  audiences: readonly string[];
  /**
   * Require the `at+jwt` header type (RFC 9068). oidc-provider marks its JWT access tokens so and its
   * ID tokens not at all, so for the embedded issuer this is what tells an ID token apart.
   */
  requireAccessTokenType: boolean;
}

export interface VerifiedAccessToken {
  sub: string;
  preferredUsername: string;
}

/** Header types of access tokens: RFC 9068's, and plain JWT (Keycloak marks every token so). */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);
const STRICT_ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);

export function createJwtVerifier(opts: JwtVerifierOptions): (token: string) => Promise<VerifiedAccessToken> {
  const allowedTypes = opts.requireAccessTokenType ? STRICT_ACCESS_TOKEN_TYPES : ACCESS_TOKEN_TYPES;
  return async (token) => {
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const verified = await jwtVerify(token, opts.keys, {
        algorithms: ACCEPTED_ALGORITHMS,
        issuer: opts.issuer,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      payload = verified.payload;
      typ = verified.protectedHeader.typ;
    } catch (err) {
      throw explain(err, token, opts.issuer);
    }

    if (typ === undefined ? opts.requireAccessTokenType : !allowedTypes.has(typ.toLowerCase())) {
      throw new AuthenticationError(
        `token type ${JSON.stringify(typ ?? null)} is not an access token (expected ${[...allowedTypes].join(' or ')}); ID tokens are not accepted`,
      );
    }
    // Keycloak puts the token kind in the payload: Bearer (access), ID, Refresh, Offline, Logout.
    if (payload['typ'] !== undefined && String(payload['typ']).toLowerCase() !== 'bearer') {
      throw new AuthenticationError(
        `token is a ${JSON.stringify(payload['typ'])} token, not an access token (Bearer)`,
      );
    }
    checkAudience(payload, opts);
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub === '')
      throw new AuthenticationError('token has an empty "sub" claim');
    const name = payload['preferred_username'];
    if (typeof name !== 'string' || name.trim() === '') {
      // The extension reads the user name from this claim and refuses to chat without it.
      throw new AuthenticationError(
        'token has no preferred_username claim; the identity provider must put the user name in the access token',
      );
    }
    return { sub, preferredUsername: name };
  };
}

function checkAudience(payload: JWTPayload, opts: JwtVerifierOptions): void {
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (aud.some((a) => opts.audiences.includes(a))) return;
  // Keycloak: aud is often just "account", the client shows in azp. RFC 9068 names it client_id.
  if (payload['azp'] === opts.clientId || payload['client_id'] === opts.clientId) return;
  throw new AuthenticationError(
    `token audience ${JSON.stringify(payload.aud ?? null)} (azp ${JSON.stringify(payload['azp'] ?? null)}) ` +
      `is not for this server: expected aud to contain one of ${JSON.stringify(opts.audiences)} ` +
      `or azp "${opts.clientId}"`,
  );
}

/** jose's failure → a 401 naming the problem; anything not about the token passes through. */
function explain(err: unknown, token: string, issuer: string): unknown {
  if (err instanceof errors.JWTExpired) {
    const exp = err.payload.exp;
    return new AuthenticationError(
      `token expired${typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : ''}`,
    );
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new AuthenticationError(`token has no "${err.claim}" claim`);
    if (err.claim === 'iss') {
      return new AuthenticationError(
        `token issuer ${JSON.stringify(err.payload.iss ?? null)} is not "${issuer}"`,
      );
    }
    if (err.claim === 'nbf') {
      const nbf = err.payload.nbf;
      return new AuthenticationError(
        `token not yet valid${typeof nbf === 'number' ? ` (nbf ${new Date(nbf * 1000).toISOString()})` : ''}`,
      );
    }
    return new AuthenticationError(`token claim "${err.claim}" is invalid: ${err.message}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new AuthenticationError(
      `token algorithm ${JSON.stringify(headerAlg(token))} is not allowed (accepted: ${ACCEPTED_ALGORITHMS.join(', ')})`,
    );
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new AuthenticationError('token signature invalid');
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new AuthenticationError('token signature invalid: signed with a key the issuer does not publish');
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthenticationError('token signature invalid: it names no key id and the issuer has several');
  }
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKInvalid
  ) {
    return new AuthenticationError(`token is not a valid JWT: ${err.message}`);
  }
  return err;
}

function headerAlg(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg ?? null;
  } catch {
    return null;
  }
}
