import { isBlank, lastLineOf, lastNonBlankLinesAbove, splitLines } from './code-lines.js';
import type { CompletionFilter } from './filter.js';

/**
 * An answer whose lines (as they will read in the document, indentation included) are exactly the
 * last non-blank lines above the cursor adds nothing but a duplicate. Indentation is compared so
 * that a `}` closing an outer block is not taken for a copy of the inner `}` above it.
 */
export const repeatedPrefix: CompletionFilter = {
  name: 'repeatedPrefix',
  apply(text, ctx) {
    if (isBlank(text)) return text;
    const written = splitLines(lastLineOf(ctx.prefix) + text)
      .filter((line) => !isBlank(line))
      .map((line) => line.trimEnd());
    if (written.length === 0) return text;
    const tail = lastNonBlankLinesAbove(ctx.prefix, written.length).map((line) => line.trimEnd());
    if (written.length > tail.length) return text;
    return written.every((line, i) => line === tail[i]) ? '' : text;
  },
};
