import type { ChatChunk, ChatChunkJson } from './backend.js';
import { EventBatches } from './event-batches.js';
import { parseJson, sseDecoder, streamedError, type UpstreamClient, UpstreamError } from './http.js';

/**
 * The OpenAI chat-completions stream, shared by every backend kind: vLLM, Ollama and llama.cpp
 * all serve the OpenAI-compatible API, so only the path differs.
 */

/** Message text, so upstream error messages that quote the conversation are withheld. */
function conversationText(body: Record<string, unknown>): string[] {
  const messages = body['messages'];
  if (!Array.isArray(messages)) return [];
  const out: string[] = [];
  for (const m of messages) {
    const content: unknown = (m as { content?: unknown } | null)?.content;
    if (typeof content === 'string') out.push(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text: unknown = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') out.push(text);
      }
    }
  }
  return out;
}

/**
 * The body as sent upstream: streaming is forced (non-streaming clients are served by
 * aggregating, so there is one code path) and usage is always asked for, so the ledger gets real
 * token counts; the caller strips the usage chunk for clients that did not ask.
 */
export function upstreamChatBody(body: Record<string, unknown>): Record<string, unknown> {
  const options = body['stream_options'];
  return {
    ...body,
    stream: true,
    stream_options: {
      ...(options && typeof options === 'object' && !Array.isArray(options) ? options : {}),
      include_usage: true,
    },
  };
}

function parseChunk(payload: string, secrets: readonly string[]): ChatChunkJson {
  const event = parseJson(payload, 'chat event');
  const error = streamedError(event, secrets);
  if (error) throw error;
  const choices = event['choices'];
  if (choices !== undefined && !Array.isArray(choices)) {
    throw new UpstreamError('protocol', 'backend sent a chat event whose choices is not a list');
  }
  for (const choice of (choices ?? []) as unknown[]) {
    if (!choice || typeof choice !== 'object')
      throw new UpstreamError('protocol', 'backend sent a malformed choice');
    const delta: unknown = (choice as { delta?: unknown }).delta;
    if (delta === undefined || delta === null) continue;
    if (typeof delta !== 'object') throw new UpstreamError('protocol', 'backend sent a malformed delta');
    const content: unknown = (delta as { content?: unknown }).content;
    if (content !== undefined && content !== null && typeof content !== 'string') {
      throw new UpstreamError('protocol', 'backend sent a delta whose content is not a string');
    }
  }
  return event as ChatChunkJson;
}

/**
 * Posts the chat body and yields its `data:` events until `[DONE]`, the events of one network
 * read together (see {@link EventBatches}).
 */
export function streamChatCompletion(
  client: UpstreamClient,
  path: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
): AsyncIterableIterator<ChatChunk[]> {
  const secrets = conversationText(body);
  let finished = false;
  return new EventBatches<ChatChunk>(
    () => client.open('POST', { path, body: upstreamChatBody(body), secrets }, signal),
    signal,
    sseDecoder(),
    (payload) => {
      // Only a short payload can be the terminator: no trim (a copy) of every chunk.
      if (payload.length < 16 && payload.trim() === '[DONE]') return { done: true };
      const json = parseChunk(payload, secrets);
      if (!finished && json.choices?.some((c) => c.finish_reason !== null && c.finish_reason !== undefined))
        finished = true;
      return { value: { raw: payload, json } };
    },
    // Some servers close without [DONE]; an answer that carried its finish_reason is still whole.
    () => finished,
  );
}
