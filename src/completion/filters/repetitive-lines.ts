import { isBlank, lastLineOf, lineSpans } from './code-lines.js';
import type { CompletionFilter } from './filter.js';

/** Longest repeated group looked for; models loop on a statement or a small block of them. */
const MAX_GROUP_LINES = 8;
/**
 * Copies of the group (the first included) before the tail counts as a loop. Two identical
 * lines in a row happen in real code; a third copy almost never does.
 */
const MIN_COPIES = 3;

/**
 * When the answer ends in the same line (or group of lines) several times over, the model is
 * looping: keep the first copy and drop the rest. Lines are compared as they will read in the
 * document (the first one with the text before the cursor), and blank lines between copies do
 * not hide a loop. A cut-off last copy counts as a copy.
 */
export const repetitiveLines: CompletionFilter = {
  name: 'repetitiveLines',
  apply(text, ctx) {
    const linePrefix = lastLineOf(ctx.prefix);
    const spans = lineSpans(text)
      .map((span, i) => ({ span, line: (i === 0 ? linePrefix + span.text : span.text).trimEnd() }))
      .filter(({ line }) => !isBlank(line));
    const count = spans.length;
    if (count < MIN_COPIES) return text;
    const lines = spans.map((s) => s.line);
    for (let group = 1; group <= MAX_GROUP_LINES && group * (MIN_COPIES - 1) < count; group++) {
      const matches = (i: number): boolean => {
        const line = lines[i]!;
        const earlier = lines[i - group]!;
        // The last line may stop part way through a copy.
        return line === earlier || (i === count - 1 && earlier.startsWith(line));
      };
      let repeated = 0;
      for (let i = count - 1; i - group >= 0 && matches(i); i--) repeated++;
      if (repeated < (MIN_COPIES - 1) * group) continue;
      const firstCopyEnd = count - repeated - 1;
      return text.slice(0, spans[firstCopyEnd]!.span.next);
    }
    return text;
  },
};
