import type { FilterContext, LineMode } from '../types.js';

/** One golden case: the document around the cursor, the model's output and what should remain. */
export interface GoldenCase {
  name: string;
  prefix: string;
  suffix: string;
  output: string;
  expected: string;
  lineMode?: LineMode;
  language?: string;
  specialTokens?: string[];
}

export const DEEPSEEK_SPECIAL_TOKENS = [
  '<｜end▁of▁sentence｜>',
  '<|EOT|>',
  '<｜fim▁begin｜>',
  '<｜fim▁hole｜>',
  '<｜fim▁end｜>',
  '<｜begin▁of▁sentence｜>',
];

export function contextOf(c: GoldenCase): FilterContext {
  return {
    prefix: c.prefix,
    suffix: c.suffix,
    language: c.language ?? 'python',
    lineMode: c.lineMode ?? 'multi',
    specialTokens: c.specialTokens ?? DEEPSEEK_SPECIAL_TOKENS,
  };
}
