import { viewOf } from '../types.js';
import type { CompletionFilter } from './filter.js';

/**
 * Trailing spaces go from every line of code and blank lines from the end; one line break after
 * the last line stays when there was one (with the cursor at a line start it separates the answer
 * from the suffix's first line), except after text on the cursor line. A whitespace-only line inside the answer is kept byte for byte:
 * its indentation is what the model (and the file's style) put there, not junk after code. Line
 * breaks follow the document: CRLF when the prefix uses CRLF.
 */
export const trailingWhitespace: CompletionFilter = {
  name: 'trailingWhitespace',
  apply(text, ctx) {
    const eol = ctx.prefix.includes('\r\n') ? '\r\n' : '\n';
    const lines = text.split(/\r?\n/);
    let count = lines.length;
    while (count > 1 && lines[count - 1]!.trim() === '') count--;
    const { linePrefix, lineSuffix } = viewOf(ctx);
    // Spaces before text that continues on the same line separate two tokens; keep them there.
    const lastLineJoinsSuffix = count === lines.length && lineSuffix !== '' && !/^\s/.test(lineSuffix);
    const kept = lines.slice(0, count).map((line, i) => {
      if (i === lines.length - 1 && lastLineJoinsSuffix) return line;
      return line.trim() === '' && i < count - 1 ? line : line.replace(/[ \t]+$/, '');
    });
    // After text on the cursor line, the line's own break (or the end of the file) follows the
    // answer: another one would only leave an empty line below the completed line.
    const completesLine = linePrefix.trim() !== '';
    const endsWithBreak = count < lines.length && kept[count - 1] !== '' && !completesLine;
    return kept.join(eol) + (endsWithBreak ? eol : '');
  },
};
