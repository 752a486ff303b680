import type { FastifyRequest } from 'fastify';

/**
 * Who is calling, for supersede keys, limits and records. Until credentials are verified on
 * every route (identity issue), this is the client address; the verified user will replace it.
 */
export interface Caller {
  /** Stable key for per-caller state. */
  key: string;
  /** User name when known. */
  user?: string;
}

export function callerOf(req: FastifyRequest): Caller {
  return { key: req.ip };
}
