/**
 * The steps `/v2/completions` takes between the request and the reply, minus the network: the
 * "don't complete here" rules, the line-mode decision, the stop strings the prompt builder sends,
 * the stream stop detector (fed in token-sized pieces) and the filter chain, all with the
 * configuration's defaults. It calls the same functions, in the same order, as
 * `src/completion/engine.ts`.
 */

import { runFilters } from '../../src/completion/filters/index.js';
import { buildPrompt } from '../../src/completion/prompt/build.js';
import { checkRejectRules } from '../../src/completion/rules/index.js';
import { decideLineMode } from '../../src/completion/rules/line-mode.js';
import { filterOfStop, StopDetector } from '../../src/completion/stream/stop-detector.js';
import type { CompletionInput, LineMode } from '../../src/completion/types.js';
import { type CompletionConfig, completionSchema, modelSchema } from '../../src/config/schema.js';

/** Streams arrive in token-sized pieces; the detector's result does not depend on the size. */
const PIECE_CHARS = 4;

export const DEFAULT_COMPLETION: CompletionConfig = completionSchema.parse({});

const MODEL = modelSchema.parse({
  name: 'coder',
  url: 'http://127.0.0.1:1',
  roles: ['completion'],
  family: 'deepseek-coder',
  contextWindow: 16384,
});

export interface PipelineResult {
  /** What the reply's `choices[0].text` would be ('' for no suggestion). */
  text: string;
  /** The rule that refused the request, if one did. */
  rejectedBy?: string;
  lineMode?: LineMode;
  /** What the stop detector kept (before the filters). */
  detected?: string;
  /** Why the detector stopped, if it did. */
  stopReason?: string;
  /** Filters that changed the text (the reply's `hit_processors`). */
  hits: string[];
}

/** One extension request: language `python`, automatic trigger, no client stop strings. */
export function complete(
  prefix: string,
  suffix: string,
  modelOutput: string,
  config: CompletionConfig = DEFAULT_COMPLETION,
): PipelineResult {
  const input: CompletionInput = {
    prefix,
    suffix,
    language: 'python',
    stop: [],
    snippets: [],
    triggerMode: 'auto',
  };
  const rejectedBy = checkRejectRules(input, config.rules);
  if (rejectedBy) return { text: '', rejectedBy, hits: [] };
  const lineMode = decideLineMode(input, config.multiline);
  const built = buildPrompt(input, MODEL, {
    maxTokens: config.maxTokens,
    suffixShare: config.suffixShare,
    contextShare: config.contextShare,
    lineMode,
  });
  const detector = new StopDetector({
    prefix,
    suffix,
    language: input.language,
    lineMode,
    stop: built.stop,
    specialTokens: built.specialTokens,
  });
  for (let i = 0; i < modelOutput.length; i += PIECE_CHARS) {
    if (detector.push(modelOutput.slice(i, i + PIECE_CHARS))) break;
  }
  const detected = detector.text();
  const { text, hits } = runFilters(
    detected,
    { prefix, suffix, language: input.language, lineMode, specialTokens: built.specialTokens },
    config.filters,
  );
  // As the engine reports it: a cut the detector made counts for the filter whose rule it applied.
  const cutBy = filterOfStop(detector.reason);
  return {
    text,
    lineMode,
    detected,
    hits: cutBy && !hits.includes(cutBy) ? [cutBy, ...hits] : hits,
    ...(detector.reason ? { stopReason: detector.reason } : {}),
  };
}
