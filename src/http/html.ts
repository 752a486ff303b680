/** HTML escaping for server-rendered pages: safe in text and in quoted attribute values. */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/**
 * The fonts our pages ask for, by name: Latin system fonts first, then the common CJK families
 * (Noto/Source Han on Linux, PingFang on macOS, YaHei on Windows) so Chinese renders in a real
 * CJK face wherever one is installed instead of whatever fallback the browser picks.
 */
export const PAGE_FONT_FAMILY =
  'system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Source Han Sans SC",' +
  '"WenQuanYi Micro Hei","PingFang SC","Hiragino Sans GB","Microsoft YaHei",sans-serif';

export interface HtmlDocument {
  /** The `lang` attribute, e.g. `en` or `zh-CN`. */
  lang: string;
  title: string;
  /** Stylesheet text, allowed by the page's CSP through `nonce`. */
  css: string;
  nonce: string;
  /** Already-escaped markup for inside `<main>`. */
  body: string;
  mainClass?: string;
}

/**
 * The one document shell of our server-rendered pages (login, trampoline, polling-login result):
 * no external assets, no referrer, the stylesheet under the response's CSP nonce.
 */
export function htmlDocument(doc: HtmlDocument): string {
  const mainClass = doc.mainClass ? ` class="${escapeHtml(doc.mainClass)}"` : '';
  return `<!doctype html>
<html lang="${escapeHtml(doc.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(doc.title)}</title>
<style nonce="${doc.nonce}">${doc.css}</style>
</head>
<body>
<main${mainClass}>
${doc.body}
</main>
</body>
</html>
`;
}
