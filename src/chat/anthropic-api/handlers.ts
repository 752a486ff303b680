import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { anthropicErrorBody, sendAnthropicError } from '../../http/anthropic-errors.js';
import { HttpError } from '../../http/errors.js';
import { clientLink, parseJsonBody } from '../../http/request.js';
import type { RouteHandler } from '../../http/route-handler.js';
import '../../http/identity.js';
import { estimatePromptTokens } from '../answer.js';
import { ChatStreamError } from '../errors.js';
import type { ChatEvent, ChatService } from '../service.js';
import { SseWriter } from '../sse.js';
import type { ChatContext } from '../types.js';
import { MessageAssembler, type MessageEvent } from './output.js';
import { chatMessagesOf, chatOptionsOf, countTokensBody, messagesBody, toolChars } from './request.js';

/**
 * `POST /v1/messages` and `/v1/messages/count_tokens`, the Anthropic Messages API, on the chat
 * pipeline: the request becomes a Chat Completions body for ChatService (quotas, content filter,
 * ledger, metrics, deadlines, retries and fallback as for every chat) and the answer comes back
 * as an Anthropic message or its stream of events. Errors use Anthropic's error shape (the route
 * table gives these routes that error handler, so auth and body errors match).
 */

export interface AnthropicApiDeps {
  service: ChatService;
  charsPerToken: number;
}

function toHttpError(err: ChatStreamError): HttpError {
  return new HttpError(err.status, err.type, err.message, undefined, err.retryAfter);
}

function userOf(req: FastifyRequest) {
  const identity = req.identity;
  return identity ? { id: identity.userId, name: identity.name } : { id: 'anonymous', name: 'anonymous' };
}

/** A model the caller may use, or a 404 listing those there are (Anthropic clients send their own defaults). */
function checkModel(service: ChatService, model: string): void {
  if (!service.listModels().includes(model)) {
    throw new HttpError(
      404,
      'not_found_error',
      `model: "${model}" is not a chat model here; available: ${service.listModels().join(', ') || 'none'}`,
      'model',
    );
  }
}

/**
 * `GET /v1/models` for both APIs: Anthropic's SDKs send `anthropic-version`, and get the list in
 * Anthropic's shape; everyone else gets the OpenAI list from `openAi`.
 */
export function modelsForEitherApi(service: ChatService, openAi: RouteHandler): RouteHandler {
  const createdAt = new Date().toISOString();
  return async (req, reply) => {
    if (req.headers['anthropic-version'] === undefined) return openAi(req, reply);
    const data = service
      .listModels()
      .map((id) => ({ type: 'model', id, display_name: id, created_at: createdAt }));
    return reply.send({
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    });
  };
}

export function anthropicHandlers(deps: AnthropicApiDeps): {
  'chat.anthropicMessages': RouteHandler;
  'chat.anthropicCountTokens': RouteHandler;
} {
  const { service, charsPerToken } = deps;
  return {
    'chat.anthropicMessages': async (req, reply) => {
      try {
        const body = parseJsonBody(messagesBody, req.body);
        checkModel(service, body.model);
        const messages = chatMessagesOf(body);
        const options = chatOptionsOf(body);
        const ctx: ChatContext = {
          requestId: String(req.id),
          user: userOf(req),
          route: 'anthropic',
          model: body.model,
          messages,
        };
        const estimate =
          estimatePromptTokens(messages, charsPerToken) + Math.ceil(toolChars(body) / charsPerToken);
        const events = await service.open(ctx, { ...options, messages }, clientLink(reply));
        const assembler = new MessageAssembler(body.model, estimate);
        if (body.stream === true) {
          await streamMessage(reply, events, assembler);
          return reply;
        }
        for await (const event of events) {
          if (event.type === 'chunks')
            for (const c of event.chunks) assembler.add(c.chunk.json, c.text, event.model);
          else if (event.type === 'end') return reply.send(assembler.message(event.outcome));
        }
        throw new Error('chat stream ended without an end event');
      } catch (err) {
        if (err instanceof ChatStreamError) return sendAnthropicError(reply, toHttpError(err));
        if (err instanceof HttpError) return sendAnthropicError(reply, err);
        throw err;
      }
    },
    'chat.anthropicCountTokens': async (req, reply) => {
      const body = parseJsonBody(countTokensBody, req.body);
      checkModel(service, body.model);
      const messages = chatMessagesOf(body);
      const tokens =
        estimatePromptTokens(messages, charsPerToken) + Math.ceil(toolChars(body) / charsPerToken);
      return reply.send({ input_tokens: tokens });
    },
  };
}

async function streamMessage(
  reply: FastifyReply,
  events: AsyncIterable<ChatEvent>,
  assembler: MessageAssembler,
): Promise<void> {
  // message_start waits for the first chunk, so a refusal before it still gets a real status.
  let writer: SseWriter | undefined;
  const held: MessageEvent[] = assembler.start();
  const sse = () => {
    if (!writer) {
      reply.hijack();
      writer = new SseWriter(reply.raw, reply.getHeaders() as OutgoingHttpHeaders);
    }
    return writer;
  };
  // One socket write per batch; nothing (not even the headers) for an empty one.
  const write = async (batch: MessageEvent[]) => {
    const all = held.length > 0 ? [...held.splice(0), ...batch] : batch;
    const written = all.length > 0 ? sse().events(all) : undefined;
    if (written) await written;
  };
  try {
    for await (const event of events) {
      // Anthropic's own keep-alive is the ping event; its SDKs skip it.
      if (event.type === 'keepalive') await write([{ type: 'ping' }]);
      else if (event.type === 'chunks') {
        const out: MessageEvent[] = [];
        for (const c of event.chunks) out.push(...assembler.add(c.chunk.json, c.text, event.model));
        await write(out);
      } else await write(assembler.finish(event.outcome));
      if (writer?.closed) break;
    }
    sse().end();
  } catch (err) {
    if (!(err instanceof ChatStreamError)) throw err;
    if (reply.raw.destroyed) return;
    if (!writer) {
      sendAnthropicError(reply, toHttpError(err));
      return;
    }
    // Headers are out: Anthropic's in-stream error event, which its SDKs raise.
    await sse().event('error', JSON.stringify(anthropicErrorBody(err.type, err.message, err.status)));
    writer.end();
  }
}
