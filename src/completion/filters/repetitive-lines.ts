import { isBlank, lineSpans } from './code-lines.js';
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
 * looping: keep the first copy and drop the rest. A cut-off last copy counts as a copy.
 */
export const repetitiveLines: CompletionFilter = {
  name: 'repetitiveLines',
  apply(text) {
    const spans = lineSpans(text);
    let count = spans.length;
    while (count > 0 && isBlank(spans[count - 1]!.text)) count--;
    if (count < MIN_COPIES) return text;
    const lines = spans.slice(0, count).map((s) => s.text.trimEnd());
    for (let group = 1; group <= MAX_GROUP_LINES && group * (MIN_COPIES - 1) < count; group++) {
      const matches = (i: number): boolean => {
        const line = lines[i]!;
        const earlier = lines[i - group]!;
        // The last line may stop part way through a copy.
        return line === earlier || (i === count - 1 && line.trim() !== '' && earlier.startsWith(line));
      };
      let repeated = 0;
      for (let i = count - 1; i - group >= 0 && matches(i); i--) repeated++;
      if (repeated < (MIN_COPIES - 1) * group) continue;
      const firstCopyStart = count - repeated - group;
      const firstCopy = lines.slice(firstCopyStart, firstCopyStart + group);
      if (firstCopy.every(isBlank)) continue;
      return text.slice(0, spans[firstCopyStart + group]!.start);
    }
    return text;
  },
};
