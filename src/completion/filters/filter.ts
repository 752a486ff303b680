import type { FilterName } from '../../config/schema.js';
import type { FilterContext } from '../types.js';

/**
 * One post-processing step over the model's answer. A filter only ever removes text (or
 * normalises line breaks), so running the chain again can never grow the answer.
 */
export interface CompletionFilter {
  name: FilterName;
  apply(text: string, ctx: FilterContext): string;
}
