import type { ChatChunk, ChatChunkJson } from '../models/index.js';
import type { ChatMessage, ChatUsage, OutputFilter } from './types.js';

/**
 * Follows one answer as its chunks pass: masks content through the output filter (one per
 * choice, so `n > 1` answers are masked too), keeps the text the client saw and the upstream's
 * usage, and estimates usage when the upstream reported none.
 */

type Choice = NonNullable<ChatChunkJson['choices']>[number];

export interface TrackedChunk {
  chunk: ChatChunk;
  /** Filtered content delta of choice 0 ('' for role, tool-call and usage chunks). */
  text: string;
}

/** Characters of message text, for usage estimates. */
export function messageChars(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') n += m.content.length;
    else if (Array.isArray(m.content)) {
      for (const part of m.content) {
        const text: unknown = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') n += text.length;
      }
    }
  }
  return n;
}

/** The prompt's size in tokens when the upstream does not say: one estimate for quotas and the ledger. */
export function estimatePromptTokens(messages: readonly ChatMessage[], charsPerToken: number): number {
  return Math.ceil(messageChars(messages) / charsPerToken);
}

/**
 * True for a chunk that carries part of the answer: content, a tool call, any other non-empty
 * delta field, or a finish_reason. A role-only (or empty-content) opening chunk is not one, so it
 * commits nothing: the answer can still be retried elsewhere.
 */
export function carriesAnswer(json: ChatChunkJson): boolean {
  for (const choice of json.choices ?? []) {
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) return true;
    for (const [field, value] of Object.entries(choice.delta ?? {})) {
      if (field === 'role') continue;
      if (value === undefined || value === null || value === '') continue;
      if (Array.isArray(value) && value.length === 0) continue;
      return true;
    }
  }
  return false;
}

export class AnswerTracker {
  // Held for as long as the stream is open, so per-stream state stays small: choice 0 (nearly every
  // answer) needs no Map or Set, and of the last chunk only the fields drain() copies are kept.
  private filter0: OutputFilter | undefined;
  private flushed0 = false;
  private otherFilters: Map<number, OutputFilter> | undefined;
  private otherFlushed: Set<number> | undefined;
  private text = '';
  private rawChars = 0;
  private upstreamUsage: ChatChunkJson['usage'];
  private lastId: ChatChunkJson['id'];
  private lastObject: ChatChunkJson['object'];
  private lastCreated: ChatChunkJson['created'];
  private lastModel: ChatChunkJson['model'];

  constructor(private readonly createFilter: () => OutputFilter) {}

  /** What the client has been sent of choice 0. */
  get answer(): string {
    return this.text;
  }

  private filterFor(index: number): OutputFilter {
    if (index === 0) {
      this.filter0 ??= this.createFilter();
      return this.filter0;
    }
    this.otherFilters ??= new Map();
    let f = this.otherFilters.get(index);
    if (!f) {
      f = this.createFilter();
      this.otherFilters.set(index, f);
    }
    return f;
  }

  /** Marks choice `index` flushed; false when it already was. */
  private markFlushed(index: number): boolean {
    if (index === 0) {
      if (this.flushed0) return false;
      this.flushed0 = true;
      return true;
    }
    this.otherFlushed ??= new Set();
    if (this.otherFlushed.has(index)) return false;
    this.otherFlushed.add(index);
    return true;
  }

  /** Filters a chunk's content; re-serialises only when the filter changed something. */
  pass(chunk: ChatChunk): TrackedChunk {
    const json = chunk.json;
    this.lastId = json.id;
    this.lastObject = json.object;
    this.lastCreated = json.created;
    this.lastModel = json.model;
    if (json.usage && typeof json.usage === 'object') this.upstreamUsage = json.usage;
    let text = '';
    // Copied only once the filter changed something: most chunks pass as they came.
    let choices: Choice[] | undefined;
    const list = json.choices ?? [];
    for (let i = 0; i < list.length; i++) {
      const choice = list[i]!;
      const index = choice.index ?? 0;
      const content = typeof choice.delta?.content === 'string' ? choice.delta.content : '';
      const finished = choice.finish_reason !== null && choice.finish_reason !== undefined;
      if (content === '' && !finished) continue;
      this.rawChars += content.length;
      const filter = this.filterFor(index);
      let out = content ? filter.push(content) : '';
      // Held-back text belongs before the end of the answer, so it rides on the finish chunk.
      if (finished && this.markFlushed(index)) out += filter.flush();
      if (index === 0) text = out;
      if (out === content) continue;
      choices ??= list.slice();
      choices[i] = { ...choice, delta: { ...choice.delta, content: out } };
    }
    this.text += text;
    if (!choices) return { chunk, text };
    const rewritten = { ...json, choices };
    return { chunk: { raw: JSON.stringify(rewritten), json: rewritten }, text };
  }

  /**
   * For a stream that ended without a finish_reason on some choice: what the filters still hold,
   * as one synthetic chunk shaped like the last one, or undefined when nothing is held.
   */
  drain(): TrackedChunk | undefined {
    const choices: Choice[] = [];
    let text = '';
    const drainOne = (index: number, filter: OutputFilter) => {
      if (!this.markFlushed(index)) return;
      const rest = filter.flush();
      if (!rest) return;
      if (index === 0) text = rest;
      choices.push({ index, delta: { content: rest }, finish_reason: null });
    };
    if (this.filter0) drainOne(0, this.filter0);
    if (this.otherFilters) for (const [index, filter] of this.otherFilters) drainOne(index, filter);
    if (choices.length === 0) return undefined;
    this.text += text;
    const id = this.lastId;
    const object = this.lastObject;
    const created = this.lastCreated;
    const model = this.lastModel;
    const json: ChatChunkJson = {
      ...(id !== undefined ? { id } : {}),
      object: object ?? 'chat.completion.chunk',
      ...(created !== undefined ? { created } : {}),
      ...(model !== undefined ? { model } : {}),
      choices,
    };
    return { chunk: { raw: JSON.stringify(json), json }, text };
  }

  /** The upstream's counts when it sent them, else estimates from characters (flagged). */
  usage(prompt: readonly ChatMessage[], charsPerToken: number): ChatUsage {
    const estimate = (chars: number) => Math.ceil(chars / charsPerToken);
    const u = this.upstreamUsage;
    if (u && typeof u.prompt_tokens === 'number' && typeof u.completion_tokens === 'number') {
      return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, estimated: false };
    }
    return {
      promptTokens: estimatePromptTokens(prompt, charsPerToken),
      completionTokens: estimate(this.rawChars),
      estimated: true,
    };
  }
}
