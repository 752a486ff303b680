import type { JWK } from 'jose';
import type { IdentityConfig } from '../config/schema.js';
import { AuthenticationError } from '../http/authentication-error.js';
import type { CredentialEvents } from '../http/credential-events.js';
import type { Authenticate, CredentialSource, Identity } from '../http/identity.js';
import { discoveredKeys, embeddedKeys } from './issuer-keys.js';
import { createJwtVerifier } from './jwt-verifier.js';
import { RefreshingCache } from './refreshing-cache.js';
import { createTrustedHeaderCheck } from './trusted-header.js';
import { API_TOKEN_PREFIX, type TokenStore, type UserStore } from './users.js';

/**
 * The one credential check behind every `auth: 'user'` route: a gateway's trusted identity
 * header, a personal API token, or an OIDC access token from the embedded provider or an external
 * one (Keycloak), sent as `Authorization: Bearer` (completions) or `api-key` (the extension's /api).
 */

export interface AuthenticatorOptions {
  identity: IdentityConfig;
  /** The embedded provider's issuer (`${publicUrl}/realms/<realm>`) when identity.issuer is unset. */
  embeddedIssuer: string;
  /** The embedded provider's public keys (keys.publicJwks); required when identity.issuer is unset. */
  embeddedJwks?: JWK[];
  tokens: TokenStore;
  users: UserStore;
  log?: { warn(obj: object, msg: string): void };
  /** Told of every accepted API token (for LAST USED); must not block. */
  onTokenUsed?: (tokenId: string) => void;
  /** For discovery and JWKS requests to an external issuer. */
  fetch?: typeof fetch;
  /** Least time between JWKS refetches caused by unknown key ids (default 30 s). */
  jwksCooldownMs?: number;
  /** News of disabled users: their remembered state is dropped at once, here and on every replica. */
  changes?: CredentialEvents;
  /**
   * Whether a user's enabled state may be remembered (for 30 s): only when `changes` hears of
   * every change (the embedded database's one writer, or Redis). Otherwise a user disabled by
   * another replica or `shenma users disable` on the shared database kept working meanwhile.
   * Default true.
   */
  cacheUserState?: boolean;
}

export const MISSING_CREDENTIALS =
  'missing credentials: send Authorization: Bearer <token>, or an api-key or x-api-key header';

/** How long a user's enabled/disabled state is reused before the database is asked again. */
const USER_STATE_TTL_MS = 30_000;
const USER_STATE_MAX = 10_000;

export function createAuthenticator(opts: AuthenticatorOptions): Authenticate {
  const { identity } = opts;
  const external = identity.issuer !== undefined;
  if (!external && !opts.embeddedJwks) {
    throw new Error('createAuthenticator: embeddedJwks is required when identity.issuer is unset');
  }
  const verifyJwt = createJwtVerifier({
    issuer: identity.issuer ?? opts.embeddedIssuer,
    keys: external
      ? discoveredKeys(identity.issuer!, {
          ...(opts.fetch && { fetch: opts.fetch }),
          ...(opts.jwksCooldownMs !== undefined && { jwksCooldownMs: opts.jwksCooldownMs }),
          ...(opts.log && { log: opts.log }),
        })
      : embeddedKeys(opts.embeddedJwks!),
    clientId: identity.clientId,
    audiences: identity.audiences.length > 0 ? identity.audiences : [identity.clientId],
    // The embedded provider is oidc-provider: its access tokens say at+jwt, its ID tokens nothing.
    requireAccessTokenType: !external,
  });
  const trustedHeader = identity.trustedHeader
    ? createTrustedHeaderCheck({ ...identity.trustedHeader, log: opts.log })
    : undefined;
  // Users of an external IdP are managed there; its tokens carry no Shenma user id to look up.
  const userState = external
    ? undefined
    : opts.cacheUserState === false
      ? uncachedUserState(opts.users)
      : createUserStateCache(opts.users);
  opts.changes?.subscribe((change) => {
    if (change.kind === 'user') userState?.delete(change.userId);
  });

  return async (req): Promise<Identity> => {
    const fromGateway = trustedHeader?.(req);
    if (fromGateway) return fromGateway;

    const credential = readCredential(req);
    if (!credential) {
      // A header that is there but not `Bearer <one token>` is a different mistake from none.
      const authorization = req.headers.authorization;
      if (authorization?.trim()) {
        const scheme = authorization.trim().split(/\s+/, 1)[0]!;
        throw new AuthenticationError(
          /^bearer$/i.test(scheme)
            ? 'the Authorization header must be "Bearer <token>" with one token and nothing after it'
            : `the Authorization header uses the ${scheme.slice(0, 20)} scheme; send Authorization: Bearer <token>`,
          'missing',
        );
      }
      throw new AuthenticationError(MISSING_CREDENTIALS, 'missing');
    }

    if (credential.startsWith(API_TOKEN_PREFIX)) {
      const found = await opts.tokens.verify(credential);
      if (!found) {
        throw new AuthenticationError(
          'API token revoked, expired or unknown (or its user is disabled); `shenma tokens list USER` shows the live ones',
          'invalid',
          'bad_api_token',
        );
      }
      opts.onTokenUsed?.(found.token.id);
      return { userId: found.user.id, name: found.user.name, via: 'api_token' };
    }
    if (!looksLikeJwt(credential)) {
      throw new AuthenticationError(
        `credentials are neither an API token (${API_TOKEN_PREFIX}...) nor a JWT access token`,
      );
    }

    const token = await verifyJwt(credential);
    if (userState) {
      const state = await userState.get(token.sub);
      if (state === 'missing')
        throw new AuthenticationError(`user ${token.sub} no longer exists`, 'invalid', 'unknown_user');
      if (state === 'disabled')
        throw new AuthenticationError(
          `user "${token.preferredUsername}" is disabled`,
          'invalid',
          'disabled_user',
        );
    }
    return { userId: token.sub, name: token.preferredUsername, via: 'jwt' };
  };
}

/** The token of an `Authorization: Bearer <x>` header (scheme in any case). */
export function bearerToken(authorization: string | undefined): string | undefined {
  return (authorization && /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization)?.[1]) || undefined;
}

/** `Authorization: Bearer <x>`, else the `api-key` header, else `x-api-key` (Anthropic's clients). */
function readCredential(req: CredentialSource): string | undefined {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer) return bearer;
  for (const name of ['api-key', 'x-api-key']) {
    const header = req.headers[name];
    const value = (Array.isArray(header) ? header[0] : header)?.trim();
    if (value) return value;
  }
  return undefined;
}

function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(value);
}

type UserState = 'enabled' | 'disabled' | 'missing';

async function loadUserState(users: UserStore, id: string): Promise<UserState> {
  const user = await users.findById(id);
  return !user ? 'missing' : user.disabled ? 'disabled' : 'enabled';
}

/** The state read at every request, for a process that cannot hear of changes. */
function uncachedUserState(users: UserStore): Pick<RefreshingCache<string, UserState>, 'get' | 'delete'> {
  return { get: (id) => loadUserState(users, id), delete: () => {} };
}

/**
 * Bounded, short-lived: a completion per keystroke must not mean a query per keystroke, nor a
 * wait for one every TTL (see RefreshingCache).
 */
function createUserStateCache(users: UserStore): RefreshingCache<string, UserState> {
  return new RefreshingCache<string, UserState>({
    max: USER_STATE_MAX,
    ttlMs: USER_STATE_TTL_MS,
    refreshAfterMs: USER_STATE_TTL_MS / 2,
    load: (id) => loadUserState(users, id),
  });
}
