import { z } from 'zod';
import type { CompletionOutcome } from '../engine.js';
import type { CompletionFeedbackItem } from '../feedback-store.js';
import type { CompletionInput, ContextSnippet } from '../types.js';
import { normaliseLanguage } from './extension-v2.js';
import { compiledBody } from './shared.js';

/**
 * Tabby's completion API (its OpenAPI `CompletionRequest` / `CompletionResponse`, as tabby-agent
 * sends it): `language` and `segments` (prefix, suffix, filepath, declarations, snippets from
 * recently changed files, clipboard). Tabby uses `/v1/completions` like OpenAI does, so a body is
 * Tabby's when it has `segments` (or a debug raw prompt) and no `prompt`.
 */

const snippet = z.looseObject({ filepath: z.string().max(4096), body: z.string() });

export const tabbyCompletionSchema = z
  .looseObject({
    language: z.string().max(64).nullish(),
    segments: z
      .looseObject({
        prefix: z.string({ error: 'must be a string' }),
        suffix: z.string().nullish(),
        filepath: z.string().max(4096).nullish(),
        git_url: z.string().max(4096).nullish(),
        declarations: z.array(snippet).max(100).nullish(),
        relevant_snippets_from_changed_files: z.array(snippet).max(100).nullish(),
        relevant_snippets_from_recently_opened_files: z.array(snippet).max(100).nullish(),
        clipboard: z.string().nullish(),
      })
      .nullish(),
    user: z.string().max(200).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    seed: z.number().int().nullish(),
    debug_options: z
      .looseObject({
        raw_prompt: z.string().nullish(),
        return_snippets: z.boolean().optional(),
        return_prompt: z.boolean().optional(),
        disable_retrieval_augmented_code_completion: z.boolean().optional(),
      })
      .nullish(),
  })
  .refine((b) => b.segments || b.debug_options?.raw_prompt != null, {
    path: ['segments'],
    message: 'required (segments.prefix, or debug_options.raw_prompt)',
  });
export const tabbyCompletionBody = compiledBody(tabbyCompletionSchema);
export type TabbyCompletionBody = z.infer<typeof tabbyCompletionBody>;

/** True for Tabby's body shape on the shared `/v1/completions` path. */
export function isTabbyBody(body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  if (b['prompt'] !== undefined) return false;
  const raw = (b['debug_options'] as { raw_prompt?: unknown } | null | undefined)?.raw_prompt;
  return (typeof b['segments'] === 'object' && b['segments'] !== null) || typeof raw === 'string';
}

export function tabbyInput(b: TabbyCompletionBody): CompletionInput {
  const s = b.segments;
  const raw = b.debug_options?.raw_prompt;
  const snippets: ContextSnippet[] = [];
  if (s && b.debug_options?.disable_retrieval_augmented_code_completion !== true) {
    // Declarations the editor resolved are nearest; then recently changed code; the clipboard last.
    for (const d of s.declarations ?? []) snippets.push({ path: d.filepath, content: d.body, distance: 1 });
    for (const [i, r] of (s.relevant_snippets_from_changed_files ?? []).entries()) {
      snippets.push({ path: r.filepath, content: r.body, distance: 2 + i });
    }
    for (const [i, r] of (s.relevant_snippets_from_recently_opened_files ?? []).entries()) {
      snippets.push({ path: r.filepath, content: r.body, distance: 50 + i });
    }
    if (s.clipboard) snippets.push({ content: s.clipboard, distance: 100 });
  }
  return {
    // A raw prompt is the whole text before the cursor, with nothing after it.
    prefix: raw ?? s?.prefix ?? '',
    suffix: raw != null ? '' : (s?.suffix ?? ''),
    language: normaliseLanguage(b.language ?? undefined),
    stop: [],
    snippets,
    triggerMode: 'auto',
    ...(b.temperature != null ? { temperature: b.temperature } : {}),
  };
}

/** Requests from one editor file supersede each other (tabby-agent also cancels its own). */
export function tabbySupersedeKey(b: TabbyCompletionBody, who: string): string {
  return `tabby:${who}:${b.segments?.filepath ?? ''}`;
}

/** Tabby's `CompletionResponse`: no suggestion is an empty `choices`. */
export function tabbyReply(id: string, o: CompletionOutcome, b: TabbyCompletionBody) {
  const text = o.kind === 'completed' ? o.text : '';
  const debug = b.debug_options;
  const prompt = o.kind === 'completed' ? o.prompt?.prompt : undefined;
  return {
    id,
    choices: text ? [{ index: 0, text }] : [],
    ...(debug?.return_prompt && prompt !== undefined ? { debug_data: { prompt } } : {}),
  };
}

/** Tabby's `LogEventRequest`: the completion was shown (view), accepted (select) or dismissed. */
export const tabbyEventSchema = z.looseObject({
  type: z.string().min(1).max(64),
  completion_id: z.string().min(1).max(200),
  choice_index: z.number().int().nonnegative(),
  view_id: z.string().max(200).nullish(),
  elapsed: z.number().int().nullish(),
});
export const tabbyEventBody = compiledBody(tabbyEventSchema);
export type TabbyEventBody = z.infer<typeof tabbyEventBody>;

/**
 * The event as a completion feedback point, stored with the extension's: view is a shown point
 * (`none`), select an accepted one, dismiss a rejected one. Other event types are not stored.
 */
export function tabbyFeedback(e: TabbyEventBody, now = Date.now()): CompletionFeedbackItem | undefined {
  const acception =
    e.type === 'select'
      ? 'accepted'
      : e.type === 'dismiss'
        ? 'rejected'
        : e.type === 'view'
          ? 'none'
          : undefined;
  if (!acception) return undefined;
  return {
    id: e.choice_index === 0 ? e.completion_id : `${e.completion_id}#${e.choice_index}`,
    language: '',
    acception,
    correction: 'none',
    ...(acception === 'none' ? { create_time: now } : { end_time: now }),
    ...(e.elapsed != null ? { expend_time: e.elapsed } : {}),
  };
}
