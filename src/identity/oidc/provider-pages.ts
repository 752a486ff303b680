import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { pickLanguage } from '../../http/language.js';
import { type Messages, messagesFor } from '../login/i18n.js';
import {
  infoPageHtml,
  logoutPageHtml,
  messagePageHtml,
  newNonce,
  pageSecurityHeaders,
} from '../login/page.js';

/**
 * The pages oidc-provider renders itself, in our look and language. Giving it every one of them
 * (and the policies below) also keeps it from printing "default ... function called, you SHOULD
 * change it" notices on the console at the first logout or revocation.
 */

function render(ctx: KoaContextWithOIDC, html: (m: Messages, nonce: string) => string): void {
  const m = messagesFor(pickLanguage(ctx.get('accept-language') || undefined));
  const nonce = newNonce();
  ctx.set(pageSecurityHeaders(nonce));
  ctx.type = 'html';
  ctx.body = html(m, nonce);
}

/**
 * What the browser sees when oidc-provider refuses an authorization request it must not redirect
 * (an unknown client, a redirect_uri that is not registered): our page, never a redirect.
 */
export function renderProviderError(ctx: KoaContextWithOIDC, out: ErrorOut): void {
  render(ctx, (m, nonce) => messagePageHtml(m, nonce, out.error_description ?? out.error, out.error));
}

/** The browser logout (id_token_hint) asks first; `form` is the provider's own form with its xsrf field. */
export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  render(ctx, (m, nonce) => logoutPageHtml(m, nonce, form));
}

export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  render(ctx, (m, nonce) => infoPageHtml(m, nonce, m.signedOutTitle, m.signedOut));
}
