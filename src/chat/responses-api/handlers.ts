import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, sendError } from '../../http/errors.js';
import { clientLink, parseJsonBody } from '../../http/request.js';
import type { RouteHandler } from '../../http/route-handler.js';
import '../../http/identity.js';
import { RESPONSES_REQUEST, responsesInputOf } from '../../models/index.js';
import { ChatStreamError } from '../errors.js';
import type { ChatEvent, ChatService } from '../service.js';
import { SseWriter } from '../sse.js';
import type { ChatContext, ChatMessage, ChatOutcome } from '../types.js';
import { ResponseAssembler, type ResponseEvent } from './output.js';
import {
  chatMessagesOf,
  chatOptionsOf,
  type ResponsesBody,
  resolveReferences,
  responsesBody,
} from './request.js';
import type { ResponseStore } from './store.js';

/**
 * `POST /v1/responses`, the OpenAI Responses API, on the chat pipeline: the request becomes a
 * Chat Completions body for ChatService (so quotas, the content filter, the ledger, metrics,
 * deadlines, retries and fallback are the ones every chat gets), and its stream comes back as
 * Responses events. Stored responses make `previous_response_id` work.
 */

export interface ResponsesApiDeps {
  service: ChatService;
  store: ResponseStore;
  log: FastifyBaseLogger;
}

/**
 * The request for a model server that speaks Responses itself: the client's body with every
 * field kept, except that the conversation Shenma stored is spelled out (the server never saw
 * Shenma's response ids) and item references are resolved.
 */
function passThrough(sent: unknown, body: ResponsesBody, history: ChatMessage[]): Record<string, unknown> {
  const {
    previous_response_id: _previous,
    stream: _stream,
    store: _store,
    ...rest
  } = sent as Record<string, unknown>;
  const input =
    typeof body.input === 'string'
      ? [{ type: 'message', role: 'user', content: body.input }]
      : (body.input ?? []);
  return { ...rest, input: [...responsesInputOf(history), ...input] };
}

/** The stream error as the Responses API's `error.code`. */
function errorCode(err: ChatStreamError): string {
  return err.status === 429 ? 'rate_limit_exceeded' : err.status >= 500 ? 'server_error' : err.type;
}

function toHttpError(err: ChatStreamError): HttpError {
  return new HttpError(err.status, err.type, err.message, undefined, err.retryAfter);
}

/** Runs one response to its end, handing each batch of events to `emit` as it is made. */
async function run(
  events: AsyncIterable<ChatEvent>,
  assembler: ResponseAssembler,
  emit: (events: ResponseEvent[] | 'keepalive') => Promise<void>,
  beforeEnd: (outcome: ChatOutcome) => Promise<void>,
): Promise<void> {
  await emit(assembler.start());
  for await (const event of events) {
    if (event.type === 'keepalive') await emit('keepalive');
    else if (event.type === 'chunks') {
      const out: ResponseEvent[] = [];
      for (const c of event.chunks) out.push(...assembler.add(c.chunk.json, c.text, event.model));
      await emit(out);
    } else {
      await beforeEnd(event.outcome);
      await emit(assembler.finish(event.outcome));
    }
  }
}

