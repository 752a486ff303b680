import {
  bracketBalance,
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosingLine,
  lastLineOf,
  lineSpans,
} from './code-lines.js';
import type { CompletionFilter } from './filter.js';

/**
 * The answer ends with a closer (`}`, `});`, `end`) that the suffix already has at the same
 * indentation: the model closed the block a second time. A closer that matches a bracket the
 * answer itself opened is kept, since then the suffix's closer belongs to an outer block.
 */
export const duplicatedClosingLine: CompletionFilter = {
  name: 'duplicatedClosingLine',
  apply(text, ctx) {
    const spans = lineSpans(text);
    let last = spans.length - 1;
    while (last >= 0 && isBlank(spans[last]!.text)) last--;
    if (last < 0) return text;
    const closer = last === 0 ? lastLineOf(ctx.prefix) + spans[0]!.text : spans[last]!.text;
    if (!isClosingLine(closer)) return text;
    const next = firstNonBlankLine(ctx.suffix);
    if (next === undefined || indentWidth(next) !== indentWidth(closer)) return text;
    if (!next.trim().startsWith(closer.trim())) return text;
    const before = text.slice(0, spans[last]!.start);
    if (bracketBalance(before).delta > 0) return text;
    // Keep a line break after the answer only if it had one after the dropped closer.
    const endedWithBreak = text.slice(spans[last]!.end).includes('\n');
    return endedWithBreak ? before : before.replace(/\r?\n$/, '');
  },
};
