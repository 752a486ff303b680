import { escapeHtml, htmlDocument, PAGE_FONT_FAMILY } from '../http/html.js';
import type { PageLanguage } from '../http/language.js';
import { MESSAGES } from './messages.js';

/**
 * The trampoline's HTML. Query values only ever reach the page HTML-escaped inside attributes
 * or text; the script is constant and reads them back from the DOM, so nothing from the URL is
 * ever JavaScript source.
 */

/** The page's own style and script run under this nonce; nothing else may (see contentSecurityPolicy). */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    "img-src 'self'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Opens the callback once per tab and code: a reload (or the browser restoring the tab) must not
 * hand VS Code the same, by then spent, code again. If sessionStorage is unavailable we still
 * open it once; the button remains for a second try.
 */
const OPEN_ONCE_SCRIPT = `
(function () {
  var link = document.getElementById('open-vscode');
  if (!link) return;
  var key = 'shenma.trampoline.opened:' + link.getAttribute('data-code');
  var seen = false;
  try { seen = sessionStorage.getItem(key) !== null; sessionStorage.setItem(key, '1'); } catch (e) {}
  if (!seen) window.location.href = link.href;
})();
`;

const STYLE = `
:root { color-scheme: light dark; --accent: #3b6cf6; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  font: 16px/1.6 ${PAGE_FONT_FAMILY};
  background: #f3f5f9; color: #1f2937; }
main { width: min(440px, calc(100vw - 32px)); padding: 40px 32px; text-align: center; background: #fff;
  border-radius: 16px; box-shadow: 0 10px 30px rgba(15, 23, 42, .08); }
.logo { width: 64px; height: 64px; }
h1 { margin: 16px 0 8px; font-size: 24px; }
p { margin: 8px 0; }
.muted { color: var(--muted); font-size: 14px; }
.button { display: inline-block; margin: 20px 0 12px; padding: 10px 22px; border-radius: 8px; background: var(--accent);
  color: #fff; text-decoration: none; font-weight: 600; }
.button:hover, .button:focus-visible { background: #2c55cc; }
.hint { display: block; width: 100%; max-width: 320px; margin: 12px auto 0; }
.failed h1 { color: #b42318; }
@media (prefers-color-scheme: dark) {
  body { background: #111827; color: #e5e7eb; }
  main { background: #1f2937; box-shadow: none; }
  :root { --muted: #9ca3af; }
}
`;

function document(lang: PageLanguage, nonce: string, title: string, body: string, extraClass = ''): string {
  return htmlDocument({
    lang: lang === 'zh' ? 'zh-CN' : 'en',
    title,
    css: STYLE,
    nonce,
    body: `<img class="logo" src="/login/resources/logo.svg" alt="" width="64" height="64">\n${body}`,
    ...(extraClass ? { mainClass: extraClass } : {}),
  });
}

export interface SuccessPage {
  lang: PageLanguage;
  nonce: string;
  /** The vscode:// URL, already built with encoded query values. */
  callbackUrl: string;
  code: string;
}

export function renderSuccessPage({ lang, nonce, callbackUrl, code }: SuccessPage): string {
  const m = MESSAGES[lang];
  const body = `<h1>${escapeHtml(m.successTitle)}</h1>
<p>${escapeHtml(m.opening)}</p>
<p class="muted">${escapeHtml(m.browserPrompt)}</p>
<a id="open-vscode" class="button" href="${escapeHtml(callbackUrl)}" data-code="${escapeHtml(code)}">${escapeHtml(m.openButton)}</a>
<p class="muted">${escapeHtml(m.closeHint)}</p>
<img class="hint" src="/login/resources/hint.svg" alt="${escapeHtml(m.hintAlt)}" width="320" height="120">
<script nonce="${nonce}">${OPEN_ONCE_SCRIPT}</script>`;
  return document(lang, nonce, m.successTitle, body);
}

export interface FailurePage {
  lang: PageLanguage;
  nonce: string;
  /** Plain text; escaped here. */
  detail: string;
}

export function renderFailurePage({ lang, nonce, detail }: FailurePage): string {
  const m = MESSAGES[lang];
  const body = `<h1>${escapeHtml(m.failedTitle)}</h1>
<p>${escapeHtml(detail)}</p>
<p class="muted">${escapeHtml(m.retry)}</p>`;
  return document(lang, nonce, m.failedTitle, body, 'failed');
}
