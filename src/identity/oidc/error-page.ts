import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { pickLanguage } from '../../http/language.js';
import { messagesFor } from '../login/i18n.js';
import { messagePageHtml, newNonce, pageSecurityHeaders } from '../login/page.js';

/**
 * What the browser sees when oidc-provider refuses an authorization request it must not redirect
 * (an unknown client, a redirect_uri that is not registered): our page, never a redirect.
 */
export function renderProviderError(ctx: KoaContextWithOIDC, out: ErrorOut): void {
  const m = messagesFor(pickLanguage(ctx.get('accept-language') || undefined));
  const nonce = newNonce();
  ctx.set(pageSecurityHeaders(nonce));
  ctx.type = 'html';
  ctx.body = messagePageHtml(m, nonce, out.error_description ?? out.error, out.error);
}
