import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { HttpError } from '../http/errors.js';
import type { Authenticate } from '../http/identity.js';
import { pickLanguage } from '../http/language.js';
import type { RouteHandler } from '../http/route-handler.js';
import { bearerToken } from './authenticate.js';
import { readCookie } from './login/csrf.js';
import { type Messages, messagesFor } from './login/i18n.js';
import {
  confirmPageHtml,
  infoPageHtml,
  messagePageHtml,
  type RemoteLoginNotice,
  sendPage,
} from './login/page.js';
import type { PluginLoginClient } from './oidc/clients.js';
import {
  COLLECT_TTL_MS,
  LOGIN_TTL_MS,
  type PendingLogin,
  type PluginLoginStates,
  type TokenSet,
} from './plugin-login-states.js';

/**
 * The polling login of the later client (docs/protocol.md §7.2), for IDEs that cannot receive a
 * vscode:// link (remote and web IDEs): the IDE opens /plugin/login in a browser and polls
 * /plugin/login/token until Shenma, acting as an OAuth client of its own provider (PKCE), has
 * exchanged the code AND the person at the browser has confirmed. The IDE holds no secret but
 * its state, so anyone could start a login and send the link to someone signed in; the defence
 * is in the browser: a login never completes silently. The browser that started it (a cookie
 * binds it) is shown which machine asks to sign in as whom, and only an explicit, CSRF-checked
 * "Continue" makes the tokens collectable; a refused or expired login never yields them. A
 * state is single-use and a login expires in minutes.
 */

const BASE = '/oidc-auth/api/v1/plugin';
const STATE = /^[A-Za-z0-9._~-]{8,128}$/;
const CONFIRM_ID = /^[A-Za-z0-9_-]{32}$/;
/** Printable, bounded: machine codes and versions are shown on the page. */
const LABEL = /^[\x20-\x7e]{1,128}$/;
const BROWSER_COOKIE = 'shenma_plugin_login';
const COOKIE_PATH = `${BASE}/login`;

export interface PluginLoginDeps {
  client: PluginLoginClient;
  /** The provider's endpoints as this process reaches them (server-side token calls). */
  internalIssuer: string;
  /** The provider's endpoints as the browser reaches them. */
  publicIssuer: string;
  publicUrl: string;
  authenticate: Authenticate;
  states: PluginLoginStates;
  log: FastifyBaseLogger;
  fetch?: typeof fetch;
}

