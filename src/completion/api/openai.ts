import { z } from 'zod';
import type { CompletionOutcome } from '../engine.js';
import type { CompletionInput } from '../types.js';
import { normaliseLanguage } from './extension-v2.js';
import { compiledBody, debugInfo, outcomeReason, stopSchema, usageOf } from './shared.js';

/**
 * POST /v1/completions, OpenAI-compatible (prompt + suffix). The caller chose to ask, so the
 * "don't complete here" rules are not applied (trigger mode manual). A streamed request gets
 * the post-processed answer as SSE: filtering needs the whole answer, and answers are short.
 */

export const openAiCompletionSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z
    .union([z.string(), z.array(z.string())], { error: 'must be a string or an array of one string' })
    .refine((p) => typeof p === 'string' || p.length === 1, 'only one prompt per request is supported'),
  suffix: z.string().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  stop: stopSchema,
  stream: z.boolean().nullish(),
  n: z.literal(1, { error: 'only n=1 is supported' }).nullish(),
  echo: z.literal(false, { error: 'echo is not supported' }).nullish(),
  best_of: z.literal(1, { error: 'only best_of=1 is supported' }).nullish(),
  user: z.string().max(200).optional(),
  language: z.string().max(64).optional(),
  verbose: z.boolean().optional(),
});
export const openAiCompletionBody = compiledBody(openAiCompletionSchema);
export type OpenAiCompletionBody = z.infer<typeof openAiCompletionBody>;

export function openAiInput(b: OpenAiCompletionBody): CompletionInput {
  const input: CompletionInput = {
    prefix: typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!,
    suffix: b.suffix ?? '',
    language: normaliseLanguage(b.language),
    stop: b.stop,
    snippets: [],
    triggerMode: 'manual',
  };
  if (b.max_tokens != null) input.maxTokens = b.max_tokens;
  if (b.temperature != null) input.temperature = b.temperature;
  if (b.model) input.model = b.model;
  return input;
}

export function openAiReply(id: string, o: CompletionOutcome, verbose: boolean) {
  const text = o.kind === 'completed' ? o.text : '';
  return {
    id,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: o.model,
    choices: [
      { index: 0, text, logprobs: null, finish_reason: o.kind === 'completed' ? o.finishReason : 'stop' },
    ],
    usage: usageOf(o),
    shenma: { reason: outcomeReason(o), ...(verbose ? { debug: debugInfo(o) } : {}) },
  };
}

/** The same answer as OpenAI's stream format: one text chunk, one finish chunk, [DONE]. */
export function openAiStream(id: string, o: CompletionOutcome): string {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (text: string, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'text_completion', created, model: o.model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] })}\n\n`;
  const text = o.kind === 'completed' ? o.text : '';
  const finish = o.kind === 'completed' ? o.finishReason : 'stop';
  return `${text ? chunk(text, null) : ''}${chunk('', finish)}data: [DONE]\n\n`;
}
