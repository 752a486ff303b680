import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RoleFactory } from '../gateway/role.js';
import { errorBody } from '../http/errors.js';
import { type PageLanguage, pickLanguage } from '../http/language.js';
import { MESSAGES } from './messages.js';
import { contentSecurityPolicy, renderFailurePage, renderSuccessPage } from './page.js';
import { loadResources } from './resources.js';

/**
 * The trampoline: the OAuth redirect target `/login/ok`, which hands the authorization code to
 * VS Code by opening `vscode://zgsm-ai.zgsm/callback?...` (docs/protocol.md §3.1 step 3), and the
 * images that page shows.
 */

export const VSCODE_CALLBACK = 'vscode://zgsm-ai.zgsm/callback';

/** Real codes and states are tens of characters; anything this long is not from our provider. */
const MAX_PARAM_LENGTH = 2048;

/** The extension reads state and code; session_state is passed through as the original did. */
export function callbackUrl(params: { state: string; code: string; sessionState?: string }): string {
  const query = new URLSearchParams();
  if (params.sessionState !== undefined) query.set('session_state', params.sessionState);
  query.set('state', params.state);
  query.set('code', params.code);
  return `${VSCODE_CALLBACK}?${query.toString()}`;
}

/** A single, reasonably sized string, or undefined (absent, repeated, empty or oversized). */
function single(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_PARAM_LENGTH
    ? value
    : undefined;
}

function sendPage(reply: FastifyReply, status: number, nonce: string, html: string) {
  return reply
    .code(status)
    .headers({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy(nonce),
      // The URL carries a live authorization code: keep it out of caches and Referer headers.
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      vary: 'Accept-Language',
    })
    .send(html);
}

function loginOk(req: FastifyRequest, reply: FastifyReply) {
  const query = (req.query ?? {}) as Record<string, unknown>;
  const lang: PageLanguage = pickLanguage(req.headers['accept-language']);
  const nonce = randomBytes(16).toString('base64');
  const m = MESSAGES[lang];
  const state = single(query.state);
  const code = single(query.code);

  // The provider redirects here with ?error=… when the user cancels or the request is refused.
  const error = single(query.error);
  if (error) {
    const description = single(query.error_description);
    const detail = `${m.providerError}${description ? `${error}: ${description}` : error}`;
    return sendPage(reply, 400, nonce, renderFailurePage({ lang, nonce, detail }));
  }
  if (!state || !code) {
    // Absent or empty is missing; present but repeated or over the limit is unusable.
    const usable = { code, state };
    const missing: string[] = [];
    const unusable: string[] = [];
    for (const name of ['code', 'state'] as const) {
      if (usable[name]) continue;
      const raw = query[name];
      (raw === undefined || raw === '' ? missing : unusable).push(name);
    }
    const detail = [
      ...(missing.length > 0 ? [m.missingParams(missing)] : []),
      ...(unusable.length > 0 ? [m.unusableParams(unusable)] : []),
    ].join(' ');
    return sendPage(reply, 400, nonce, renderFailurePage({ lang, nonce, detail }));
  }
  const sessionState = single(query.session_state);
  const url = callbackUrl({ state, code, ...(sessionState ? { sessionState } : {}) });
  return sendPage(reply, 200, nonce, renderSuccessPage({ lang, nonce, callbackUrl: url, code }));
}

export const trampolineRole: RoleFactory<'trampoline'> = async () => {
  const resources = await loadResources();
  return {
    handlers: {
      'trampoline.ok': async (req, reply) => loginOk(req, reply),
      'trampoline.resources': async (req, reply) => {
        const name = (req.params as Record<string, string | undefined>)['*'] ?? '';
        const resource = resources.get(name);
        if (!resource) {
          return reply
            .code(404)
            .header('cache-control', 'no-store')
            .send(errorBody('not_found_error', 'no such resource'));
        }
        reply.headers({
          'content-type': resource.contentType,
          'cache-control': 'public, max-age=86400',
          etag: resource.etag,
          'x-content-type-options': 'nosniff',
          // An SVG opened directly is a document; it gets no script and no outside fetches.
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        });
        if (req.headers['if-none-match'] === resource.etag) return reply.code(304).send();
        return reply.send(resource.body);
      },
    },
  };
};
