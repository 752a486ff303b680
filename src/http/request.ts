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

/**
 * The client's end of a request as the completion engine takes it. Not an AbortSignal: the engine
 * makes one controller per request anyway (deadline, supersede), and a second signal only to
 * chain the client into it cost a signal, an event target and a listener per completion.
 */
export interface ClientLink {
  /** The response closed before it finished. */
  readonly gone: boolean;
  /** Calls `listener` when the client goes away before its answer; returns the unsubscribe. */
  onGone(listener: () => void): () => void;
}

export function clientLink(reply: FastifyReply): ClientLink {
  const raw = reply.raw;
  return {
    get gone() {
      return raw.destroyed && !raw.writableFinished;
    },
    onGone(listener) {
      const onClose = () => {
        if (!raw.writableFinished) listener();
      };
      raw.once('close', onClose);
      return () => raw.off('close', onClose);
    },
  };
}
