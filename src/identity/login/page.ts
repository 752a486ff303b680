import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { escapeHtml, htmlDocument, PAGE_FONT_FAMILY } from '../../http/html.js';
import type { Messages } from './i18n.js';

/**
 * The login page and its error pages, rendered on the server without any script or external
 * asset. The only inline CSS carries a per-response nonce so the CSP can forbid everything else.
 */

export interface LoginForm {
  username: string;
  csrf: string;
  error?: string | undefined;
  captcha?: { id: string; image: string } | undefined;
  /** Set when a remote IDE started this login (polling login): the page says so. */
  remote?: RemoteLoginNotice | undefined;
}

/** Who is asking, for a login a remote IDE started. */
export interface RemoteLoginNotice {
  machineCode: string;
  pluginVersion: string;
}

// The card keeps a 1 rem margin on narrow screens: its width includes its padding (border-box)
// and never exceeds the viewport less the margins.
const CSS = `
body{margin:0;font-family:${PAGE_FONT_FAMILY};background:#f4f6fa;color:#1f2937}
main{box-sizing:border-box;width:calc(100% - 2rem);max-width:24rem;margin:12vh auto;padding:2rem 1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 4px 24px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin:0 0 1.25rem}
label{display:block;font-size:.9rem;margin:.9rem 0 .3rem}
input[type=text],input[type=password]{box-sizing:border-box;width:100%;padding:.6rem .7rem;border:1px solid #cbd2dc;border-radius:.4rem;font-size:1rem}
.captcha img{display:block;margin:.2rem 0 .4rem;border:1px solid #e5e7eb;border-radius:.3rem;max-width:100%}
button{margin-top:1.4rem;width:100%;padding:.7rem;border:0;border-radius:.4rem;background:#2563eb;color:#fff;font-size:1rem;cursor:pointer}
.notice{background:#fffbeb;color:#92400e;border:1px solid #fde68a;border-radius:.4rem;padding:.6rem .7rem;font-size:.9rem}
.more{margin:.8rem 0 0;text-align:center}
.linklike{margin:0;width:auto;padding:0;background:none;color:#2563eb;font-size:.85rem;text-decoration:underline}
.actions{display:flex;gap:.75rem}
.actions button{flex:1}
button.secondary{background:#e5e7eb;color:#1f2937}
.error{background:#fef2f2;color:#b91c1c;border:1px solid #fecaca;border-radius:.4rem;padding:.6rem .7rem;font-size:.9rem}
`;

/** Only our captcha service's data: URLs are put in an img src; anything else is dropped. */
function safeImage(src: string): string | undefined {
  return /^data:image\/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=]+$/.test(src) ? src : undefined;
}

function layout(m: Messages, nonce: string, title: string, body: string): string {
  return htmlDocument({ lang: m.htmlLang, title, css: CSS, nonce, body });
}

export function loginPageHtml(m: Messages, nonce: string, form: LoginForm): string {
  const error = form.error ? `<p class="error" role="alert">${escapeHtml(form.error)}</p>` : '';
  const image = form.captcha && safeImage(form.captcha.image);
  const captcha = form.captcha
    ? `<div class="captcha">
<label for="captcha">${escapeHtml(m.captcha)}</label>
${image ? `<img src="${image}" alt="${escapeHtml(m.captchaAlt)}">` : ''}
<input type="hidden" name="captcha_id" value="${escapeHtml(form.captcha.id)}">
<input id="captcha" name="captcha" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" required>
</div>`
    : '';
  return layout(
    m,
    nonce,
    m.title,
    `<h1>${escapeHtml(m.heading)}</h1>
${form.remote ? `<p class="notice" role="note">${escapeHtml(m.remoteLoginStarted(form.remote.machineCode, form.remote.pluginVersion))}</p>` : ''}
${error}
<form method="post" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">
<label for="username">${escapeHtml(m.username)}</label>
<input id="username" name="username" type="text" value="${escapeHtml(form.username)}" autocomplete="username" autocapitalize="off" spellcheck="false" required${form.username ? '' : ' autofocus'}>
<label for="password">${escapeHtml(m.password)}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${form.username ? ' autofocus' : ''}>
${captcha}
<button type="submit">${escapeHtml(m.submit)}</button>
${
  // After the main button: Enter in a field submits with the first submit button of the form.
  form.captcha
    ? `<p class="more"><button type="submit" name="new_captcha" value="1" class="linklike" formnovalidate>${escapeHtml(m.newImage)}</button></p>`
    : ''
}
</form>`,
  );
}

/** The page a polling login stops at: the person at the browser must confirm or refuse. */
export function confirmPageHtml(
  m: Messages,
  nonce: string,
  c: RemoteLoginNotice & { user: string; action: string; confirmId: string; csrf: string },
): string {
  return layout(
    m,
    nonce,
    m.confirmTitle,
    `<h1>${escapeHtml(m.confirmTitle)}</h1>
<p class="notice" role="alert">${escapeHtml(m.remoteLoginConfirm(c.machineCode, c.pluginVersion, c.user))}</p>
<form method="post" action="${escapeHtml(c.action)}">
<input type="hidden" name="confirm_id" value="${escapeHtml(c.confirmId)}">
<input type="hidden" name="csrf" value="${escapeHtml(c.csrf)}">
<div class="actions">
<button type="submit" name="decision" value="refuse" class="secondary">${escapeHtml(m.refuse)}</button>
<button type="submit" name="decision" value="allow">${escapeHtml(m.allow)}</button>
</div>
</form>`,
  );
}

/**
 * oidc-provider's logout question. `form` is the provider's own markup (an empty form with its
 * xsrf field, id "op.logoutForm"); the buttons submit it, "yes" with logout=yes.
 */
export function logoutPageHtml(m: Messages, nonce: string, form: string): string {
  return layout(
    m,
    nonce,
    m.signOutTitle,
    `<h1>${escapeHtml(m.signOutTitle)}</h1>
${form}
<div class="actions">
<button type="submit" form="op.logoutForm" class="secondary">${escapeHtml(m.signOutNo)}</button>
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>${escapeHtml(m.signOutYes)}</button>
</div>`,
  );
}

/** A plain page with a heading and a line (success, refused, expired). */
export function infoPageHtml(m: Messages, nonce: string, title: string, text: string): string {
  return layout(
    m,
    nonce,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>`,
  );
}

export function messagePageHtml(m: Messages, nonce: string, message: string, detail?: string): string {
  const extra = detail ? `\n<p><small>${escapeHtml(detail)}</small></p>` : '';
  return layout(
    m,
    nonce,
    m.errorTitle,
    `<h1>${escapeHtml(m.errorTitle)}</h1>\n<p class="error">${escapeHtml(message)}</p>${extra}`,
  );
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** Headers every login and error page carries: nothing may frame, cache or script it. */
export function pageSecurityHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `style-src 'nonce-${nonce}'`,
      'img-src data:',
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
}

/** Sends a rendered page with the security headers. */
export function sendPage(
  reply: FastifyReply,
  status: number,
  render: (nonce: string) => string,
  extraHeaders: Record<string, string> = {},
): FastifyReply {
  const nonce = newNonce();
  return reply
    .code(status)
    .headers({ ...pageSecurityHeaders(nonce), ...extraHeaders })
    .send(render(nonce));
}
