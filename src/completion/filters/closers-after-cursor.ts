import { cursorView } from '../types.js';
import {
  bracketBalance,
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosersOnly,
  type LineSpan,
  lastLineOf,
  lineSpans,
  withoutTrailingComment,
} from './code-lines.js';
import type { CompletionFilter } from './filter.js';
import { lineMisfit } from './line-fit.js';

/**
 * The closers end `answer`'s last line well: as they are, or after a re-typed copy of them (all
 * or their first few, perhaps plus the statement's end: `x)):` before `))`), which suffixOverlap
 * then cuts. A copy only counts as one where the answer stops after it, or goes on re-typing the
 * suffix (`after`): a complete line that merely ends like the closers (`for x in f(y):` before
 * `)`) is the model's own code.
 */
function takesClosers(
  answer: string,
  after: string,
  rest: string,
  prefix: string,
  suffix: string,
  language: string,
): boolean {
  if (fits(answer, rest, prefix, language)) return true;
  const bodies = [answer, answer.replace(/[ \t]*[:;,{][ \t]*$/, '')];
  for (let k = rest.length; k > 0; k--) {
    const copy = rest.slice(0, k);
    for (const body of bodies) {
      if (!body.endsWith(copy) || !fits(body.slice(0, -k), rest, prefix, language)) continue;
      const retyped = `${answer.slice(body.length - k)}${after}`.replace(/\s+$/, '');
      if (isBlank(after) || suffix.startsWith(retyped)) return true;
    }
  }
  return false;
}

/**
 * The line `answer` ends with reads right with the closers after it. Closers that start with a
 * quote either close a string the line left open (`print("hi` + `")`) or are a whole string
 * (`elif c == ` + `')':`); a string never follows a finished value directly, so
 * `d += 1` + `')':`, which balances by count, does not take them.
 */
function fits(answer: string, rest: string, prefix: string, language: string): boolean {
  if (lineMisfit(prefix, answer, rest, language) !== 0) return false;
  if (!/^['"`]/.test(rest)) return true;
  const line = lastLineOf(lastLineOf(prefix) + answer);
  return bracketBalance(line, language).openQuote || !/[\w)\]}'"`]\s*$/.test(line);
}

/**
 * The lines after the first go on with the cursor line's statement (it left a bracket open):
 * indented deeper than the cursor line, or closing the bracket at its level (`)`, `],`).
 */
function continuesStatement(linePrefix: string, spans: LineSpan[]): boolean {
  const level = indentWidth(linePrefix + spans[0]!.text);
  return spans
    .slice(1)
    .every((span) => isBlank(span.text) || indentWidth(span.text) > level || /^\s*[)\]}]/.test(span.text));
}

/**
 * Closers left after the cursor (`)`, `'))`, `]):`, `);`) stay where they are: whatever the answer
 * writes, they end its last line. So a multi-line answer is only right if its last line takes
 * them, and which line that is follows from the cursor line:
 * - the cursor line, as the answer's first line completes it, reads complete without them (its
 *   brackets balance: `    mean ` + `= sum(xs) / len(xs)` before `)`; it is a block header,
 *   `if c == '(':` before `')':`; or the answer starts with a line break): they cannot belong to it. They close a bracket a later line opens, so the
 *   answer ends at the first later line they (or a re-typed copy of them) close
 *   (`    return f(mean` + `)`);
 * - the cursor line still needs them, or needs more: the answer may only go on with that same
 *   statement (deeper lines, or a line closing it at its level) and must end where they fit.
 * Otherwise — no line takes them, or the model re-typed them on the cursor line and went on
 * copying the code after it — only the first line is kept, for suffixOverlap to judge. At a line
 * start, an answer that ends with a line break leaves the closers on a line of their own, which
 * is kept when they close what is open there (`}` after a body).
 */
export const closersAfterCursor: CompletionFilter = {
  name: 'closersAfterCursor',
  apply(text, ctx) {
    const { linePrefix, lineSuffix } = cursorView(ctx.prefix, ctx.suffix);
    if (!isClosersOnly(lineSuffix) || !text.includes('\n')) return text;
    const rest = lineSuffix.trimEnd();
    const misfit = (answer: string, after: string) => lineMisfit(ctx.prefix, answer, after, ctx.language);
    const spans = lineSpans(text);
    const firstOnly = text.slice(0, spans[0]!.end);
    if (isBlank(linePrefix) && isBlank(spans.at(-1)!.text)) {
      const ownLineFits = bracketBalance(text, ctx.language).delta <= 0 && misfit(text, rest) === 0;
      if (ownLineFits) return text;
    }
    const first = spans[0]!.text;
    const complete = misfit(first, '') === 0;
    // A block header (`if x:`, `for (…) {`) ends its line: nothing but the `}` of an empty block
    // can follow it there, whatever the bracket count says (`{` + `)`, `'(':` + `')':`).
    const code = withoutTrailingComment(linePrefix + first);
    const header = (code.endsWith('{') && !rest.startsWith('}')) || (code.endsWith(':') && complete);
    if (header || (complete && misfit(first, rest) > 0)) {
      const nextInSuffix = firstNonBlankLine(ctx.suffix.slice(lineSuffix.length))?.trimEnd();
      for (const span of spans.slice(1)) {
        if (isBlank(span.text)) continue;
        if (span.text.trimEnd() === nextInSuffix) break;
        const answer = text.slice(0, span.end);
        if (takesClosers(answer, text.slice(span.end), rest, ctx.prefix, ctx.suffix, ctx.language))
          return answer;
      }
      return firstOnly;
    }
    const fits = continuesStatement(linePrefix, spans) && misfit(text.replace(/\s+$/, ''), rest) === 0;
    return fits ? text : firstOnly;
  },
};
