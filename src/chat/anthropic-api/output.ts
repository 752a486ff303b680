import { randomBytes } from 'node:crypto';
import type { ChatChunkJson } from '../../models/index.js';
import type { ChatOutcome } from '../types.js';

/**
 * Turns the chat pipeline's stream (Chat Completions chunks, already filtered) into an Anthropic
 * message: content blocks (text, tool_use) and the stream events that build them, from
 * message_start to message_stop. Non-streaming requests get the final message from the same
 * assembler.
 */

type TextBlock = { type: 'text'; text: string };
type ToolUseBlock = { type: 'tool_use'; id: string; name: string; input: unknown };
type ContentBlock = TextBlock | ToolUseBlock;

export interface MessageEvent {
  type: string;
  [field: string]: unknown;
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** Chat finish reasons as Anthropic stop reasons. */
function stopReason(finish: string | null): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

export class MessageAssembler {
  readonly id = `msg_${randomBytes(12).toString('hex')}`;
  private readonly blocks: ContentBlock[] = [];
  /** Raw argument text of each tool_use block, parsed into `input` when the block closes. */
  private readonly argumentText = new Map<ContentBlock, string>();
  private readonly calls = new Map<number, ToolUseBlock>();
  private open: ContentBlock | undefined;
  private finishReason: string | null = null;
  private model: string;

  constructor(
    model: string,
    /** The prompt estimate, for message_start (the upstream reports real counts at the end). */
    private readonly inputEstimate: number,
  ) {
    this.model = model;
  }

  start(): MessageEvent[] {
    return [
      {
        type: 'message_start',
        message: {
          id: this.id,
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: this.inputEstimate, output_tokens: 0 },
        },
      },
    ];
  }

  add(json: ChatChunkJson, text: string, model: string): MessageEvent[] {
    this.model = model;
    const choice = json.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice) return [];
    const events: MessageEvent[] = [];
    if (text) events.push(...this.addText(text));
    const calls = choice.delta?.['tool_calls'];
    if (Array.isArray(calls)) for (const call of calls as ToolCallDelta[]) events.push(...this.addCall(call));
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return events;
  }

  private openBlock(block: ContentBlock): MessageEvent[] {
    const events = this.close();
    this.blocks.push(block);
    this.open = block;
    const announced = block.type === 'text' ? { type: 'text', text: '' } : { ...block, input: {} };
    events.push({ type: 'content_block_start', index: this.blocks.length - 1, content_block: announced });
    return events;
  }

  private addText(text: string): MessageEvent[] {
    const events: MessageEvent[] = [];
    let block = this.open?.type === 'text' ? this.open : undefined;
    if (!block) {
      block = { type: 'text', text: '' };
      events.push(...this.openBlock(block));
    }
    block.text += text;
    events.push({
      type: 'content_block_delta',
      index: this.blocks.indexOf(block),
      delta: { type: 'text_delta', text },
    });
    return events;
  }

  private addCall(delta: ToolCallDelta): MessageEvent[] {
    const events: MessageEvent[] = [];
    const index = delta.index ?? 0;
    let block = this.calls.get(index);
    if (!block) {
      block = {
        type: 'tool_use',
        id: delta.id || `toolu_${randomBytes(12).toString('hex')}`,
        name: delta.function?.name ?? '',
        input: {},
      };
      this.calls.set(index, block);
      this.argumentText.set(block, '');
      events.push(...this.openBlock(block));
    }
    const piece = delta.function?.arguments;
    if (piece) {
      this.argumentText.set(block, (this.argumentText.get(block) ?? '') + piece);
      events.push({
        type: 'content_block_delta',
        index: this.blocks.indexOf(block),
        delta: { type: 'input_json_delta', partial_json: piece },
      });
    }
    return events;
  }

  private close(): MessageEvent[] {
    const block = this.open;
    if (!block) return [];
    this.open = undefined;
    if (block.type === 'tool_use') block.input = parseArguments(this.argumentText.get(block) ?? '');
    return [{ type: 'content_block_stop', index: this.blocks.indexOf(block) }];
  }

  finish(outcome: ChatOutcome): MessageEvent[] {
    const events = this.close();
    const usage = outcome.usage;
    events.push({
      type: 'message_delta',
      delta: { stop_reason: stopReason(this.finishReason), stop_sequence: null },
      usage: { input_tokens: usage.promptTokens, output_tokens: usage.completionTokens },
    });
    events.push({ type: 'message_stop' });
    return events;
  }

  /** The whole message, once finished. */
  message(outcome: ChatOutcome) {
    this.close();
    return {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: this.blocks.map((b) => structuredClone(b)),
      stop_reason: stopReason(this.finishReason),
      stop_sequence: null,
      usage: { input_tokens: outcome.usage.promptTokens, output_tokens: outcome.usage.completionTokens },
    };
  }
}

/** Tool arguments as an object; a model that wrote broken JSON gets it passed on as a string field. */
function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return { _raw: text };
  }
}
