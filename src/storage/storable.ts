import type { CompiledQuery } from 'kysely';

/**
 * What PostgreSQL refuses in text that JavaScript strings and JSON allow: U+0000 in `text` and
 * `jsonb` (SQLSTATE 22021, 22P05), and lone UTF-16 surrogates written as `\udXXX` escapes in JSON
 * (22P02). Clients send both (a NUL in a feedback id, a cut emoji in a prompt); refusing the row
 * would fail the request with a 500 or, where the write is off the request's path, lose it. So
 * NULs are dropped and lone surrogates become U+FFFD, the replacement character, on the way in.
 */

/**
 * JSON text for a `jsonb` parameter. JSON.stringify escapes lone surrogates (`\ud800`) and NUL
 * (`\u0000`) and nothing else as `\u`-escapes in those ranges; a backslash of the data itself is
 * doubled, so an escape is a `\u` after an even run of backslashes.
 */
export function storableJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (!text.includes('\\u')) return text;
  return text.replace(
    /(\\*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})/g,
    (match, backslashes: string, code: string) => {
      if (backslashes.length % 2 === 1) return match; // `\\u0000`: the six characters, not a NUL
      return backslashes + (code === '0000' ? '' : '\\ufffd');
    },
  );
}

/**
 * The query with U+0000 dropped from its string parameters (the same object when there is none).
 * Lone surrogates in plain strings need nothing: the driver's UTF-8 encoding already writes U+FFFD.
 */
export function storableQuery(query: CompiledQuery): CompiledQuery {
  const { parameters } = query;
  let cleaned: unknown[] | undefined;
  for (let i = 0; i < parameters.length; i++) {
    const p = parameters[i];
    if (typeof p === 'string' && p.includes('\u0000')) {
      cleaned ??= [...parameters];
      cleaned[i] = p.replaceAll('\u0000', '');
    }
  }
  return cleaned ? { ...query, parameters: cleaned } : query;
}