export function responsesHandlers(deps: ResponsesApiDeps): { 'chat.responses': RouteHandler } {
  const { service, store } = deps;

  /** This response's turn in Chat form, for the next one in the chain. */
  const turnOf = (
    input: ChatMessage[],
    assembler: ResponseAssembler,
    outcome: ChatOutcome,
  ): ChatMessage[] => {
    const response = assembler.response('completed', outcome);
    const calls = response.output.flatMap((item) =>
      item.type === 'function_call'
        ? [{ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } }]
        : [],
    );
    const answer: ChatMessage = {
      role: 'assistant',
      content: outcome.answer === '' && calls.length > 0 ? null : outcome.answer,
      ...(calls.length > 0 ? { tool_calls: calls } : {}),
    };
    return [...input.filter((m) => m.role !== 'system'), answer];
  };

  return {
    'chat.responses': async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const parsed = parseJsonBody(responsesBody, req.body);
        const identity = req.identity;
        const user = identity
          ? { id: identity.userId, name: identity.name }
          : { id: 'anonymous', name: 'anonymous' };
        const body: ResponsesBody = await resolveReferences(parsed, (ids) => store.items(user.id, ids));
        const model = body.model ?? service.defaultModel();
        if (!model) {
          throw new HttpError(
            503,
            'model_unavailable',
            'no chat model is configured (see models: in shenma.yaml)',
          );
        }
        let history: ChatMessage[] = [];
        if (body.previous_response_id) {
          const found = await store.conversation(user.id, body.previous_response_id);
          if (!found) {
            throw new HttpError(
              404,
              'not_found_error',
              `previous_response_id: no stored response "${body.previous_response_id}" (responses sent with store: false are not kept)`,
              'previous_response_id',
            );
          }
          history = found;
        }
        const input = chatMessagesOf(body);
        if (!input.some((m) => m.role !== 'system')) {
          throw new HttpError(
            400,
            'invalid_request_error',
            'input: required (text or at least one item)',
            'input',
          );
        }
        const system = input.filter((m) => m.role === 'system');
        const messages = [...system, ...history, ...input.filter((m) => m.role !== 'system')];
        const ctx: ChatContext = {
          requestId: String(req.id),
          user,
          route: 'responses',
          model,
          messages,
        };
        const chatBody = {
          ...chatOptionsOf(body),
          messages,
          [RESPONSES_REQUEST]: passThrough(req.body, body, history),
        };
        const events = await service.open(ctx, chatBody, clientLink(reply));
        const assembler = new ResponseAssembler(body, model);
        const keep = async (outcome: ChatOutcome) => {
          if (body.store === false) return;
          try {
            await store.save({
              id: assembler.id,
              userId: user.id,
              previousId: body.previous_response_id ?? null,
              model: outcome.model,
              messages: turnOf(input, assembler, outcome),
              items: assembler.response('completed', outcome).output,
            });
          } catch (err) {
            // The answer is complete and in the ledger; only continuing from it will fail.
            deps.log.warn({ err, requestId: ctx.requestId }, 'storing the response failed');
          }
        };
        if (body.stream === true) {
          await streamResponse(reply, events, assembler, keep);
          return reply;
        }
        let final: unknown;
        await run(
          events,
          assembler,
          async (batch) => {
            if (batch === 'keepalive') return;
            const last = batch[batch.length - 1];
            if (last?.type === 'response.completed' || last?.type === 'response.incomplete')
              final = last['response'];
          },
          keep,
        );
        return reply.send(final);
      } catch (err) {
        if (err instanceof ChatStreamError) return sendError(reply, toHttpError(err));
        if (err instanceof HttpError) return sendError(reply, err);
        throw err;
      }
    },
  };
}

async function streamResponse(
  reply: FastifyReply,
  events: AsyncIterable<ChatEvent>,
  assembler: ResponseAssembler,
  beforeEnd: (outcome: ChatOutcome) => Promise<void>,
): Promise<void> {
  // The opening events wait for the answer's first chunk, so a refusal before it still gets
  // a real HTTP status; keep-alive comments are the first bytes when the model is slow.
  let writer: SseWriter | undefined;
  let held: ResponseEvent[] = [];
  const sse = () => {
    if (!writer) {
      reply.hijack();
      writer = new SseWriter(reply.raw, reply.getHeaders() as OutgoingHttpHeaders);
    }
    return writer;
  };
  // One socket write per batch; nothing (not even the headers) for an empty one.
  const write = async (batch: ResponseEvent[]) => {
    const written = batch.length > 0 ? sse().events(batch) : undefined;
    if (written) await written;
  };
  try {
    await run(
      events,
      assembler,
      async (batch) => {
        if (batch === 'keepalive') {
          await sse().comment('keep-alive');
          return;
        }
        if (!writer && batch[0]?.type === 'response.created') {
          held = batch;
          return;
        }
        await write([...held.splice(0), ...batch]);
      },
      beforeEnd,
    );
    await write(held.splice(0));
    sse().end();
  } catch (err) {
    if (!(err instanceof ChatStreamError)) throw err;
    if (reply.raw.destroyed) return;
    if (!writer) {
      sendError(reply, toHttpError(err));
      return;
    }
    await write([...held.splice(0), ...assembler.fail(errorCode(err), err.message)]);
    writer.end();
  }
}
