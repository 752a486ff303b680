import type { FimFamily } from '../../config/schema.js';
import type { BuiltPrompt, CompletionInput, LineMode } from '../types.js';
import { allocateBudget } from './budget.js';
import { documentLineBreak, formatSnippet } from './snippets.js';
import {
  customFimTemplate,
  FIM_TEMPLATES,
  type FimTemplate,
  joinParts,
  renderFimParts,
  renderFimTemplate,
} from './templates.js';
import { createEstimateCounter } from './tokens.js';

export interface PromptModelSettings {
  family?: FimFamily;
  template?: string;
  fim: 'template' | 'suffix';
  contextWindow: number;
  charsPerToken: number;
  stop: string[];
}

export interface PromptOptions {
  maxTokens: number;
  suffixShare: number;
  contextShare: number;
  lineMode: LineMode;
}

const NO_TOKENS: readonly string[] = [];

/** Parsed custom templates by text: a model's template is the same string on every request. */
const customTemplates = new Map<string, FimTemplate>();

/** A custom template overrides the family, as the config schema documents. */
function templateFor(model: PromptModelSettings): FimTemplate | undefined {
  if (model.template !== undefined) {
    let custom = customTemplates.get(model.template);
    if (!custom) {
      if (customTemplates.size >= 64) customTemplates.clear();
      custom = customFimTemplate(model.template);
      customTemplates.set(model.template, custom);
    }
    return custom;
  }
  return model.family === undefined ? undefined : FIM_TEMPLATES[model.family];
}

function distinctNonEmpty(strings: readonly string[]): string[] {
  return [...new Set(strings.filter((s) => s !== ''))];
}

/**
 * Turns a completion request into what is sent to the model: budgeted prefix/suffix, client
 * snippets as comments at the start of the prefix part, the FIM template (or the backend's
 * suffix field) and the stop strings. See budget.ts for how the budget is shared.
 */
export function buildPrompt(
  input: CompletionInput,
  model: PromptModelSettings,
  opts: PromptOptions,
): BuiltPrompt {
  const template = templateFor(model);
  if (model.fim === 'template' && !template) {
    throw new Error('a model with `fim: template` needs a `family` or a `template`');
  }
  // The template's own list, not a copy: filters and counters key their per-list work on it.
  const specialTokens = template?.specialTokens ?? NO_TOKENS;
  const counter = createEstimateCounter(model.charsPerToken, specialTokens);
  // In suffix mode the backend applies the same tags itself, so they still cost tokens.
  const templateOverhead = template ? counter.count(renderFimTemplate(template, '', '')) : 0;

  const lineBreak = documentLineBreak(input.prefix, input.suffix);
  const formatted = input.snippets.map((snippet) => ({
    text: formatSnippet(snippet, input.language, lineBreak),
    content: snippet.content,
    distance: snippet.distance,
  }));
  const kept = allocateBudget({
    prefix: input.prefix,
    suffix: input.suffix,
    snippets: formatted,
    budget: model.contextWindow - opts.maxTokens - templateOverhead,
    suffixShare: opts.suffixShare,
    contextShare: opts.contextShare,
    counter,
    specialTokens,
  });

  // Farthest first, so the nearest snippet sits right before the code it is about.
  const context = [...kept.snippets]
    .reverse()
    .map((index) => formatted[index]!.text)
    .join('');
  const prefixPart = context + kept.prefix;

  const stop = distinctNonEmpty([
    ...input.stop,
    ...model.stop,
    ...(template?.stop ?? []),
    ...(opts.lineMode === 'single' ? ['\n'] : []),
  ]);
  const common = {
    stop,
    specialTokens,
    usedPrefix: kept.prefix,
    usedSuffix: kept.suffix,
    includedSnippets: kept.snippets,
  };

  // Counted part by part, never the rendered prompt whole: the budget already counted the kept
  // prefix and suffix; only snippets put in front of the prefix make a text it has not counted.
  const prefixPartTokens = context === '' ? kept.prefixTokens : counter.count(prefixPart);
  const promptTokens = templateOverhead + prefixPartTokens + kept.suffixTokens;
  if (model.fim === 'template' && template) {
    const promptParts = renderFimParts(template, prefixPart, kept.suffix);
    return { prompt: joinParts(promptParts), promptParts, promptTokens, ...common };
  }
  return {
    prompt: prefixPart,
    promptParts: [prefixPart],
    suffix: kept.suffix,
    promptTokens,
    ...common,
  };
}
