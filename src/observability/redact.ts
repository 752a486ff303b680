/**
 * The one place credentials are taken out of URLs before Shenma prints, logs or exports them
 * (metrics labels, /readyz, error messages, CLI output). A password becomes `***`; in an http(s)
 * URL a user name with no password is treated as a token and becomes `***` too; query parameters
 * that usually carry secrets are masked.
 */

const SECRET_QUERY_KEYS =
  /^(api[-_]?key|key|token|access[-_]?token|secret|password|pass|auth|sig|signature)$/i;

export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(unparseable URL)';
  }
  const secretKeys = [...parsed.searchParams.keys()].filter((k) => SECRET_QUERY_KEYS.test(k));
  // Unchanged text when there is nothing to hide, so messages keep the URL as configured.
  // In http(s) URLs a lone user name is usually a token (https://TOKEN@host); a database URL's is a role.
  const tokenUser = !parsed.password && parsed.username !== '' && /^https?:$/.test(parsed.protocol);
  if (!parsed.password && !tokenUser && secretKeys.length === 0) return url;
  if (parsed.password) parsed.password = '***';
  else if (tokenUser) parsed.username = '***';
  for (const key of secretKeys) parsed.searchParams.set(key, '***');
  return parsed.toString();
}

/** `scheme://user:pass@` or `scheme://token@` anywhere in free text (error messages, upstream text). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]+)@/gi;

/** Masks the user info of every URL inside a piece of text. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}
