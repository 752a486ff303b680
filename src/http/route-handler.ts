import type { FastifyReply, FastifyRequest } from 'fastify';

/** What a role provides for one route-table entry; the gateway mounts it under the entry's paths. */
export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
