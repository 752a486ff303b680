import type { FastifyRequest } from 'fastify';
import './identity.js';

/** Who is calling, for supersede keys, limits and records: the verified user, else the address. */
export interface Caller {
  /** Stable key for per-caller state. */
  key: string;
  /** User name when the route is behind auth. */
  user?: string;
}

export function callerOf(req: FastifyRequest): Caller {
  const id = req.identity;
  return id ? { key: `u:${id.userId}`, user: id.name } : { key: `ip:${req.ip}` };
}
