import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { HttpError } from '../http/errors.js';
import { escapeHtml, htmlDocument } from '../http/html.js';
import type { Authenticate } from '../http/identity.js';
import type { RouteHandler } from '../http/route-handler.js';
import { bearerToken } from './authenticate.js';
import type { PluginLoginClient } from './oidc/clients.js';

/**
 * The polling login of the later client (docs/protocol.md §7.2), for IDEs that cannot receive a
 * vscode:// link (remote and web IDEs): the IDE opens /plugin/login in a browser and polls
 * /plugin/login/token until Shenma, acting as an OAuth client of its own provider (PKCE), has
 * exchanged the code. A state is single-use, bound to a server nonce, and expires.
 */

const BASE = '/oidc-auth/api/v1/plugin';
/** How long a started login may take, and how long finished tokens wait to be collected. */
const LOGIN_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;
const STATE = /^[A-Za-z0-9._~-]{8,128}$/;

interface PendingLogin {
  state: string;
  machineCode: string;
  nonce: string;
  verifier: string;
  tokens?: TokenSet;
  delivered: boolean;
}

interface TokenSet {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
}

export interface PluginLoginDeps {
  client: PluginLoginClient;
  /** The provider's endpoints as this process reaches them (server-side token calls). */
  internalIssuer: string;
  /** The provider's endpoints as the browser reaches them. */
  publicIssuer: string;
  authenticate: Authenticate;
  fetch?: typeof fetch;
}

function query(req: FastifyRequest): Record<string, string | undefined> {
  return req.query as Record<string, string | undefined>;
}

const PAGE_CSS = 'body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}';

function page(reply: FastifyReply, status: number, title: string, text: string) {
  const nonce = randomBytes(16).toString('base64');
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', `default-src 'none'; style-src 'nonce-${nonce}'`)
    .header('referrer-policy', 'no-referrer')
    .send(
      htmlDocument({
        lang: 'en',
        title,
        css: PAGE_CSS,
        nonce,
        body: `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>`,
      }),
    );
}

