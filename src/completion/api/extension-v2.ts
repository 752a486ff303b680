import { z } from 'zod';
import type { CompletionInput } from '../types.js';
import {
  compiledBody,
  completionStream,
  promptOptionsSchema,
  stopSchema,
  triggerModeSchema,
} from './shared.js';

/**
 * POST /v2/completions as the Zhuge Shenma extension 1.2.x sends it (docs/protocol.md §4.2):
 * openai-node 3.3.0 puts the identity headers inside the JSON body as `headers`.
 */

const FILL_HERE = '<FILL_HERE>';

/** The fields, shared with the later client's body (which adds its own). */
export const extensionV2Fields = {
  model: z.string().optional(),
  prompt: z.string().optional(),
  prompt_options: promptOptionsSchema.optional(),
  language_id: z.string().max(64).optional(),
  stop: stopSchema,
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  completion_id: z.string().max(200).optional(),
  trigger_mode: triggerModeSchema,
  // Inputs to the original's "would the user take a suggestion here" score. Accepted so the
  // extension's body validates, and ignored: the reject rules decide, no score hides a suggestion.
  calculate_hide_score: z.looseObject({}).optional(),
  headers: z.record(z.string(), z.unknown()).optional(),
  beta_mode: z.boolean().optional(),
  verbose: z.boolean().optional(),
};

export function requirePrompt(b: { prompt_options?: unknown; prompt?: unknown }, ctx: z.RefinementCtx): void {
  if (!b.prompt_options && b.prompt === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['prompt_options'],
      message: 'required (or a legacy `prompt` with <FILL_HERE>)',
    });
  }
}

export const extensionV2Schema = z.looseObject(extensionV2Fields).superRefine(requirePrompt);
export const extensionV2Body = compiledBody(extensionV2Schema);
export type ExtensionV2Body = z.infer<typeof extensionV2Body>;

/** The client's language names are lower-cased words ("c++", "python"); keep them, normalise the odd one. */
export function normaliseLanguage(id: string | undefined): string {
  const l = (id ?? '').trim().toLowerCase();
  return l === 'c++' ? 'cpp' : l;
}

export function splitLegacyPrompt(prompt: string): { prefix: string; suffix: string } {
  const at = prompt.indexOf(FILL_HERE);
  return at === -1
    ? { prefix: prompt, suffix: '' }
    : { prefix: prompt.slice(0, at), suffix: prompt.slice(at + FILL_HERE.length) };
}

export function extensionInput(b: ExtensionV2Body): CompletionInput {
  const { prefix, suffix } = b.prompt_options ?? splitLegacyPrompt(b.prompt ?? '');
  const code = b.prompt_options?.code_context;
  const input: CompletionInput = {
    prefix,
    suffix,
    language: normaliseLanguage(b.language_id),
    stop: b.stop,
    snippets: code ? [{ content: code, distance: 0 }] : [],
    triggerMode: b.trigger_mode,
    ...(b.max_tokens !== undefined ? { maxTokens: b.max_tokens } : {}),
    ...(b.temperature !== undefined ? { temperature: b.temperature } : {}),
  };
  // The extension's "inline completion" setting sends stop ["\n","\r"]: one line only.
  if (b.stop.includes('\n')) input.lineMode = 'single';
  return input;
}

/** Supersede key: the extension numbers points "<counter>-<stream>" per editor session. */
export function extensionSupersedeKey(b: ExtensionV2Body, who: string): string | undefined {
  const stream = completionStream(b.completion_id);
  return stream ? `v2:${who}:${stream}` : undefined;
}
