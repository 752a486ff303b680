import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults, Provider } from 'oidc-provider';
import type { IdentityConfig } from '../../config/schema.js';
import { errorBody } from '../../http/errors.js';
import { pickLanguage } from '../../http/language.js';
import type { RouteHandler } from '../../http/route-handler.js';
// layer exception: the login form checks a captcha answer the kaptcha role issued (one service).
import type { CaptchaService } from '../../kaptcha/service.js';
import type { UserStore } from '../users.js';
import type { AttemptStatus, LoginBackoff } from './backoff.js';
import { autoConsent } from './consent.js';
import { CSRF_COOKIE, CSRF_FIELD, csrfCookieHeader, LoginCsrf, readCookie } from './csrf.js';
import { type Messages, messagesFor } from './i18n.js';
import { loginPageHtml, messagePageHtml, type RemoteLoginNotice, sendPage } from './page.js';

/**
 * The login page oidc-provider sends the browser to (`interactions.url`): GET shows the form,
 * POST checks CSRF, backoff, captcha and password, then hands the account to the provider.
 */

/**
 * When the form asks for a captcha (identity.captcha 'after-failures'): after this many failures
 * of one user name from one address; of any names from one address (an office NAT: much
 * higher); or of one name from anywhere (guessing spread over many addresses).
 */
export const CAPTCHA_AFTER_FAILURES = 2;
export const CAPTCHA_AFTER_ADDRESS_FAILURES = 20;
export const CAPTCHA_AFTER_USER_FAILURES = 10;

export function captchaAfterFailures(s: AttemptStatus): boolean {
  return (
    s.pairFailures >= CAPTCHA_AFTER_FAILURES ||
    s.addressFailures >= CAPTCHA_AFTER_ADDRESS_FAILURES ||
    s.userFailures >= CAPTCHA_AFTER_USER_FAILURES
  );
}
/** Longer input is refused before it reaches the password hash. */
const MAX_USERNAME = 256;
const MAX_PASSWORD = 1024;

export interface LoginHandlerDeps {
  provider: Provider;
  users: UserStore;
  captcha: CaptchaService;
  identity: IdentityConfig;
  publicUrl: string;
  /** Secret the CSRF key is derived from (one of the persisted cookie keys). */
  csrfSecret: string;
  backoff: LoginBackoff;
  log: FastifyBaseLogger;
  /** For a login a remote IDE started (polling login): what to tell the person at the browser. */
  remoteLogin?: (params: Record<string, unknown>) => Promise<RemoteLoginNotice | undefined>;
}

interface LoginParams {
  realm: string;
  uid: string;
}

