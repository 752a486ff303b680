import type { ChatChunk, ChatChunkJson } from './backend.js';
import { EventBatches } from './event-batches.js';
import { parseJson, sseDecoder, type UpstreamClient, UpstreamError, withholdQuotes } from './http.js';

/**
 * Chat on a model server that speaks the OpenAI Responses API (`chatApi: responses`): the chat
 * pipeline still deals in Chat Completions chunks, so the request is sent as a Responses request
 * and the Responses events come back as chat chunks (text, tool calls, finish reason, usage).
 *
 * A request that came in on Shenma's own `/v1/responses` carries the client's Responses request
 * under {@link RESPONSES_REQUEST}; it is sent as is (input already resolved, model set) instead
 * of being rebuilt from the chat messages, so Responses fields with no Chat equivalent
 * (reasoning, include, truncation, ...) reach the server.
 */

/**
 * Where the client's own Responses request rides on a chat body. A symbol: it survives object
 * spreads through the chat pipeline and JSON.stringify never sends it to a Chat server.
 */
export const RESPONSES_REQUEST = Symbol('shenma.responsesRequest');

type Body = Record<string | symbol, unknown>;
type Message = { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => (typeof (p as { text?: unknown })?.text === 'string' ? (p as { text: string }).text : ''))
    .join('');
}

/** Chat content parts as Responses input parts (text and images; others have no counterpart). */
function inputParts(content: unknown, role: string): unknown {
  if (typeof content === 'string' || !Array.isArray(content)) return textOf(content);
  const textType = role === 'assistant' ? 'output_text' : 'input_text';
  return content.flatMap((p): Record<string, unknown>[] => {
    const part = p as {
      type?: string;
      text?: string;
      image_url?: { url?: string; detail?: string } | string;
    };
    if (part.type === 'text' && typeof part.text === 'string') return [{ type: textType, text: part.text }];
    if (part.type === 'image_url') {
      const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
      const detail = typeof part.image_url === 'object' ? part.image_url?.detail : undefined;
      return url ? [{ type: 'input_image', image_url: url, ...(detail ? { detail } : {}) }] : [];
    }
    return [];
  });
}

/** Chat messages as Responses input items. */
export function responsesInputOf(messages: readonly Message[]): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  for (const m of messages) {
    const role = String(m.role);
    if (role === 'tool') {
      items.push({
        type: 'function_call_output',
        call_id: String(m.tool_call_id ?? ''),
        output: textOf(m.content),
      });
      continue;
    }
    const text = textOf(m.content);
    if (role === 'assistant') {
      if (text) items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] });
      for (const call of (Array.isArray(m.tool_calls) ? m.tool_calls : []) as {
        id?: string;
        function?: { name?: string; arguments?: string };
      }[]) {
        items.push({
          type: 'function_call',
          call_id: call.id ?? '',
          name: call.function?.name ?? '',
          arguments: call.function?.arguments ?? '',
        });
      }
      continue;
    }
    items.push({ type: 'message', role, content: inputParts(m.content, role) });
  }
  return items;
}

/** A Chat Completions body as a Responses request (fields with no Responses counterpart, like `stop`, are dropped). */
export function responsesRequestOf(body: Body): Record<string, unknown> {
  const passed = body[RESPONSES_REQUEST];
  if (passed && typeof passed === 'object') {
    return { ...(passed as Record<string, unknown>), model: body['model'], stream: true, store: false };
  }
  const out: Record<string, unknown> = {
    model: body['model'],
    input: responsesInputOf((body['messages'] as Message[] | undefined) ?? []),
    stream: true,
    store: false,
  };
  const max = body['max_completion_tokens'] ?? body['max_tokens'];
  if (typeof max === 'number') out['max_output_tokens'] = max;
  for (const field of ['temperature', 'top_p', 'user', 'parallel_tool_calls', 'metadata'] as const) {
    if (body[field] !== undefined && body[field] !== null) out[field] = body[field];
  }
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    out['tools'] = tools.map((t: { type?: string; function?: Record<string, unknown> }) =>
      t.type === 'function' && t.function ? { type: 'function', ...t.function } : t,
    );
  }
  const choice = body['tool_choice'] as { type?: string; function?: { name?: string } } | string | undefined;
  if (typeof choice === 'string') out['tool_choice'] = choice;
  else if (choice?.type === 'function')
    out['tool_choice'] = { type: 'function', name: choice.function?.name };
  const format = body['response_format'] as
    | { type?: string; json_schema?: Record<string, unknown> }
    | undefined;
  if (format?.type === 'json_object') out['text'] = { format: { type: 'json_object' } };
  if (format?.type === 'json_schema')
    out['text'] = { format: { type: 'json_schema', ...format.json_schema } };
  return out;
}

