import { isBlank } from './code-lines.js';
import type { CompletionFilter } from './filter.js';

/** Whitespace alone is not a completion; answer nothing rather than insert it. */
export const blankResult: CompletionFilter = {
  name: 'blankResult',
  apply(text) {
    return isBlank(text) ? '' : text;
  },
};
