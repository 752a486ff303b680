import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { badRequestFromZod, HttpError } from './errors.js';

/** Validates a JSON object body: anything else, or a field the schema refuses, is a 400. */
export function parseJsonBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_request_error', 'body must be a JSON object');
  }
  const r = schema.safeParse(body);
  if (!r.success) throw badRequestFromZod(r.error);
  return r.data;
}

/** An AbortSignal that fires when the client drops the connection before the answer was complete. */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
