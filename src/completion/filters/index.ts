import type { FilterName } from '../../config/schema.js';
import { type FilterContext, viewOf } from '../types.js';
import { blankResult } from './blank-result.js';
import { closersAfterCursor } from './closers-after-cursor.js';
import { isBlank } from './code-lines.js';
import { duplicatedClosingLine } from './duplicated-closing-line.js';
import type { CompletionFilter } from './filter.js';
import { repeatedPrefix } from './repeated-prefix.js';
import { repetitiveLines } from './repetitive-lines.js';
import { scopeLimit } from './scope-limit.js';
import { specialTokens } from './special-tokens.js';
import { suffixOverlap } from './suffix-overlap.js';
import { trailingWhitespace } from './trailing-whitespace.js';

export type { CompletionFilter } from './filter.js';

/**
 * Order matters:
 * 1. specialTokens first, so no later filter reasons about template tokens or text after them;
 * 2. repetitiveLines before the cutters that look at the end of the answer, so they see the
 *    model's intended ending rather than a loop;
 * 3. scopeLimit next: junk after the block (another function, the rest of the file) goes before
 *    suffixOverlap/duplicatedClosingLine compare the answer's end with the suffix;
 * 4. closersAfterCursor: with closers after the cursor, the answer ends at the line that takes
 *    them (so the copy of them suffixOverlap cuts is at the answer's end);
 * 5. suffixOverlap, then duplicatedClosingLine (a closer left after cutting a re-typed suffix);
 * 6. repeatedPrefix after the cutters: an answer that is only a copy of the lines above is
 *    often recognisable only once the junk after it is gone;
 * 7. trailingWhitespace and blankResult last, to tidy whatever is left.
 */
export const FILTER_CHAIN: readonly CompletionFilter[] = [
  specialTokens,
  repetitiveLines,
  scopeLimit,
  closersAfterCursor,
  suffixOverlap,
  duplicatedClosingLine,
  repeatedPrefix,
  trailingWhitespace,
  blankResult,
];

/** Each pass only removes text, so a handful of passes always reaches a fixed point. */
const MAX_PASSES = 8;

/**
 * Single-line mode promises an answer without a line break, whatever filters are switched on.
 * With text on the cursor line, the answer ends at its first line break; on a blank cursor line
 * the model's first non-blank line is moved up onto the cursor line.
 */
export function limitToOneLine(text: string, ctx: FilterContext): string {
  // A lone CR counts too: editors break the line there.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length === 1) return text;
  const { linePrefix, lineSuffix } = viewOf(ctx);
  const first = lines[0]!;
  if (!isBlank(first) || !isBlank(linePrefix + lineSuffix)) return first;
  const line = lines.find((l) => !isBlank(l));
  if (line === undefined) return '';
  const indent = line.length - line.trimStart().length;
  return line.slice(Math.min(indent, linePrefix.length));
}

/**
 * Runs the enabled filters in chain order until nothing changes, so the result is a fixed point
 * (running it again changes nothing). `hits` names the filters that changed the text, in the
 * order they first did.
 */
export function runFilters(
  text: string,
  ctx: FilterContext,
  enabled: Record<FilterName, boolean>,
): { text: string; hits: FilterName[] } {
  let current = ctx.lineMode === 'single' ? limitToOneLine(text, ctx) : text;
  const hits: FilterName[] = [];
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let changed = false;
    for (const filter of FILTER_CHAIN) {
      if (!enabled[filter.name]) continue;
      const next = filter.apply(current, ctx);
      if (next === current) continue;
      changed = true;
      current = next;
      if (!hits.includes(filter.name)) hits.push(filter.name);
    }
    if (!changed) break;
  }
  return { text: current, hits };
}
