import { z } from 'zod';
import { HttpError } from '../../http/errors.js';
import type { ChatMessage } from '../types.js';

/**
 * The Anthropic Messages API request (`POST /v1/messages`) and its translation to a Chat
 * Completions body: system prompt, text and image blocks, tool_use / tool_result blocks as tool
 * calls and tool messages, tools and tool_choice, sampling limits. Thinking blocks from earlier
 * turns are dropped: a self-hosted model has no use for another model's reasoning.
 */

const block = z.looseObject({ type: z.string() });
type Block = z.infer<typeof block>;

const message = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(block)]),
});

const tool = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  type: z.string().optional(),
});

const toolChoice = z.looseObject({
  type: z.enum(['auto', 'any', 'tool', 'none']),
  name: z.string().optional(),
  disable_parallel_tool_use: z.boolean().optional(),
});

const system = z.union([z.string(), z.array(block)]);

export const messagesBody = z.looseObject({
  model: z.string().min(1, 'required'),
  messages: z.array(message).min(1, 'must contain at least one message'),
  system: system.optional(),
  max_tokens: z.number().int().positive(),
  stop_sequences: z.array(z.string()).max(16, 'at most 16 stop sequences').optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().positive().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});
export type MessagesBody = z.infer<typeof messagesBody>;

/** What `/v1/messages/count_tokens` reads: the same conversation, no sampling fields. */
export const countTokensBody = z.looseObject({
  model: z.string().min(1, 'required'),
  messages: z.array(message).min(1, 'must contain at least one message'),
  system: system.optional(),
  tools: z.array(tool).optional(),
});
export type CountTokensBody = z.infer<typeof countTokensBody>;

const IGNORED_BLOCKS = new Set(['thinking', 'redacted_thinking']);

function refuse(where: string, type: string): never {
  throw new HttpError(
    400,
    'invalid_request_error',
    `${where}: content block type "${type}" is not supported here`,
    `${where}.type`,
  );
}

function textOfBlocks(blocks: string | readonly Block[]): string {
  if (typeof blocks === 'string') return blocks;
  return blocks.map((b) => (typeof b['text'] === 'string' ? b['text'] : '')).join('');
}

/**
 * A tool result's `content`: absent, a string, or content blocks. It is the client's data, not
 * the schema's, so anything else is refused here, by name, rather than failing later.
 */
function toolResultText(content: unknown, where: string): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  if (
    Array.isArray(content) &&
    content.every((b) => b !== null && typeof b === 'object' && typeof (b as Block).type === 'string')
  ) {
    return textOfBlocks(content as Block[]);
  }
  throw new HttpError(
    400,
    'invalid_request_error',
    `${where}.content: must be a string or an array of content blocks`,
    `${where}.content`,
  );
}

/** Image blocks as Chat `image_url` parts (base64 sources become data URLs). */
function imagePart(b: Block, where: string): unknown {
  const source = b['source'] as
    | { type?: string; media_type?: string; data?: string; url?: string }
    | undefined;
  if (source?.type === 'base64' && source.data) {
    return {
      type: 'image_url',
      image_url: { url: `data:${source.media_type ?? 'image/png'};base64,${source.data}` },
    };
  }
  if (source?.type === 'url' && source.url) return { type: 'image_url', image_url: { url: source.url } };
  return refuse(where, `image with source ${source?.type ?? 'none'}`);
}

/** Chat content from user blocks: a plain string when it is all text. */
function userContent(parts: unknown[]): string | unknown[] {
  if (parts.every((p) => (p as { type: string }).type === 'text')) {
    return parts.map((p) => (p as { text: string }).text).join('');
  }
  return parts;
}

export function chatMessagesOf(body: CountTokensBody): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (body.system !== undefined) {
    const text = textOfBlocks(body.system);
    if (text) out.push({ role: 'system', content: text });
  }
  body.messages.forEach((m, i) => {
    const where = `messages.${i}.content`;
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content });
      return;
    }
    if (m.role === 'assistant') {
      let text = '';
      const calls: unknown[] = [];
      m.content.forEach((b, j) => {
        if (b.type === 'text') text += typeof b['text'] === 'string' ? b['text'] : '';
        else if (b.type === 'tool_use') {
          calls.push({
            id: String(b['id'] ?? ''),
            type: 'function',
            function: { name: String(b['name'] ?? ''), arguments: JSON.stringify(b['input'] ?? {}) },
          });
        } else if (!IGNORED_BLOCKS.has(b.type)) refuse(`${where}.${j}`, b.type);
      });
      out.push({
        role: 'assistant',
        content: text === '' && calls.length > 0 ? null : text,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      });
      return;
    }
    // A user turn: tool results first (they answer the previous assistant turn), then the rest.
    const parts: unknown[] = [];
    m.content.forEach((b, j) => {
      if (b.type === 'tool_result') {
        const text = toolResultText(b['content'], `${where}.${j}`);
        out.push({
          role: 'tool',
          tool_call_id: String(b['tool_use_id'] ?? ''),
          content: b['is_error'] === true ? `Error: ${text}` : text,
        });
      } else if (b.type === 'text') parts.push({ type: 'text', text: String(b['text'] ?? '') });
      else if (b.type === 'image') parts.push(imagePart(b, `${where}.${j}`));
      else if (!IGNORED_BLOCKS.has(b.type)) refuse(`${where}.${j}`, b.type);
    });
    if (parts.length > 0) out.push({ role: 'user', content: userContent(parts) });
  });
  return out;
}

/** Function tools as Chat tools; Anthropic's server tools (web search, ...) do not exist here. */
function chatTools(tools: CountTokensBody['tools']): unknown[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t, i) => {
    if (t.type !== undefined && t.type !== 'custom') {
      throw new HttpError(
        400,
        'invalid_request_error',
        `tools.${i}: tool type "${t.type}" is not supported here; only custom tools with input_schema`,
        `tools.${i}.type`,
      );
    }
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.input_schema ?? { type: 'object', properties: {} },
      },
    };
  });
}

/** Everything of the request except the messages, as Chat Completions fields. */
export function chatOptionsOf(body: MessagesBody): Record<string, unknown> {
  const out: Record<string, unknown> = { max_tokens: body.max_tokens };
  if (body.stop_sequences?.length) out['stop'] = body.stop_sequences;
  if (body.temperature !== undefined) out['temperature'] = body.temperature;
  if (body.top_p !== undefined) out['top_p'] = body.top_p;
  if (body.top_k !== undefined) out['top_k'] = body.top_k;
  if (body.metadata?.user_id) out['user'] = body.metadata.user_id;
  const tools = chatTools(body.tools);
  if (tools) out['tools'] = tools;
  const choice = body.tool_choice;
  if (choice) {
    if (choice.type === 'tool') {
      if (!choice.name) {
        throw new HttpError(
          400,
          'invalid_request_error',
          'tool_choice.name: required when type is "tool"',
          'tool_choice.name',
        );
      }
      out['tool_choice'] = { type: 'function', function: { name: choice.name } };
    } else {
      out['tool_choice'] = choice.type === 'any' ? 'required' : choice.type;
    }
    if (choice.disable_parallel_tool_use === true && tools) out['parallel_tool_calls'] = false;
  }
  return out;
}

/** Characters of the tool definitions, which count toward the prompt like the messages do. */
export function toolChars(body: CountTokensBody): number {
  return body.tools?.length ? JSON.stringify(body.tools).length : 0;
}
