import { viewOf } from '../types.js';
import type { CompletionFilter } from './filter.js';

/**
 * Trailing spaces go from every line and blank lines from the end; one line break after the last
 * line stays when there was one (with the cursor at a line start it separates the answer from the
 * suffix's first line). Line breaks follow the document: CRLF when the prefix uses CRLF.
 */
export const trailingWhitespace: CompletionFilter = {
  name: 'trailingWhitespace',
  apply(text, ctx) {
    const eol = ctx.prefix.includes('\r\n') ? '\r\n' : '\n';
    const lines = text.split(/\r?\n/);
    const { lineSuffix } = viewOf(ctx);
    // Spaces before text that continues on the same line separate two tokens; keep them there.
    const lastLineJoinsSuffix = lineSuffix !== '' && !/^\s/.test(lineSuffix);
    const trimmed = lines.map((line, i) =>
      i === lines.length - 1 && lastLineJoinsSuffix ? line : line.replace(/[ \t]+$/, ''),
    );
    let count = trimmed.length;
    while (count > 1 && trimmed[count - 1] === '') count--;
    const kept = trimmed.slice(0, count);
    const endsWithBreak = count < trimmed.length && kept[count - 1] !== '';
    return kept.join(eol) + (endsWithBreak ? eol : '');
  },
};