interface LoginBody {
  username?: unknown;
  password?: unknown;
  csrf?: unknown;
  captcha?: unknown;
  captcha_id?: unknown;
  new_captcha?: unknown;
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

function field(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function createLoginHandler(deps: LoginHandlerDeps): RouteHandler {
  const { provider, users, captcha, backoff, identity, log } = deps;
  const csrf = new LoginCsrf(deps.csrfSecret);
  // Failed logins are logged with a keyed hash of the typed name, never the name: it may be a
  // password typed into the wrong field. The same name gives the same tag, so repeats show.
  const tagKey = createHmac('sha256', deps.csrfSecret).update('shenma login log tag v1').digest();
  const userTag = (name: string) => createHmac('sha256', tagKey).update(name).digest('hex').slice(0, 12);
  const publicPath = new URL(deps.publicUrl).pathname.replace(/\/+$/, '');
  const secureCookie = deps.publicUrl.startsWith('https:');

  const captchaNeeded = (status: AttemptStatus) =>
    identity.captcha === 'always' || (identity.captcha === 'after-failures' && captchaAfterFailures(status));

  /** Renders the form; keeps the browser's CSRF cookie when it has one so other tabs still work. */
  const renderForm = async (
    req: FastifyRequest,
    reply: FastifyReply,
    m: Messages,
    details: Interaction,
    opts: { status: number; username: string; error?: string; headers?: Record<string, string> },
  ) => {
    const uid = details.uid;
    const existing = readCookie(req.headers.cookie, CSRF_COOKIE);
    const cookieValue = existing ?? csrf.newCookieValue();
    const headers: Record<string, string> = { ...opts.headers };
    if (!existing) {
      headers['set-cookie'] = csrfCookieHeader(
        cookieValue,
        `${publicPath}/realms/${identity.realm}/login/${uid}`,
        secureCookie,
      );
    }
    const keys = { user: opts.username || undefined, address: req.ip };
    const challenge = captchaNeeded(await backoff.status(keys)) ? await captcha.issue() : undefined;
    const remote = await deps.remoteLogin?.(details.params);
    return sendPage(
      reply,
      opts.status,
      (nonce) =>
        loginPageHtml(m, nonce, {
          username: opts.username,
          csrf: csrf.tokenFor(uid, cookieValue),
          error: opts.error,
          captcha: challenge,
          remote,
        }),
      headers,
    );
  };

  const loadInteraction = async (req: FastifyRequest, reply: FastifyReply, uid: string) => {
    try {
      const details = await provider.interactionDetails(req.raw, reply.raw);
      return details.uid === uid ? details : undefined;
    } catch (err) {
      // SessionNotFound: no interaction cookie, or the interaction expired.
      log.debug({ err }, 'login interaction not found');
      return undefined;
    }
  };

  const finish = async (reply: FastifyReply, req: FastifyRequest, result: InteractionResults) => {
    reply.hijack();
    reply.raw.setHeader('x-request-id', req.id);
    reply.raw.setHeader('cache-control', 'no-store');
    await provider.interactionFinished(req.raw, reply.raw, result);
  };

  const consent = async (req: FastifyRequest, reply: FastifyReply, details: Interaction) => {
    await finish(reply, req, await autoConsent(provider, details));
  };

  const showForm = async (req: FastifyRequest, reply: FastifyReply, m: Messages, uid: string) => {
    const details = await loadInteraction(req, reply, uid);
    if (!details) return sendPage(reply, 400, (n) => messagePageHtml(m, n, m.expired));
    if (details.prompt.name === 'consent') return consent(req, reply, details);
    const hint = details.params.login_hint;
    return renderForm(req, reply, m, details, {
      status: 200,
      username: typeof hint === 'string' ? hint : '',
    });
  };

  const submit = async (req: FastifyRequest, reply: FastifyReply, m: Messages, uid: string) => {
    const body = (req.body ?? {}) as LoginBody;
    if (!csrf.check(uid, readCookie(req.headers.cookie, CSRF_COOKIE), body[CSRF_FIELD])) {
      return sendPage(reply, 403, (n) => messagePageHtml(m, n, m.forbidden));
    }
    const details = await loadInteraction(req, reply, uid);
    if (!details) return sendPage(reply, 400, (n) => messagePageHtml(m, n, m.expired));
    if (details.prompt.name === 'consent') return consent(req, reply, details);

    const username = field(body.username).trim();
    const password = field(body.password);
    const keys = { user: username || undefined, address: req.ip };
    const again = (status: number, error: string | undefined, headers?: Record<string, string>) =>
      renderForm(req, reply, m, details, {
        status,
        username,
        ...(error ? { error } : {}),
        ...(headers ? { headers } : {}),
      });

    if (body.new_captcha !== undefined) {
      // "New image": the old answer is dropped unchecked and nothing is counted.
      await captcha.discard(field(body.captcha_id));
      return again(200, undefined);
    }
    const status = await backoff.status(keys);
    const waitMs = status.retryAfterMs;
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return again(429, m.tooMany(seconds), { 'retry-after': String(seconds) });
    }
    if (captchaNeeded(status)) {
      const id = field(body.captcha_id);
      const answer = field(body.captcha);
      if (!id || !answer) return again(401, m.captchaRequired);
      if (!(await captcha.verify(id, answer))) {
        // Counted against the address only: it says nothing about the user's password.
        await backoff.recordFailure({ address: req.ip });
        return again(401, m.captchaWrong);
      }
    }
    const user =
      username && password && username.length <= MAX_USERNAME && password.length <= MAX_PASSWORD
        ? await users.checkPassword(username, password)
        : undefined;
    if (!user) {
      await backoff.recordFailure(keys);
      log.info({ userTag: userTag(username), address: req.ip }, 'login failed');
      // One message whether the name or the password was wrong: names are not disclosed.
      return again(401, m.badCredentials);
    }
    await backoff.recordSuccess(keys);
    reply.raw.setHeader(
      'set-cookie',
      csrfCookieHeader('', `${publicPath}/realms/${identity.realm}/login/${uid}`, secureCookie, true),
    );
    log.info({ user: user.name, client: details.params.client_id }, 'login succeeded');
    await finish(reply, req, { login: { accountId: user.id } });
  };

  return async (req, reply) => {
    const { realm, uid } = req.params as LoginParams;
    if (realm !== identity.realm) {
      return reply.code(404).send(errorBody('not_found_error', `no realm "${realm}"`));
    }
    const m = messagesFor(pickLanguage(req.headers['accept-language']));
    try {
      return await (req.method === 'POST' ? submit(req, reply, m, uid) : showForm(req, reply, m, uid));
    } catch (err) {
      // The shared store (Redis) or the database is away: a page that says so, not a stack.
      if (reply.sent || reply.raw.headersSent) throw err;
      log.error({ err }, 'login page: backoff, captcha or user store unavailable');
      return sendPage(reply, 503, (n) => messagePageHtml(m, n, m.unavailable), { 'retry-after': '5' });
    }
  };
}
