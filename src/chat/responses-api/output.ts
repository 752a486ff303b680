import { randomBytes } from 'node:crypto';
import type { ChatChunkJson } from '../../models/index.js';
import type { ChatOutcome } from '../types.js';
import type { ResponsesBody } from './request.js';

/**
 * Turns the chat pipeline's stream (Chat Completions chunks, already filtered) into the Responses
 * API's output: output items (an assistant message, function calls) and the typed stream events
 * that build them, ending in the whole `response` object. Non-streaming requests use the same
 * assembler and send only the final object, so both modes say the same thing.
 */

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

interface MessageItem {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: { type: 'output_text'; text: string; annotations: unknown[]; logprobs: unknown[] }[];
}

interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

type OutputItem = MessageItem | FunctionCallItem;

export interface ResponseEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

type Status = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export class ResponseAssembler {
  readonly id = newId('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private readonly output: OutputItem[] = [];
  /** The item receiving deltas now; switching to another kind of item closes it. */
  private open: OutputItem | undefined;
  private readonly calls = new Map<number, FunctionCallItem>();
  private sequence = 0;
  private finishReason: string | null = null;
  private model: string;

  constructor(
    private readonly body: ResponsesBody,
    model: string,
  ) {
    this.model = model;
  }

  private event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  /** The opening events: the response exists and is being generated. */
  start(): ResponseEvent[] {
    const response = this.response('in_progress');
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  /** One chunk of the chat stream; `text` is its filtered content (what the client may see). */
  add(json: ChatChunkJson, text: string, model: string): ResponseEvent[] {
    this.model = model;
    const events: ResponseEvent[] = [];
    const choice = json.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice) return events;
    if (text) events.push(...this.addText(text));
    const calls = choice.delta?.['tool_calls'];
    if (Array.isArray(calls)) for (const call of calls as ToolCallDelta[]) events.push(...this.addCall(call));
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return events;
  }

  private addText(text: string): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    let item = this.open?.type === 'message' ? this.open : undefined;
    if (!item) {
      events.push(...this.close());
      item = { type: 'message', id: newId('msg'), status: 'in_progress', role: 'assistant', content: [] };
      this.open = item;
      this.output.push(item);
      const outputIndex = this.output.length - 1;
      events.push(this.event('response.output_item.added', { output_index: outputIndex, item: copy(item) }));
      const part = { type: 'output_text' as const, text: '', annotations: [], logprobs: [] };
      item.content.push(part);
      events.push(
        this.event('response.content_part.added', {
          item_id: item.id,
          output_index: outputIndex,
          content_index: 0,
          part: copy(part),
        }),
      );
    }
    item.content[0]!.text += text;
    events.push(
      this.event('response.output_text.delta', {
        item_id: item.id,
        output_index: this.output.indexOf(item),
        content_index: 0,
        delta: text,
        logprobs: [],
      }),
    );
    return events;
  }

  private addCall(delta: ToolCallDelta): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    const index = delta.index ?? 0;
    let item = this.calls.get(index);
    if (!item) {
      events.push(...this.close());
      item = {
        type: 'function_call',
        id: newId('fc'),
        call_id: delta.id || newId('call'),
        name: delta.function?.name ?? '',
        arguments: '',
        status: 'in_progress',
      };
      this.calls.set(index, item);
      this.open = item;
      this.output.push(item);
      events.push(
        this.event('response.output_item.added', {
          output_index: this.output.length - 1,
          item: copy(item),
        }),
      );
    } else if (delta.function?.name && !item.name) {
      item.name = delta.function.name;
    }
    const piece = delta.function?.arguments;
    if (piece) {
      item.arguments += piece;
      events.push(
        this.event('response.function_call_arguments.delta', {
          item_id: item.id,
          output_index: this.output.indexOf(item),
          delta: piece,
        }),
      );
    }
    return events;
  }

  /** Closes the open item: its `done` events, with the final text or arguments. */
  private close(status: 'completed' | 'incomplete' = 'completed'): ResponseEvent[] {
    const item = this.open;
    if (!item) return [];
    this.open = undefined;
    item.status = status;
    const outputIndex = this.output.indexOf(item);
    const events: ResponseEvent[] = [];
    if (item.type === 'message') {
      const part = item.content[0]!;
      const at = { item_id: item.id, output_index: outputIndex, content_index: 0 };
      events.push(this.event('response.output_text.done', { ...at, text: part.text, logprobs: [] }));
      events.push(this.event('response.content_part.done', { ...at, part: copy(part) }));
    } else {
      events.push(
        this.event('response.function_call_arguments.done', {
          item_id: item.id,
          output_index: outputIndex,
          name: item.name,
          arguments: item.arguments,
        }),
      );
    }
    events.push(this.event('response.output_item.done', { output_index: outputIndex, item: copy(item) }));
    return events;
  }

  /** The answer ended: closes what is open and emits response.completed (or .incomplete). */
  finish(outcome: ChatOutcome): ResponseEvent[] {
    const cut = this.finishReason === 'length' || this.finishReason === 'content_filter';
    const events = this.close(cut ? 'incomplete' : 'completed');
    const status = cut ? 'incomplete' : 'completed';
    const response = this.response(status, outcome);
    events.push(this.event(cut ? 'response.incomplete' : 'response.completed', { response }));
    return events;
  }

  /** The answer broke off after the stream began: an `error` event, then response.failed. */
  fail(code: string, message: string): ResponseEvent[] {
    const events = this.close('incomplete');
    events.push(this.event('error', { code, message, param: null }));
    events.push(
      this.event('response.failed', { response: this.response('failed', undefined, { code, message }) }),
    );
    return events;
  }

  /** The whole `response` object in its current state. */
  response(status: Status, outcome?: ChatOutcome, error?: { code: string; message: string }) {
    const b = this.body;
    const usage = outcome?.usage;
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      ...(status === 'completed' || status === 'incomplete' || status === 'failed'
        ? { completed_at: Math.floor(Date.now() / 1000) }
        : {}),
      error: error ?? null,
      incomplete_details:
        status === 'incomplete'
          ? { reason: this.finishReason === 'content_filter' ? 'content_filter' : 'max_output_tokens' }
          : null,
      instructions: b.instructions ?? null,
      max_output_tokens: b.max_output_tokens ?? null,
      model: this.model,
      output: this.output.map(copy),
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null,
      reasoning: { effort: null, summary: null },
      store: b.store ?? true,
      temperature: b.temperature ?? null,
      text: { format: b.text?.format ?? { type: 'text' } },
      tool_choice: b.tool_choice ?? 'auto',
      tools: (b.tools ?? []).map((t) => ({ ...t, strict: t.strict ?? null })),
      top_p: b.top_p ?? null,
      truncation: 'disabled',
      usage: usage
        ? {
            input_tokens: usage.promptTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: usage.completionTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.promptTokens + usage.completionTokens,
          }
        : null,
      user: b.user ?? null,
      metadata: b.metadata ?? {},
    };
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}