export function pluginLoginHandler(deps: PluginLoginDeps): RouteHandler {
  const doFetch = deps.fetch ?? fetch;
  const byState = new LRUCache<string, PendingLogin>({ max: MAX_PENDING, ttl: LOGIN_TTL_MS });
  const byNonce = new LRUCache<string, string>({ max: MAX_PENDING, ttl: LOGIN_TTL_MS });

  async function tokenRequest(form: Record<string, string>): Promise<TokenSet> {
    const res = await doFetch(`${deps.internalIssuer}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...form,
        client_id: deps.client.clientId,
        client_secret: deps.client.clientSecret,
      }),
    });
    const body = (await res.json().catch(() => ({}))) as TokenSet & {
      error?: string;
      error_description?: string;
    };
    if (!res.ok || !body.access_token) {
      throw new HttpError(
        res.status === 400 || res.status === 401 ? 401 : 502,
        'authentication_error',
        `token exchange refused: ${body.error ?? res.status}${body.error_description ? ` (${body.error_description})` : ''}`,
      );
    }
    return body;
  }

  const start: RouteHandler = async (req, reply) => {
    const { state, machine_code: machineCode } = query(req);
    if (!state || !STATE.test(state))
      throw new HttpError(400, 'invalid_request_error', 'state: 8-128 URL-safe characters required', 'state');
    if (!machineCode)
      throw new HttpError(400, 'invalid_request_error', 'machine_code is required', 'machine_code');
    if (byState.has(state))
      throw new HttpError(
        400,
        'invalid_request_error',
        'this state was already used; start a new login',
        'state',
      );
    const login: PendingLogin = {
      state,
      machineCode,
      nonce: randomBytes(24).toString('base64url'),
      verifier: randomBytes(32).toString('base64url'),
      delivered: false,
    };
    byState.set(state, login);
    byNonce.set(login.nonce, state);
    const challenge = createHash('sha256').update(login.verifier).digest('base64url');
    const auth = new URL(`${deps.publicIssuer}/protocol/openid-connect/auth`);
    auth.search = new URLSearchParams({
      response_type: 'code',
      client_id: deps.client.clientId,
      redirect_uri: deps.client.redirectUri,
      scope: 'openid profile email',
      state: login.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    return reply.code(302).header('location', auth.toString()).header('cache-control', 'no-store').send();
  };

  const callback: RouteHandler = async (req, reply) => {
    const { state: nonce, code, error } = query(req);
    const state = nonce ? byNonce.get(nonce) : undefined;
    const login = state ? byState.get(state) : undefined;
    // The nonce is single-use: a replayed or forged callback finds nothing.
    if (nonce) byNonce.delete(nonce);
    if (!login || login.tokens)
      return page(
        reply,
        400,
        'Login expired',
        'This login link is unknown, used or expired. Start the login again from your IDE.',
      );
    if (error || !code)
      return page(reply, 400, 'Login not completed', `The login did not complete (${error ?? 'no code'}).`);
    login.tokens = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: deps.client.redirectUri,
      code_verifier: login.verifier,
    });
    return page(
      reply,
      200,
      '登录成功 / Login succeeded',
      'You can close this page and return to your IDE. 您可以关闭此页面并返回 IDE。',
    );
  };

  const token: RouteHandler = async (req, reply) => {
    const { state, machine_code: machineCode } = query(req);
    const refreshToken = bearerToken(req.headers.authorization);
    if (!machineCode && refreshToken) {
      // Refresh: the client presents its refresh token as a Bearer credential.
      const tokens = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
      return reply
        .header('cache-control', 'no-store')
        .send({ success: true, data: { ...tokens, state: state ?? '' } });
    }
    if (!state || !machineCode)
      throw new HttpError(
        400,
        'invalid_request_error',
        'state and machine_code are required',
        state ? 'machine_code' : 'state',
      );
    const login = byState.get(state);
    if (!login || login.machineCode !== machineCode || login.delivered) {
      throw new HttpError(404, 'not_found_error', 'no login in progress for this state', 'state');
    }
    if (!login.tokens)
      return reply
        .header('cache-control', 'no-store')
        .send({ success: false, data: null, message: 'pending' });
    login.delivered = true;
    byState.delete(state);
    return reply
      .header('cache-control', 'no-store')
      .send({ success: true, data: { ...login.tokens, state } });
  };

  const status: RouteHandler = async (req, reply) => {
    try {
      const identity = await deps.authenticate(req);
      return reply.send({ success: true, data: { status: 'logged_in', username: identity.name } });
    } catch (err) {
      if (err instanceof HttpError && err.status === 401)
        return reply.code(401).send({ success: false, data: { status: 'logged_out' }, message: err.message });
      throw err;
    }
  };

  const logout: RouteHandler = async (req, reply) => {
    // Access tokens are short-lived JWTs the IDE then forgets; the refresh token, when sent, is revoked.
    await deps.authenticate(req);
    const { refresh_token: refreshToken } = query(req);
    if (refreshToken) {
      await doFetch(`${deps.internalIssuer}/protocol/openid-connect/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: refreshToken,
          token_type_hint: 'refresh_token',
          client_id: deps.client.clientId,
          client_secret: deps.client.clientSecret,
        }),
      });
    }
    return reply.send({ success: true, data: null });
  };

  const routes: Record<string, RouteHandler> = {
    [`${BASE}/login`]: start,
    [`${BASE}/login/callback`]: callback,
    [`${BASE}/login/token`]: token,
    [`${BASE}/login/status`]: status,
    [`${BASE}/login/logout`]: logout,
    [`${BASE}/logout`]: logout,
  };
  return async (req, reply) => {
    const path = (req.routeOptions.url ?? '').replace(/\/+$/, '');
    const handler = routes[path];
    if (!handler) throw new HttpError(404, 'not_found_error', `no route for ${req.url}`);
    return handler(req, reply);
  };
}
