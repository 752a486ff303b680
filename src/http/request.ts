import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { logAbandonedRequest } from '../observability/access-log.js';
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

/**
 * The client's end of a request as the completion engine and the chat service take it: whether it
 * left, and news when it does. Not an AbortSignal: the callers make one controller per request
 * anyway (deadlines, supersede), and a second signal only to chain the client into it cost a
 * signal, an EventTarget with two Maps and a listener per request (about 0.8 KiB per open chat
 * stream).
 */
export interface ClientLink {
  /** The client left before its answer was complete. */
  readonly gone: boolean;
  /** Calls `listener` (at most once) when the client leaves; returns the unsubscribe. */
  onGone(listener: () => void): () => void;
}

/** The client dropping an HTTP response before it finished: a flag and one listener on 'close'. */
export class ClientGone implements ClientLink {
  private left = false;
  private listener: (() => void) | undefined;

  constructor(
    private readonly res: ServerResponse,
    /** Told after the listener, once, when the client has left. */
    onLeft?: () => void,
  ) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.left = true;
      const listener = this.listener;
      this.listener = undefined;
      listener?.();
      onLeft?.();
    });
  }

  get gone(): boolean {
    // A response already closed when this was made never says so again.
    return this.left || (this.res.destroyed && !this.res.writableFinished);
  }

  /** One listener at a time (the one caller's). */
  onGone(listener: () => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }
}

/** The client of a Fastify request; its leaving is also written to the access log. */
export function clientLink(reply: FastifyReply): ClientLink {
  return new ClientGone(reply.raw, () => logAbandonedRequest(reply));
}

/** A caller that has an AbortSignal for its client (the socket chat's run) as a link. */
export function signalLink(signal: AbortSignal): ClientLink {
  return {
    get gone() {
      return signal.aborted;
    },
    onGone(listener) {
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}
