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
  const chunks: Buffer[] = [Buffer.from(open)];
  for (const piece of pieces) {
    // Each piece escaped on its own and without its quotes. JSON escapes are per character (a
    // surrogate half alone becomes \udXXX, which still decodes to the pair), so the pieces' JSON
    // joined is the JSON of their join.
    const quoted = Buffer.from(JSON.stringify(piece));
    chunks.push(quoted.subarray(1, quoted.length - 1));
  }
  chunks.push(CLOSE);
  return Buffer.concat(chunks);
}

const CLOSE = Buffer.from('"}');
