import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { errorBody, HttpError, sendError } from '../http/errors.js';
import { clientLink, parseJsonBody } from '../http/request.js';
import type { RouteHandler } from '../http/route-handler.js';
import { noteOutcome } from '../observability/access-log.js';
import '../http/identity.js';
import type { ChatChunk } from '../models/index.js';
import { CompletionAggregator } from './aggregate.js';
import { ChatStreamError } from './errors.js';
import type { ChatEvent, ChatService } from './service.js';
import { SseWriter } from './sse.js';
import type { ChatContext, ChatMessage } from './types.js';

/**
 * The OpenAI-compatible chat API (`/v1/chat/completions`, `/v1/models`): what Roo-based
 * clients, Continue, Cline and the `openai` SDK speak. Only the fields Shenma acts on are
 * validated; everything else (tools, tool_choice, response_format, temperature, ...) goes
 * upstream untouched.
 */

const ROLES = ['system', 'user', 'assistant', 'tool', 'developer'] as const;

const messageSchema = z.looseObject({
  role: z.enum(ROLES),
  content: z.union([z.string(), z.array(z.unknown()), z.null()]).optional(),
});

export const chatCompletionBody = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z.array(messageSchema).min(1, 'must contain at least one message'),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
});

/** The chunk as the client gets it: the configured model name instead of the upstream id. */
function clientPayload(chunk: ChatChunk, model: string): string {
  if (chunk.json.model === undefined || chunk.json.model === model) return chunk.raw;
  return JSON.stringify({ ...chunk.json, model });
}

/** The chunk Shenma asked for on the client's behalf (usage, no choices). */
function isUsageOnly(chunk: ChatChunk): boolean {
  return !!chunk.json.usage && (chunk.json.choices ?? []).length === 0;
}

function toHttpError(err: ChatStreamError): HttpError {
  return new HttpError(err.status, err.type, err.message, undefined, err.retryAfter);
}

async function streamAnswer(
  reply: FastifyReply,
  events: AsyncIterable<ChatEvent>,
  includeUsage: boolean,
): Promise<void> {
  let writer: SseWriter | undefined;
  // Headers wait for the first event, so failures before it still get a real HTTP status.
  const sse = () => {
    if (!writer) {
      reply.hijack();
      writer = new SseWriter(reply.raw, reply.getHeaders() as OutgoingHttpHeaders);
    }
    return writer;
  };
  try {
    for await (const event of events) {
      if (event.type === 'keepalive') await sse().comment('keep-alive');
      else if (event.type === 'chunks') {
        // The chunks of one upstream read leave in one write.
        const payloads: string[] = [];
        for (const { chunk } of event.chunks) {
          if (!includeUsage && isUsageOnly(chunk)) continue;
          payloads.push(clientPayload(chunk, event.model));
        }
        if (payloads.length > 0) {
          const written = sse().dataMany(payloads);
          if (written) await written;
        }
      } else sse().end('[DONE]');
      if (writer?.closed) break;
    }
  } catch (err) {
    if (!(err instanceof ChatStreamError)) throw err;
    noteOutcome(reply.request, { reason: err.type });
    if (reply.raw.destroyed) return;
    if (!writer) {
      sendError(reply, toHttpError(err));
      return;
    }
    // Headers are out: the error becomes an event the OpenAI SDKs raise, then the stream ends.
    await writer.data(JSON.stringify(errorBody(err.type, err.message)));
    writer.end('[DONE]');
  }
}

async function answerWhole(reply: FastifyReply, events: AsyncIterable<ChatEvent>, requestId: string) {
  const aggregator = new CompletionAggregator();
  let model = '';
  try {
    for await (const event of events) {
      if (event.type === 'chunks') {
        for (const { chunk } of event.chunks) aggregator.add(chunk.json);
        model = event.model;
      } else if (event.type === 'end') {
        return reply.send(
          aggregator.result(model || event.outcome.model, event.outcome, `chatcmpl-${requestId}`),
        );
      }
    }
  } catch (err) {
    if (!(err instanceof ChatStreamError)) throw err;
    return sendError(reply, toHttpError(err));
  }
  throw new Error('chat stream ended without an end event');
}

export function openAiChatHandlers(service: ChatService): {
  'chat.completions': RouteHandler;
  'chat.models': RouteHandler;
} {
  const created = Math.floor(Date.now() / 1000);
  return {
    'chat.completions': async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const body = parseJsonBody(chatCompletionBody, req.body);
        const model = body.model ?? service.defaultModel();
        if (!model) {
          throw new HttpError(
            503,
            'model_unavailable',
            'no chat model is configured (see models: in shenma.yaml)',
          );
        }
        const identity = req.identity;
        const ctx: ChatContext = {
          requestId: String(req.id),
          user: identity
            ? { id: identity.userId, name: identity.name }
            : { id: 'anonymous', name: 'anonymous' },
          route: 'openai',
          model,
          messages: body.messages as ChatMessage[],
        };
        noteOutcome(req, { model });
        // The body as the client sent it: unknown fields must reach the model untouched.
        const events = await service.open(ctx, req.body as Record<string, unknown>, clientLink(reply));
        if (body.stream === true) {
          await streamAnswer(reply, events, body.stream_options?.include_usage === true);
          return reply;
        }
        return await answerWhole(reply, events, ctx.requestId);
      } catch (err) {
        if (err instanceof HttpError) return sendError(reply, err);
        throw err;
      }
    },
    'chat.models': async (_req, reply) => {
      return reply.send({
        object: 'list',
        data: service
          .catalog()
          .map(({ id, roles }) => ({ id, object: 'model', created, owned_by: 'shenma', roles })),
      });
    },
  };
}
