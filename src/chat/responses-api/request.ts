import { z } from 'zod';
import { HttpError } from '../../http/errors.js';
import type { ChatMessage } from '../types.js';

/**
 * The OpenAI Responses API request (`POST /v1/responses`) and its translation to a Chat
 * Completions body, which is what every model server behind Shenma speaks. Fields the Chat API
 * has an equivalent for are carried over; OpenAI-hosted features (built-in tools, reasoning
 * summaries, background mode) have none on a self-hosted model and are refused by name.
 */

const contentPart = z.looseObject({ type: z.string() });

const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(contentPart)]),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(contentPart)]),
});

/** Items a self-hosted model has no use for: earlier reasoning is not sent back to it. */
const ignoredItem = z.looseObject({ type: z.literal('reasoning') });

/** An earlier output item by id, instead of its content (clients do this for stored responses). */
const itemReference = z.looseObject({ type: z.literal('item_reference'), id: z.string().min(1) });

const inputItem = z.union(
  [messageItem, functionCallItem, functionCallOutputItem, ignoredItem, itemReference],
  {
    error: 'must be a message, function_call, function_call_output, item_reference or reasoning item',
  },
);
type InputItem = z.infer<typeof inputItem>;

const functionTool = z.looseObject({
  type: z.literal('function', {
    error: 'only function tools are supported (built-in OpenAI tools do not exist on self-hosted models)',
  }),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const toolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
]);

const textFormat = z.looseObject({
  type: z.enum(['text', 'json_object', 'json_schema']),
  name: z.string().optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullish(),
  description: z.string().optional(),
});

export const responsesBody = z.looseObject({
  model: z.string().min(1).optional(),
  input: z.union([z.string(), z.array(inputItem)]).optional(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(functionTool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: textFormat.optional() }).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  background: z.literal(false, { error: 'background responses are not supported' }).nullish(),
  user: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
export type ResponsesBody = z.infer<typeof responsesBody>;

type Part = z.infer<typeof contentPart>;

/**
 * Replaces `item_reference` items by the stored items they name (output items of this user's
 * stored responses). An unknown id is a 400 naming it.
 */
export async function resolveReferences(
  body: ResponsesBody,
  lookup: (ids: string[]) => Promise<Map<string, Record<string, unknown>>>,
): Promise<ResponsesBody> {
  if (!Array.isArray(body.input)) return body;
  const ids = body.input.flatMap((item) => (item.type === 'item_reference' ? [item.id] : []));
  if (ids.length === 0) return body;
  const found = await lookup(ids);
  const input = body.input.map((item, i): InputItem => {
    if (item.type !== 'item_reference') return item;
    const stored = found.get(item.id);
    const parsed = stored && inputItem.safeParse(stored);
    if (!parsed?.success || parsed.data.type === 'item_reference') {
      throw new HttpError(
        400,
        'invalid_request_error',
        `input.${i}: no stored item "${item.id}" (items are kept for stored responses of the same user)`,
        `input.${i}.id`,
      );
    }
    return parsed.data;
  });
  return { ...body, input };
}

/** The field that carries each content type's content. */
const KNOWN_FIELD: Record<string, string | undefined> = {
  input_text: 'text',
  output_text: 'text',
  refusal: 'refusal',
  input_image: 'image_url',
};

/** Responses content parts as Chat content: a plain string when it is all text (local servers prefer it). */
function chatContent(parts: readonly Part[], where: string): string | unknown[] {
  const out: unknown[] = [];
  parts.forEach((part, i) => {
    const text = part['text'];
    if ((part.type === 'input_text' || part.type === 'output_text') && typeof text === 'string') {
      out.push({ type: 'text', text });
    } else if (part.type === 'refusal' && typeof part['refusal'] === 'string') {
      out.push({ type: 'text', text: part['refusal'] });
    } else if (part.type === 'input_image' && typeof part['image_url'] === 'string') {
      out.push({
        type: 'image_url',
        image_url: { url: part['image_url'], ...(part['detail'] ? { detail: part['detail'] } : {}) },
      });
    } else if (KNOWN_FIELD[part.type]) {
      // A type this server takes, without the field that carries its content.
      const field = KNOWN_FIELD[part.type]!;
      throw new HttpError(
        400,
        'invalid_request_error',
        `${where}.content.${i}.${field}: required, a string, for content type "${part.type}"`,
        `${where}.content.${i}.${field}`,
      );
    } else {
      throw new HttpError(
        400,
        'invalid_request_error',
        `${where}.content.${i}: content type "${part.type}" is not supported here`,
        `${where}.content.${i}.type`,
      );
    }
  });
  if (out.every((p) => (p as { type: string }).type === 'text')) {
    return out.map((p) => (p as { text: string }).text).join('');
  }
  return out;
}

function toolOutputText(output: string | readonly Part[]): string {
  if (typeof output === 'string') return output;
  return output.map((p) => (typeof p['text'] === 'string' ? p['text'] : '')).join('');
}

/** The conversation as Chat messages: instructions first, then the input items in order. */
export function chatMessagesOf(body: ResponsesBody): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (body.instructions) messages.push({ role: 'system', content: body.instructions });
  const input = body.input ?? [];
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    return messages;
  }
  input.forEach((item, i) => {
    const where = `input.${i}`;
    if (item.type === 'reasoning') return;
    if (item.type === 'item_reference') throw new Error('item references must be resolved first');
    if (item.type === 'function_call') {
      const call = {
        id: item.call_id,
        type: 'function',
        function: { name: item.name, arguments: item.arguments },
      };
      // Consecutive calls belong to one assistant turn, as the Chat API expects them.
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') {
        last['tool_calls'] = [...((last['tool_calls'] as unknown[] | undefined) ?? []), call];
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      }
      return;
    }
    if (item.type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: toolOutputText(item.output) });
      return;
    }
    // Local chat templates know system, user, assistant and tool; developer is OpenAI's system.
    const role = item.role === 'developer' ? 'system' : item.role;
    const content = typeof item.content === 'string' ? item.content : chatContent(item.content, where);
    messages.push({ role, content });
  });
  return messages;
}

/** Everything of the request except the messages, as Chat Completions fields. */
export function chatOptionsOf(body: ResponsesBody): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (body.max_output_tokens != null) out['max_tokens'] = body.max_output_tokens;
  if (body.temperature != null) out['temperature'] = body.temperature;
  if (body.top_p != null) out['top_p'] = body.top_p;
  if (body.user) out['user'] = body.user;
  if (body.parallel_tool_calls != null && body.tools?.length)
    out['parallel_tool_calls'] = body.parallel_tool_calls;
  if (body.tools?.length) {
    out['tools'] = body.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        ...(t.parameters ? { parameters: t.parameters } : {}),
        ...(t.strict != null ? { strict: t.strict } : {}),
      },
    }));
  }
  if (body.tool_choice != null) {
    out['tool_choice'] =
      typeof body.tool_choice === 'string'
        ? body.tool_choice
        : { type: 'function', function: { name: body.tool_choice.name } };
  }
  const format = body.text?.format;
  if (format?.type === 'json_object') out['response_format'] = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    out['response_format'] = {
      type: 'json_schema',
      json_schema: {
        name: format.name ?? 'response',
        ...(format.schema ? { schema: format.schema } : {}),
        ...(format.strict != null ? { strict: format.strict } : {}),
        ...(format.description ? { description: format.description } : {}),
      },
    };
  }
  return out;
}
