import type { ChatChunkJson } from '../models/index.js';
import type { ChatOutcome } from './types.js';

/**
 * Builds the non-streaming `chat.completion` object from the streamed chunks (non-streaming
 * clients are served by aggregating, so there is one upstream code path). Content and other
 * string delta fields are concatenated; tool-call deltas are merged by index, as the OpenAI
 * clients do.
 */

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
  [field: string]: unknown;
}

interface ChoiceState {
  fields: Record<string, unknown>;
  toolCalls: Map<number, ToolCallDelta>;
  finishReason: string | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: Record<string, unknown> & { role: string; content: string | null };
    logprobs: null;
    finish_reason: string | null;
  }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  system_fingerprint?: string;
}

function mergeToolCall(into: ToolCallDelta, delta: ToolCallDelta): void {
  if (delta.id) into.id = delta.id;
  if (delta.type) into.type = delta.type;
  if (delta.function) {
    into.function ??= {};
    const fn = into.function;
    if (delta.function.name) fn.name = (fn.name ?? '') + delta.function.name;
    if (delta.function.arguments) fn.arguments = (fn.arguments ?? '') + delta.function.arguments;
  }
}

export class CompletionAggregator {
  private readonly choices = new Map<number, ChoiceState>();
  private id: string | undefined;
  private created: number | undefined;
  private fingerprint: string | undefined;

  add(json: ChatChunkJson): void {
    this.id ??= json.id;
    this.created ??= json.created;
    if (typeof json['system_fingerprint'] === 'string') this.fingerprint = json['system_fingerprint'];
    for (const choice of json.choices ?? []) {
      const index = choice.index ?? 0;
      let state = this.choices.get(index);
      if (!state) {
        state = { fields: {}, toolCalls: new Map(), finishReason: null };
        this.choices.set(index, state);
      }
      if (choice.finish_reason) state.finishReason = choice.finish_reason;
      for (const [field, value] of Object.entries(choice.delta ?? {})) {
        if (value === undefined || value === null || field === 'role') continue;
        if (field === 'tool_calls' && Array.isArray(value)) {
          for (const call of value as ToolCallDelta[]) {
            const i = call.index ?? 0;
            const merged = state.toolCalls.get(i) ?? {};
            mergeToolCall(merged, call);
            state.toolCalls.set(i, merged);
          }
        } else if (typeof value === 'string') {
          state.fields[field] = (typeof state.fields[field] === 'string' ? state.fields[field] : '') + value;
        } else {
          state.fields[field] = value;
        }
      }
    }
  }

  result(model: string, outcome: ChatOutcome, fallbackId: string): ChatCompletion {
    const indices = [...this.choices.keys()].sort((a, b) => a - b);
    if (indices.length === 0) indices.push(0);
    const { promptTokens, completionTokens } = outcome.usage;
    return {
      id: this.id ?? fallbackId,
      object: 'chat.completion',
      created: this.created ?? Math.floor(Date.now() / 1000),
      model,
      choices: indices.map((index) => {
        const state = this.choices.get(index);
        const fields = state?.fields ?? {};
        const content = typeof fields['content'] === 'string' ? fields['content'] : null;
        const toolCalls = [...(state?.toolCalls.entries() ?? [])]
          .sort(([a], [b]) => a - b)
          .map(([, call]) => {
            const { index: _index, ...rest } = call;
            return rest;
          });
        return {
          index,
          message: {
            ...fields,
            role: 'assistant',
            content: content ?? (toolCalls.length > 0 ? null : ''),
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: state?.finishReason ?? null,
        };
      }),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
      ...(this.fingerprint ? { system_fingerprint: this.fingerprint } : {}),
    };
  }
}
