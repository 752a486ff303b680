import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyRequest } from 'fastify';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedEmbeddedDatabase } from '../../test/support/embedded-template.js';
import { reachableTempDir } from '../../test/support/temp-dir.js';
import { type IdentityConfig, identitySchema } from '../config/schema.js';
import { AuthenticationError, authenticateWithChallenge } from '../http/authentication-error.js';
import { fastifyErrorHandler, HttpError } from '../http/errors.js';
import type { Authenticate } from '../http/identity.js';
import { type Database, openDatabase } from '../storage/database.js';
import { migrate } from '../storage/migrate.js';
import { type AuthenticatorOptions, createAuthenticator, MISSING_CREDENTIALS } from './authenticate.js';
import { TokenStore, type User, UserStore } from './users.js';

/**
 * Tokens are made here with jose (SignJWT and generated keys), the way an identity provider makes
 * them; the stores run on a real embedded PostgreSQL (PGlite), one per file.
 */

const EMBEDDED_ISSUER = 'http://127.0.0.1:9080/realms/gw';
type SigningKey = { privateKey: CryptoKey; publicKey: CryptoKey; jwk: JWK; kid: string };

async function newSigningKey(alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, publicKey, kid, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const now = () => Math.floor(Date.now() / 1000);

interface SignOptions {
  key: SigningKey;
  alg?: string;
  typ?: string | null;
  kid?: string | null;
}

async function sign(claims: JWTPayload, opts: SignOptions): Promise<string> {
  const header: { alg: string; typ?: string; kid?: string } = { alg: opts.alg ?? 'RS256' };
  if (opts.typ !== null) header.typ = opts.typ ?? 'at+jwt';
  if (opts.kid !== null) header.kid = opts.kid ?? opts.key.kid;
  return new SignJWT({ iat: now(), exp: now() + 300, ...claims })
    .setProtectedHeader(header)
    .sign(opts.key.privateKey);
}

function request(headers: Record<string, string>, remoteAddress = '127.0.0.1'): FastifyRequest {
  return { headers, socket: { remoteAddress }, ip: remoteAddress } as unknown as FastifyRequest;
}

async function rejection(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

let dataDir: string;
let database: Database;
let users: UserStore;
let tokens: TokenStore;
let alice: User;
let embeddedKey: SigningKey;

beforeAll(async () => {
  dataDir = reachableTempDir('shenma-authenticate-');
  await seedEmbeddedDatabase(dataDir);
  database = await openDatabase({ dataDir });
  await migrate(database.db);
  users = new UserStore(database.db);
  tokens = new TokenStore(database.db);
  alice = await users.add('alice', 'correct horse');
  embeddedKey = await newSigningKey();
}, 60_000);

afterAll(async () => {
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function identityConfig(input: Record<string, unknown> = {}): IdentityConfig {
  return identitySchema.parse(input);
}

function embeddedAuthenticator(extra: Partial<AuthenticatorOptions> = {}): Authenticate {
  return createAuthenticator({
    identity: identityConfig(),
    embeddedIssuer: EMBEDDED_ISSUER,
    embeddedJwks: [embeddedKey.jwk],
    tokens,
    users,
    ...extra,
  });
}

/** Claims as the embedded provider puts them in an access token for `user`. */
function claimsFor(user: User, extra: JWTPayload = {}): JWTPayload {
  return {
    iss: EMBEDDED_ISSUER,
    sub: user.id,
    aud: 'vscode',
    client_id: 'vscode',
    preferred_username: user.name,
    ...extra,
  };
}

describe('JWT access tokens from the embedded provider', () => {
  let authenticate: Authenticate;
  beforeAll(() => {
    authenticate = embeddedAuthenticator();
  });

  it('accepts a valid token as Bearer and names the user', async () => {
    const token = await sign(claimsFor(alice), { key: embeddedKey });
    expect(await authenticate(request({ authorization: `Bearer ${token}` }))).toEqual({
      userId: alice.id,
      name: 'alice',
      via: 'jwt',
    });
  });

  it('accepts the same token in the api-key header (the extension on /api/...)', async () => {
    const token = await sign(claimsFor(alice), { key: embeddedKey });
    expect(await authenticate(request({ 'api-key': token }))).toMatchObject({ name: 'alice', via: 'jwt' });
  });

  it('accepts the token in x-api-key (Anthropic clients on /v1/messages)', async () => {
    const token = await sign(claimsFor(alice), { key: embeddedKey });
    expect(await authenticate(request({ 'x-api-key': token }))).toMatchObject({ name: 'alice', via: 'jwt' });
  });

  it('refuses alg "none" (a hand-made unsigned token)', async () => {
    const token = `${base64url({ alg: 'none', typ: 'at+jwt' })}.${base64url(claimsFor(alice))}.`;
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.type).toBe('authentication_error');
    expect(err.message).toMatch(/^token algorithm "none" is not allowed/);
  });

  it('refuses HS256 signed with the public key bytes (algorithm confusion)', async () => {
    const publicPem = new TextEncoder().encode(await exportSPKI(embeddedKey.publicKey));
    const token = await new SignJWT({ exp: now() + 300, ...claimsFor(alice) })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: embeddedKey.kid })
      .sign(publicPem);
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toMatch(/^token algorithm "HS256" is not allowed/);
  });

  it('refuses a token signed with another key, under our kid or its own', async () => {
    const other = await newSigningKey();
    for (const kid of [embeddedKey.kid, other.kid]) {
      const token = await sign(claimsFor(alice), { key: other, kid });
      const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
      expect(err.message).toMatch(/^token signature invalid/);
    }
  });

  it('refuses another issuer, naming both', async () => {
    const token = await sign(claimsFor(alice, { iss: 'https://evil.example/realms/gw' }), {
      key: embeddedKey,
    });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toBe(`token issuer "https://evil.example/realms/gw" is not "${EMBEDDED_ISSUER}"`);
  });

  it('refuses an expired token, allowing 30 s of clock skew', async () => {
    const expired = await sign(claimsFor(alice, { exp: now() - 60 }), { key: embeddedKey });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${expired}` })));
    expect(err.message).toMatch(/^token expired at \d{4}-/);
    const withinSkew = await sign(claimsFor(alice, { exp: now() - 10 }), { key: embeddedKey });
    expect(await authenticate(request({ authorization: `Bearer ${withinSkew}` }))).toMatchObject({
      name: 'alice',
    });
  });

  it('refuses a token that is not valid yet', async () => {
    const token = await sign(claimsFor(alice, { nbf: now() + 120 }), { key: embeddedKey });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toMatch(/^token not yet valid/);
  });

  it('refuses a token for another audience with no matching azp or client_id', async () => {
    const token = await sign(
      claimsFor(alice, { aud: 'other-app', client_id: 'other-app', azp: 'other-app' }),
      {
        key: embeddedKey,
      },
    );
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toMatch(/^token audience "other-app" .* is not for this server/);
  });

  it('accepts aud "account" when azp is the IDE client (what Keycloak issues)', async () => {
    const { client_id: _omit, ...claims } = claimsFor(alice, { aud: 'account', azp: 'vscode' });
    const token = await sign(claims, { key: embeddedKey });
    expect(await authenticate(request({ authorization: `Bearer ${token}` }))).toMatchObject({
      name: 'alice',
    });
  });

  it('refuses a token without preferred_username (the extension cannot chat without it)', async () => {
    const { preferred_username: _omit, ...claims } = claimsFor(alice);
    const token = await sign(claims, { key: embeddedKey });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toMatch(/^token has no preferred_username claim/);
  });

  it('refuses an ID token (no at+jwt header type) from the embedded provider', async () => {
    const token = await sign(claimsFor(alice), { key: embeddedKey, typ: null });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toMatch(/is not an access token/);
  });

  it('refuses a disabled user, and looks the user up once per 30 s, not per request', async () => {
    const bob = await users.add('bob', undefined);
    await users.setDisabled('bob', true);
    const lookups = vi.spyOn(users, 'findById');
    const fresh = embeddedAuthenticator();
    const token = await sign(claimsFor(bob), { key: embeddedKey });
    for (let i = 0; i < 3; i++) {
      const err = await rejection(fresh(request({ authorization: `Bearer ${token}` })));
      expect(err.message).toBe('user "bob" is disabled');
    }
    expect(lookups).toHaveBeenCalledTimes(1);
    lookups.mockRestore();
  });

  it('reads the state at every request when it cannot hear of changes (cacheUserState: false)', async () => {
    const carol = await users.add('carol', undefined);
    const token = await sign(claimsFor(carol), { key: embeddedKey });
    const cached = embeddedAuthenticator();
    const uncached = embeddedAuthenticator({ cacheUserState: false });
    expect((await cached(request({ authorization: `Bearer ${token}` }))).name).toBe('carol');
    expect((await uncached(request({ authorization: `Bearer ${token}` }))).name).toBe('carol');
    // Another replica (or `shenma users disable` on the shared database) disables her; no event arrives.
    await new UserStore(database.db).setDisabled('carol', true);
    const err = await rejection(uncached(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toBe('user "carol" is disabled');
    // What the remembered state did, and still does where events do arrive: accepted for up to 30 s.
    expect((await cached(request({ authorization: `Bearer ${token}` }))).name).toBe('carol');
  });

  it('refuses a token whose subject is no longer a user', async () => {
    const token = await sign(claimsFor(alice, { sub: 'usr_deleted' }), { key: embeddedKey });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toBe('user usr_deleted no longer exists');
  });

  it('refuses a credential that is neither an API token nor a JWT (e.g. "Bearer undefined")', async () => {
    const err = await rejection(authenticate(request({ authorization: 'Bearer undefined' })));
    expect(err.message).toMatch(/^credentials are neither an API token/);
  });
});

describe('personal API tokens', () => {
  let authenticate: Authenticate;
  beforeAll(() => {
    authenticate = embeddedAuthenticator();
  });

  it('accepts a live token as Bearer and as api-key', async () => {
    const { secret } = await tokens.create('alice', { name: 'laptop' });
    const expected = { userId: alice.id, name: 'alice', via: 'api_token' };
    expect(await authenticate(request({ authorization: `Bearer ${secret}` }))).toEqual(expected);
    expect(await authenticate(request({ 'api-key': secret }))).toEqual(expected);
  });

  it('refuses a revoked, an expired and an unknown token', async () => {
    const revoked = await tokens.create('alice', { name: 'revoked' });
    await tokens.revoke(revoked.token.id);
    const expired = await tokens.create('alice', {
      name: 'expired',
      expiresAt: new Date(Date.now() + 60_000),
    });
    await database.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', expired.token.id)
      .execute();
    for (const secret of [revoked.secret, expired.secret, 'shm_nosuchtoken']) {
      const err = await rejection(authenticate(request({ authorization: `Bearer ${secret}` })));
      expect(err.status).toBe(401);
      expect(err.message).toMatch(/^API token revoked, expired or unknown/);
    }
  });
});

describe('missing credentials and the WWW-Authenticate challenge', () => {
  let authenticate: Authenticate;
  beforeAll(() => {
    authenticate = embeddedAuthenticator();
  });

  it('says how to send credentials when there are none', async () => {
    const err = await rejection(authenticate(request({})));
    expect(err.message).toBe(MISSING_CREDENTIALS);
    expect((err as AuthenticationError).wwwAuthenticate).toBe('Bearer');
  });

  it('tells a malformed Authorization header from a missing one', async () => {
    const basic = await rejection(authenticate(request({ authorization: 'Basic Zm9vOmJhcg==' })));
    expect(basic.message).toBe(
      'the Authorization header uses the Basic scheme; send Authorization: Bearer <token>',
    );
    const two = await rejection(authenticate(request({ authorization: 'Bearer abc def' })));
    expect(two.message).toBe(
      'the Authorization header must be "Bearer <token>" with one token and nothing after it',
    );
  });

  it('puts WWW-Authenticate on the JSON 401 that the error handler sends', async () => {
    const app = Fastify();
    app.setErrorHandler(fastifyErrorHandler);
    app.get('/private', async (req, reply) => authenticateWithChallenge(authenticate, req, reply));
    try {
      const bare = await app.inject({ url: '/private' });
      expect(bare.statusCode).toBe(401);
      expect(bare.headers['www-authenticate']).toBe('Bearer');
      expect(bare.json()).toEqual({
        error: { message: MISSING_CREDENTIALS, type: 'authentication_error', param: null, code: null },
      });
      const expired = await sign(claimsFor(alice, { exp: now() - 120 }), { key: embeddedKey });
      const bad = await app.inject({ url: '/private', headers: { authorization: `Bearer ${expired}` } });
      expect(bad.statusCode).toBe(401);
      expect(bad.headers['www-authenticate']).toMatch(
        /^Bearer error="invalid_token", error_description="token expired at [^"]+"$/,
      );
    } finally {
      await app.close();
    }
  });
});

describe('trusted identity header', () => {
  const warn = vi.fn();
  let authenticate: Authenticate;
  beforeAll(() => {
    authenticate = embeddedAuthenticator({
      identity: identityConfig({ trustedHeader: { name: 'X-Remote-User', proxies: ['10.0.0.5', '::1'] } }),
      log: { warn },
    });
  });

  it('accepts the header from a listed proxy, IPv4-mapped IPv6 included', async () => {
    const expected = { userId: 'header:carol', name: 'carol', via: 'trusted_header' };
    expect(await authenticate(request({ 'x-remote-user': 'carol' }, '10.0.0.5'))).toEqual(expected);
    expect(await authenticate(request({ 'x-remote-user': 'carol' }, '::ffff:10.0.0.5'))).toEqual(expected);
    expect(await authenticate(request({ 'x-remote-user': 'carol' }, '::1'))).toEqual(expected);
  });

  it('ignores the header from any other address and warns once per address', async () => {
    for (let i = 0; i < 2; i++) {
      const err = await rejection(authenticate(request({ 'x-remote-user': 'carol' }, '10.0.0.6')));
      expect(err.message).toBe(MISSING_CREDENTIALS);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toEqual({ address: '10.0.0.6', header: 'x-remote-user' });
  });

  it('refuses a malformed user name from a proxy', async () => {
    const err = await rejection(authenticate(request({ 'x-remote-user': 'a b' }, '10.0.0.5')));
    expect(err.message).toMatch(/^header x-remote-user: user name "a b" is not allowed/);
  });
});

/**
 * An external issuer (Keycloak in production) played by a small local HTTP server that serves a
 * discovery document and a JWKS: the standard way to test a relying party without the real IdP.
 */
describe('external issuer (discovery + remote JWKS)', () => {
  let server: Server;
  let issuer: string;
  let published: JWK[] = [];
  const hits = { discovery: 0, jwks: 0 };

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/realms/gw/.well-known/openid-configuration') {
        hits.discovery++;
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs` }));
      } else if (req.url === '/realms/gw/protocol/openid-connect/certs') {
        hits.jwks++;
        res.end(JSON.stringify({ keys: published }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/gw`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** What Keycloak puts in an access token: header typ JWT, payload typ Bearer, aud account, azp. */
  const keycloakClaims = (extra: JWTPayload = {}): JWTPayload => ({
    iss: issuer,
    sub: randomUUID(),
    typ: 'Bearer',
    aud: 'account',
    azp: 'vscode',
    preferred_username: 'dave',
    ...extra,
  });

  it('verifies Keycloak-shaped tokens and follows a key rotation (new kid → JWKS refetched)', async () => {
    const first = await newSigningKey();
    published = [first.jwk];
    const authenticate = createAuthenticator({
      identity: identityConfig({ issuer }),
      embeddedIssuer: EMBEDDED_ISSUER,
      tokens,
      users,
      jwksCooldownMs: 100,
    });
    const claims = keycloakClaims();
    const before = await sign(claims, { key: first, typ: 'JWT' });
    expect(await authenticate(request({ authorization: `Bearer ${before}` }))).toEqual({
      userId: claims.sub,
      name: 'dave',
      via: 'jwt',
    });

    const second = await newSigningKey('ES256');
    published = [second.jwk, first.jwk];
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the refetch cooldown
    const after = await sign(claims, { key: second, alg: 'ES256', typ: 'JWT' });
    expect(await authenticate(request({ 'api-key': after }))).toMatchObject({ name: 'dave' });
    expect(await authenticate(request({ authorization: `Bearer ${before}` }))).toMatchObject({
      name: 'dave',
    });
    expect(hits).toEqual({ discovery: 1, jwks: 2 });
  });

  it("refuses Keycloak's ID tokens (payload typ ID)", async () => {
    const key = await newSigningKey();
    published = [key.jwk];
    const authenticate = createAuthenticator({
      identity: identityConfig({ issuer }),
      embeddedIssuer: EMBEDDED_ISSUER,
      tokens,
      users,
    });
    const token = await sign(keycloakClaims({ typ: 'ID', aud: 'vscode' }), { key, typ: 'JWT' });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.message).toBe('token is a "ID" token, not an access token (Bearer)');
  });

  it('answers 503 naming the IdP when it is unreachable (a server problem, not bad credentials)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const warn = vi.fn();
    const authenticate = createAuthenticator({
      identity: identityConfig({ issuer: `http://127.0.0.1:${port}/realms/gw` }),
      embeddedIssuer: EMBEDDED_ISSUER,
      tokens,
      users,
      log: { warn },
    });
    const token = await sign(keycloakClaims(), { key: embeddedKey, typ: 'JWT' });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err).not.toBeInstanceOf(AuthenticationError);
    expect(err.status).toBe(503);
    expect(err.type).toBe('server_error');
    expect(err.retryAfter).toBe(5);
    expect(err.message).toMatch(
      new RegExp(
        `^identity provider unreachable: http://127.0.0.1:${port}/realms/gw/\\.well-known/openid-configuration: `,
      ),
    );
    expect(JSON.stringify(warn.mock.calls)).not.toContain(token);
  });

  it('answers 503 when the discovery document names another issuer', async () => {
    const authenticate = createAuthenticator({
      identity: identityConfig({ issuer: `${issuer}/` }),
      embeddedIssuer: EMBEDDED_ISSUER,
      tokens,
      users,
    });
    const token = await sign(keycloakClaims({ iss: `${issuer}/` }), { key: embeddedKey, typ: 'JWT' });
    const err = await rejection(authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/names issuer .* but identity\.issuer is/);
  });
});
