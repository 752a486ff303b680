import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { HttpError } from '../http/errors.js';

/**
 * Where the public keys that verify access tokens come from: the embedded provider's own keys,
 * or an external issuer's JWKS found through its discovery document. Either is a jose key
 * resolver (picks the key by the token's kid and alg).
 */

/** The identity provider could not be asked for its keys: a server-side problem, not the caller's. */
export class IdentityProviderUnavailable extends HttpError {
  constructor(message: string) {
    // Retry-After: the discovery retry interval; the IDE retries completions on its own anyway.
    super(503, 'server_error', message, undefined, DISCOVERY_RETRY_MS / 1000);
  }
}

/** After a failed discovery, later requests fail fast with the same error for this long, then retry. */
const DISCOVERY_RETRY_MS = 5_000;
const FETCH_TIMEOUT_MS = 5_000;

export function embeddedKeys(jwks: JWK[]): JWTVerifyGetKey {
  return createLocalJWKSet({ keys: jwks });
}

export interface DiscoveredKeysOptions {
  fetch?: typeof fetch;
  /**
   * How soon after a JWKS fetch a token with an unknown kid may trigger another fetch (jose's
   * cooldown; default 30 s). It bounds how often forged kids can make us call the IdP.
   */
  jwksCooldownMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * Keys of an external issuer: `${issuer}/.well-known/openid-configuration` is read on first use
 * (not at start, so Shenma starts while the IdP is down) and kept; its `jwks_uri` goes to jose's
 * remote JWKS, which caches keys and refetches when a token names an unknown kid (key rotation).
 * Unreachable IdP → IdentityProviderUnavailable (503).
 */
export function discoveredKeys(issuer: string, opts: DiscoveredKeysOptions = {}): JWTVerifyGetKey {
  const fetchImpl = opts.fetch ?? fetch;
  const discoveryUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let remote: Promise<JWTVerifyGetKey> | undefined;
  let failure: { error: IdentityProviderUnavailable; at: number } | undefined;

  const discover = async (): Promise<JWTVerifyGetKey> => {
    const jwksUri = await readJwksUri(discoveryUrl, issuer, fetchImpl);
    return createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: FETCH_TIMEOUT_MS,
      cooldownDuration: opts.jwksCooldownMs ?? 30_000,
      [customFetch]: (url, init) => fetchImpl(url, init),
    });
  };

  const resolver = async (): Promise<JWTVerifyGetKey> => {
    if (failure && Date.now() - failure.at < DISCOVERY_RETRY_MS) throw failure.error;
    remote ??= discover();
    try {
      const keys = await remote;
      failure = undefined;
      return keys;
    } catch (err) {
      remote = undefined;
      const error =
        err instanceof IdentityProviderUnavailable
          ? err
          : new IdentityProviderUnavailable(`identity provider discovery failed: ${describe(err)}`);
      failure = { error, at: Date.now() };
      opts.log?.warn({ issuer, reason: error.message }, 'identity provider unavailable');
      throw error;
    }
  };

  return async (header, token) => {
    const keys = await resolver();
    try {
      return await keys(header, token);
    } catch (err) {
      // Verdicts about the token itself stay as they are (401 upstream); anything else means the
      // JWKS endpoint failed (network, timeout, non-200, not a JWKS).
      if (
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSEAlgNotAllowed ||
        err instanceof errors.JWSInvalid ||
        err instanceof errors.JOSENotSupported
      )
        throw err;
      const error = new IdentityProviderUnavailable(
        `identity provider keys could not be fetched from its jwks_uri: ${describe(err)}`,
      );
      opts.log?.warn({ issuer, reason: error.message }, 'identity provider unavailable');
      throw error;
    }
  };
}

async function readJwksUri(discoveryUrl: string, issuer: string, fetchImpl: typeof fetch): Promise<string> {
  let response: Response;
  try {
    response = await fetchImpl(discoveryUrl, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    throw new IdentityProviderUnavailable(`identity provider unreachable: ${discoveryUrl}: ${describe(err)}`);
  }
  if (!response.ok) {
    throw new IdentityProviderUnavailable(
      `identity provider discovery ${discoveryUrl} answered HTTP ${response.status}`,
    );
  }
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    doc = (await response.json()) as typeof doc;
  } catch (err) {
    throw new IdentityProviderUnavailable(
      `identity provider discovery ${discoveryUrl} is not JSON: ${describe(err)}`,
    );
  }
  // OpenID Connect Discovery §4.3: the document's issuer must be the one we asked about, exactly.
  if (doc.issuer !== issuer) {
    throw new IdentityProviderUnavailable(
      `identity provider discovery ${discoveryUrl} names issuer ${JSON.stringify(doc.issuer)}, ` +
        `but identity.issuer is "${issuer}"`,
    );
  }
  if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) {
    throw new IdentityProviderUnavailable(
      `identity provider discovery ${discoveryUrl} has no http(s) jwks_uri`,
    );
  }
  return doc.jwks_uri;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String(cause.code)})` : '';
  return `${err.message}${code}`;
}
