import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/**
 * Helpers for handing Fastify's untouched Node request to oidc-provider (a Koa app): the path
 * below /realms/<realm>, the public origin as forwarded headers, and a request whose body was
 * read already replayed as a fresh stream.
 */

/** oidc-provider refuses bodies over 56 KiB; nothing legitimate comes close. */
export const MAX_BODY_BYTES = 56 * 1024;

export class BodyTooLargeError extends Error {}

/**
 * The part of `rawUrl` below `prefix` (duplicate slashes merged: the extension joins paths by
 * concatenation, so `//realms/gw/...` arrives), with the query kept; undefined when outside it.
 */
export function pathBelow(rawUrl: string, prefix: string): string | undefined {
  const q = rawUrl.indexOf('?');
  const pathname = (q < 0 ? rawUrl : rawUrl.slice(0, q)).replace(/\/{2,}/g, '/');
  const query = q < 0 ? '' : rawUrl.slice(q);
  if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return undefined;
  return (pathname.slice(prefix.length) || '/') + query;
}

/**
 * Headers that make Koa (with `proxy` on) see the public origin: generated URLs then use the
 * publicUrl whatever Host the request had. Incoming X-Forwarded-* are replaced, never trusted.
 */
export function withPublicOrigin(
  headers: IncomingHttpHeaders,
  publicUrl: URL,
  clientIp: string,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  delete out.forwarded;
  out['x-forwarded-host'] = publicUrl.host;
  out['x-forwarded-proto'] = publicUrl.protocol.replace(/:$/, '');
  out['x-forwarded-for'] = clientIp;
  return out;
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A stand-in for a request whose body was consumed: same socket and method, the given URL,
 * headers and body. Koa and oidc-provider only read these fields and the stream.
 */
export function replayRequest(
  original: IncomingMessage,
  init: {
    url: string;
    originalUrl: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
    /** Another method than the original's (a POSTed form replayed as a GET). */
    method?: string;
  },
): IncomingMessage {
  const stream = new Readable({ read() {} });
  stream.push(init.body);
  stream.push(null);
  const headers: IncomingHttpHeaders = { ...init.headers, 'content-length': String(init.body.length) };
  delete headers['transfer-encoding'];
  return Object.assign(stream, {
    method: init.method ?? original.method,
    url: init.url,
    originalUrl: init.originalUrl,
    headers,
    rawHeaders: original.rawHeaders,
    httpVersion: original.httpVersion,
    httpVersionMajor: original.httpVersionMajor,
    httpVersionMinor: original.httpVersionMinor,
    socket: original.socket,
    connection: original.socket,
  }) as unknown as IncomingMessage;
}
