import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import type { Authenticate, Identity } from './identity.js';

/**
 * A 401 that also says what the WWW-Authenticate header must be (RFC 6750 §3). HttpError has no
 * headers, so the challenge travels on the error and `authenticateWithChallenge` puts it on the
 * reply before the error handler sends the JSON body.
 */
export class AuthenticationError extends HttpError {
  /** The WWW-Authenticate value: `Bearer` alone when nothing was sent, else with error="invalid_token". */
  readonly wwwAuthenticate: string;

  constructor(message: string, kind: 'missing' | 'invalid' = 'invalid') {
    super(401, 'authentication_error', message);
    // RFC 6750 §3: no error code when the request carried no credentials at all.
    this.wwwAuthenticate =
      kind === 'missing'
        ? 'Bearer'
        : `Bearer error="invalid_token", error_description="${quotable(message)}"`;
  }
}

/** error_description allows %x20-21 / %x23-5B / %x5D-7E only: no quote, no backslash, ASCII. */
function quotable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "'").slice(0, 200);
}

/**
 * Runs `authenticate` and, when it fails with an AuthenticationError, sets WWW-Authenticate on the
 * reply before rethrowing; the error handler then sends the usual JSON error with that header.
 */
export async function authenticateWithChallenge(
  authenticate: Authenticate,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Identity> {
  try {
    return await authenticate(req);
  } catch (err) {
    if (err instanceof AuthenticationError) reply.header('www-authenticate', err.wwwAuthenticate);
    throw err;
  }
}
