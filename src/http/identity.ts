import type { FastifyRequest } from 'fastify';

/** Who made a request, once its credentials were checked. Every handler behind auth sees it. */
export interface Identity {
  userId: string;
  /** The user name (the JWT's preferred_username). */
  name: string;
  via: 'jwt' | 'api_token' | 'trusted_header';
}

/**
 * What a credential check reads from a request. A FastifyRequest is one; the Socket.IO chat
 * builds one from its CONNECT `auth` so both go through the same check.
 */
export interface CredentialSource {
  headers: FastifyRequest['headers'];
  ip: string;
  socket: { remoteAddress?: string | undefined };
}

/**
 * Checks a request's credentials (Bearer JWT, personal API token, or the `api-key` / `x-api-key`
 * header with either). Resolves to the identity, or rejects with an HttpError 401 naming what is wrong.
 */
export type Authenticate = (req: CredentialSource) => Promise<Identity>;

/** A bearer credential presented outside HTTP headers (Socket.IO auth), as a CredentialSource. */
export function bearerCredential(token: string, address: string): CredentialSource {
  return { headers: { authorization: `Bearer ${token}` }, ip: address, socket: { remoteAddress: address } };
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
}