function query(req: FastifyRequest): Record<string, string | undefined> {
  return req.query as Record<string, string | undefined>;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function language(req: FastifyRequest): Messages {
  return messagesFor(pickLanguage(req.headers['accept-language']));
}

/** For the login form of a polling login: who is asking (the IDE's machine and plugin version). */
export function remoteLoginNotice(states: PluginLoginStates, clientId: string) {
  return async (params: Record<string, unknown>): Promise<RemoteLoginNotice | undefined> => {
    if (params.client_id !== clientId || typeof params.state !== 'string') return undefined;
    const login = await states.byNonce(params.state, false);
    return login && { machineCode: login.machineCode, pluginVersion: login.pluginVersion };
  };
}

export function pluginLoginHandler(deps: PluginLoginDeps): RouteHandler {
  const doFetch = deps.fetch ?? fetch;
  const { states, log } = deps;
  const secureCookie = deps.publicUrl.startsWith('https:');
  const csrfKey = createHmac('sha256', deps.client.clientSecret)
    .update('shenma plugin login csrf v1')
    .digest();
  const csrfFor = (confirmId: string, cookie: string) =>
    createHmac('sha256', csrfKey).update(`${confirmId}\n${cookie}`).digest('base64url');

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

  async function revoke(refreshToken: string | undefined): Promise<void> {
    if (!refreshToken) return;
    await doFetch(`${deps.internalIssuer}/protocol/openid-connect/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: refreshToken,
        token_type_hint: 'refresh_token',
        client_id: deps.client.clientId,
        client_secret: deps.client.clientSecret,
      }),
    }).catch((err: unknown) => log.warn({ err }, 'polling login: could not revoke a refused login'));
  }

  const page = (reply: FastifyReply, status: number, html: (nonce: string) => string) =>
    sendPage(reply, status, html);

  const start: RouteHandler = async (req, reply) => {
    const { state, machine_code: machineCode, plugin_version: pluginVersion } = query(req);
    if (!state || !STATE.test(state))
      throw new HttpError(400, 'invalid_request_error', 'state: 8-128 URL-safe characters required', 'state');
    if (!machineCode || !LABEL.test(machineCode))
      throw new HttpError(
        400,
        'invalid_request_error',
        'machine_code is required (1-128 printable characters)',
        'machine_code',
      );
    if (pluginVersion !== undefined && !LABEL.test(pluginVersion))
      throw new HttpError(
        400,
        'invalid_request_error',
        'plugin_version: 1-128 printable characters',
        'plugin_version',
      );
    // One binding value per browser, kept across logins so parallel tabs keep working.
    const cookie = readCookie(req.headers.cookie, BROWSER_COOKIE) ?? randomBytes(24).toString('base64url');
    const login: PendingLogin = {
      state,
      machineCode,
      pluginVersion: pluginVersion ?? 'unknown',
      nonce: randomBytes(24).toString('base64url'),
      verifier: randomBytes(32).toString('base64url'),
      browser: sha256(cookie),
      phase: 'started',
    };
    if (!(await states.start(login)))
      throw new HttpError(
        400,
        'invalid_request_error',
        'this state was already used; start a new login',
        'state',
      );
    const challenge = sha256(login.verifier);
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
    return reply
      .code(302)
      .header('location', auth.toString())
      .header('cache-control', 'no-store')
      .header(
        'set-cookie',
        [
          `${BROWSER_COOKIE}=${cookie}`,
          `Path=${COOKIE_PATH}`,
          `Max-Age=${Math.ceil(LOGIN_TTL_MS / 1000) * 2}`,
          'HttpOnly',
          'SameSite=Lax',
          ...(secureCookie ? ['Secure'] : []),
        ].join('; '),
      )
      .send();
  };

  const callback: RouteHandler = async (req, reply) => {
    const m = language(req);
    const { state: nonce, code, error } = query(req);
    // The nonce is single-use: a replayed or forged callback finds nothing.
    const login = nonce ? await states.byNonce(nonce, true) : undefined;
    if (login?.phase !== 'started') return page(reply, 400, (n) => messagePageHtml(m, n, m.remoteExpired));
    const cookie = readCookie(req.headers.cookie, BROWSER_COOKIE);
    if (!cookie || sha256(cookie) !== login.browser) {
      // Someone else's start finished in this browser: refuse it for good.
      await states.save({ ...login, phase: 'refused' }, LOGIN_TTL_MS);
      log.warn({ machineCode: login.machineCode }, 'polling login refused: finished in another browser');
      return page(reply, 403, (n) => messagePageHtml(m, n, m.remoteExpired));
    }
    if (error || !code) {
      await states.save({ ...login, phase: 'refused' }, LOGIN_TTL_MS);
      return page(reply, 400, (n) => messagePageHtml(m, n, m.expired, error ?? 'no code'));
    }
    const tokens = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: deps.client.redirectUri,
      code_verifier: login.verifier,
    });
    const claims = decodeJwt(tokens.access_token);
    const user = String(claims.preferred_username ?? claims.sub ?? '?');
    const confirmId = randomBytes(24).toString('base64url');
    await states.save({ ...login, phase: 'awaiting', tokens, user }, LOGIN_TTL_MS);
    await states.offerConfirmation(confirmId, login.state);
    return page(reply, 200, (n) =>
      confirmPageHtml(m, n, {
        machineCode: login.machineCode,
        pluginVersion: login.pluginVersion,
        user,
        action: `${deps.publicUrl}${BASE}/login/confirm`,
        confirmId,
        csrf: csrfFor(confirmId, cookie),
      }),
    );
  };

  const confirm: RouteHandler = async (req, reply) => {
    const m = language(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const confirmId = typeof body.confirm_id === 'string' ? body.confirm_id : '';
    const cookie = readCookie(req.headers.cookie, BROWSER_COOKIE);
    const given = Buffer.from(typeof body.csrf === 'string' ? body.csrf : '');
    const expected = Buffer.from(cookie && CONFIRM_ID.test(confirmId) ? csrfFor(confirmId, cookie) : '');
    if (
      !cookie ||
      expected.length === 0 ||
      given.length !== expected.length ||
      !timingSafeEqual(given, expected)
    )
      return page(reply, 403, (n) => messagePageHtml(m, n, m.forbidden));
    const login = await states.takeConfirmation(confirmId);
    if (login?.phase !== 'awaiting' || sha256(cookie) !== login.browser)
      return page(reply, 400, (n) => messagePageHtml(m, n, m.remoteExpired));
    if (body.decision !== 'allow') {
      await states.save({ ...login, phase: 'refused', tokens: undefined }, LOGIN_TTL_MS);
      await revoke(login.tokens?.refresh_token);
      log.info({ user: login.user, machineCode: login.machineCode }, 'polling login refused in the browser');
      return page(reply, 200, (n) => infoPageHtml(m, n, m.refusedTitle, m.refused));
    }
    await states.save({ ...login, phase: 'confirmed' }, COLLECT_TTL_MS);
    log.info({ user: login.user, machineCode: login.machineCode }, 'polling login confirmed in the browser');
    return page(reply, 200, (n) => infoPageHtml(m, n, m.signedInTitle, m.signedIn));
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
    const login = STATE.test(state) ? await states.get(state) : undefined;
    if (!login || login.machineCode !== machineCode || login.phase === 'refused') {
      throw new HttpError(404, 'not_found_error', 'no login in progress for this state', 'state');
    }
    if (login.phase !== 'confirmed')
      return reply
        .header('cache-control', 'no-store')
        .send({ success: false, data: null, message: 'pending' });
    const collected = await states.collect(state);
    if (!collected?.tokens)
      throw new HttpError(404, 'not_found_error', 'no login in progress for this state', 'state');
    return reply
      .header('cache-control', 'no-store')
      .send({ success: true, data: { ...collected.tokens, state } });
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
    [`${BASE}/login/confirm`]: confirm,
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
