import type { FastifyRequest } from 'fastify';

/** Who made a request, once its credentials were checked. Every handler behind auth sees it. */
export interface Identity {
  userId: string;
  /** The user name (the JWT's preferred_username). */
  name: string;
  via: 'jwt' | 'api_token' | 'trusted_header';
}

/**
 * Checks a request's credentials (Bearer JWT, personal API token, or the `api-key` header with
 * either). Resolves to the identity, or rejects with an HttpError 401 naming what is wrong.
 */
export type Authenticate = (req: FastifyRequest) => Promise<Identity>;

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
}
