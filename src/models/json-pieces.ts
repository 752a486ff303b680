/**
 * A JSON request body as UTF-8 bytes, with its one large text field given in pieces.
 *
 * Why not `JSON.stringify` then `Buffer.from`: a FIM prompt is the user's code between the
 * template's tags, and some families' tags are not Latin-1 (deepseek-coder's `<｜fim▁begin｜>`).
 * One such character makes V8 hold the whole prompt, and then the whole JSON text, as a two-byte
 * string, which is twice the bytes and leaves UTF-8 encoding's fast path. Encoding piece by piece
 * keeps the code a one-byte string from the client's body to the socket.
 */
export function jsonWithTextPieces(
  fields: Readonly<Record<string, unknown>>,
  key: string,
  pieces: readonly string[],
): Buffer {
  if (Object.hasOwn(fields, key)) throw new Error(`jsonWithTextPieces: "${key}" is given twice`);
  const rest = JSON.stringify(fields);
  // `{"a":1}` → `{"a":1,"key":"`; `{}` → `{"key":"`.
  const open = `${rest.length > 2 ? `${rest.slice(0, -1)},` : '{'}${JSON.stringify(key)}:"`;
  // Each piece escaped on its own. JSON escapes are per character (a surrogate half alone becomes
  // \udXXX, which still decodes to the pair), so the pieces' JSON joined is the JSON of their join.
  const quoted = pieces.length === 0 ? ['""'] : pieces.map((piece) => JSON.stringify(piece));
  // Written straight into one buffer of the final size, each piece without its opening quote:
  // its closing quote is overwritten by the next piece, and the last one's stays.
  let size = Buffer.byteLength(open) + 2; // and the last closing quote, and `}`
  for (const q of quoted) size += Buffer.byteLength(q) - 2;
  const body = Buffer.allocUnsafe(size);
  let at = body.write(open, 0, 'utf8');
  for (const q of quoted) at += body.write(q.slice(1), at, 'utf8') - 1;
  body[at + 1] = 0x7d; // }
  return body;
}
