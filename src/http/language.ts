/**
 * Picks the page language from Accept-Language: the listed language with the highest q that we
 * have (zh or en); equal q prefers zh (the extension's users are mostly Chinese-speaking).
 * Anything else reads English. The login pages and the trampoline both use it, so one login never
 * switches language half way.
 */

export type PageLanguage = 'zh' | 'en';

export function pickLanguage(acceptLanguage: string | undefined): PageLanguage {
  let best: { lang: PageLanguage; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const primary = tag.trim().split('-')[0];
    if (primary !== 'zh' && primary !== 'en') continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q || (q === best.q && primary === 'zh')) best = { lang: primary, q };
  }
  return best?.lang ?? 'en';
}