/** Request text upstream error messages must not repeat. */
function secretsOf(request: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof request['instructions'] === 'string') out.push(request['instructions']);
  const input = request['input'];
  if (typeof input === 'string') out.push(input);
  else if (Array.isArray(input)) {
    for (const item of input as { content?: unknown; output?: unknown }[]) {
      const text = textOf(item.content) || textOf(item.output);
      if (text) out.push(text);
    }
  }
  return out;
}

interface ResponseUsage {
  input_tokens?: number;
  output_tokens?: number;
}

/**
 * Posts the request to `path` (…/responses) and yields the answer as Chat Completions chunks, the
 * chunks of one network read together (as the chat-completions stream does).
 */
export async function* streamResponsesAsChat(
  client: UpstreamClient,
  path: string,
  body: Body,
  signal: AbortSignal,
): AsyncGenerator<ChatChunk[]> {
  const request = responsesRequestOf(body);
  const secrets = secretsOf(request);
  const base = {
    id: '',
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: String(body['model'] ?? ''),
  };
  /** Tool index (Chat numbers calls 0, 1, ...) by Responses output index. */
  const tools = new Map<number, number>();
  const chunk = (choices: ChatChunkJson['choices'], usage?: ChatChunkJson['usage']): ChatChunk => {
    const json: ChatChunkJson = { ...base, choices: choices ?? [], ...(usage ? { usage } : {}) };
    return { raw: JSON.stringify(json), json };
  };
  const delta = (d: Record<string, unknown>) => chunk([{ index: 0, delta: d, finish_reason: null }]);

  // One event can mean two chunks (the finish, then the usage), so the steps carry lists.
  const open = () => client.open('POST', { path, body: request, secrets }, signal);
  const steps = new EventBatches<ChatChunk[]>(open, signal, sseDecoder(), (payload) => {
    const event = parseJson(payload, 'responses event');
    const type = event['type'];
    switch (type) {
      case 'response.created': {
        const r = event['response'] as { id?: string } | undefined;
        if (r?.id) base.id = r.id;
        return undefined;
      }
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        return typeof event['delta'] === 'string' && event['delta']
          ? { value: [delta({ content: event['delta'] })] }
          : undefined;
      case 'response.reasoning_text.delta':
        // Chat servers that reason send it as reasoning_content; clients that know it show it.
        return typeof event['delta'] === 'string' && event['delta']
          ? { value: [delta({ reasoning_content: event['delta'] })] }
          : undefined;
      case 'response.output_item.added': {
        const item = event['item'] as
          | { type?: string; call_id?: string; name?: string; arguments?: string }
          | undefined;
        if (item?.type !== 'function_call') return undefined;
        const index = tools.size;
        tools.set(Number(event['output_index']), index);
        const call = {
          index,
          id: item.call_id,
          type: 'function',
          function: { name: item.name ?? '', arguments: item.arguments ?? '' },
        };
        return { value: [delta({ tool_calls: [call] })] };
      }
      case 'response.function_call_arguments.delta': {
        const index = tools.get(Number(event['output_index']));
        if (index === undefined || typeof event['delta'] !== 'string') return undefined;
        return { value: [delta({ tool_calls: [{ index, function: { arguments: event['delta'] } }] })] };
      }
      case 'response.completed':
      case 'response.incomplete': {
        const r = event['response'] as
          | { usage?: ResponseUsage; incomplete_details?: { reason?: string } | null }
          | undefined;
        const reason =
          type === 'response.incomplete'
            ? r?.incomplete_details?.reason === 'content_filter'
              ? 'content_filter'
              : 'length'
            : tools.size > 0
              ? 'tool_calls'
              : 'stop';
        const u = r?.usage;
        const usage =
          typeof u?.input_tokens === 'number' && typeof u.output_tokens === 'number'
            ? {
                prompt_tokens: u.input_tokens,
                completion_tokens: u.output_tokens,
                total_tokens: u.input_tokens + u.output_tokens,
              }
            : undefined;
        // The finish and the usage are two chunks, as a Chat server sends them.
        const finish = chunk([{ index: 0, delta: {}, finish_reason: reason }]);
        return { value: usage ? [finish, chunk([], usage)] : [finish], done: true };
      }
      case 'response.failed':
      case 'error': {
        const r = event['response'] as { error?: { message?: string } } | undefined;
        const message =
          r?.error?.message ?? (typeof event['message'] === 'string' ? event['message'] : 'unknown error');
        throw new UpstreamError(
          'reset',
          `backend reported an error mid-stream: ${withholdQuotes(message, secrets)}`,
        );
      }
      default:
        return undefined;
    }
  });
  for await (const batch of steps) yield batch.flat();
}
