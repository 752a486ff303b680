import { cursorView } from '../types.js';
import {
  bracketBalance,
  firstNonBlankLine,
  isBlank,
  isClosersOnly,
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
 * Closers left after the cursor (`)`, `'))`, `]):`, `);`) stay where they are: whatever the answer
 * writes, they end its last line. So a multi-line answer is only right if its last line takes
 * them, and which line that is follows from the cursor line as the answer's first line completes
 * it:
 * - it reads complete without them (its brackets balance: `    mean ` + `= sum(xs) / len(xs)`
 *   before `)`; it is a block header, `if c == '(':` before `')':`; or the answer starts with a
 *   line break after a complete line): they cannot belong to it. They close a bracket a later line
 *   opens, so the answer ends at the first later line they (or a re-typed copy of them) close
 *   (`    return f(mean` + `)`). A line that re-types the code after the cursor means the model
 *   re-typed the closers on the cursor line and went on copying: only the first line is kept.
 * - it still needs them, or needs more (`print(foo(` + `x`): the answer stays on the cursor line,
 *   as a single-line request would.
 * `ClosersScan` decides line by line, so the stream stop detector ends the answer as soon as it
 * is decided (the upstream request is closed then) and the filter agrees with it.
 */
export class ClosersScan {
  readonly #prefix: string;
  readonly #rest: string;
  readonly #language: string;
  readonly #nextInSuffix: string | undefined;
  #text = '';
  #index = 0;

  constructor(prefix: string, suffix: string, language: string) {
    const { lineSuffix } = cursorView(prefix, suffix);
    this.#prefix = prefix;
    this.#rest = lineSuffix.trimEnd();
    this.#language = language;
    this.#nextInSuffix = firstNonBlankLine(suffix.slice(lineSuffix.length))?.trimEnd();
  }

  /** Whether closers follow the cursor, so that this scan applies. */
  static applies(prefix: string, suffix: string): boolean {
    return isClosersOnly(cursorView(prefix, suffix).lineSuffix);
  }

  /**
   * The next complete line of the answer (without its break): `firstOnly` ends the answer after
   * its first line, `takes` after this line, `more` reads on; `copying` means this line re-types
   * the code after the cursor: the answer ended before it (after its first line, or after a line
   * that ends with a re-typed copy of the closers, see `takesCopy`).
   */
  next(line: string): 'firstOnly' | 'takes' | 'copying' | 'more' {
    const index = this.#index++;
    this.#text = index === 0 ? line : `${this.#text}\n${line}`;
    const misfit = (after: string) => lineMisfit(this.#prefix, this.#text, after, this.#language);
    if (index === 0) {
      const complete = misfit('') === 0;
      // A block header (`if x:`, `for (…) {`) ends its line: nothing but the `}` of an empty block
      // can follow it there, whatever the bracket count says (`{` + `)`, `'(':` + `')':`).
      const code = withoutTrailingComment(lastLineOf(this.#prefix) + line);
      const rest = this.#rest;
      const header = (code.endsWith('{') && !rest.startsWith('}')) || (code.endsWith(':') && complete);
      return header || (complete && misfit(rest) > 0) ? 'more' : 'firstOnly';
    }
    if (isBlank(line)) return 'more';
    if (line.trimEnd() === this.#nextInSuffix) return 'copying';
    return fits(this.#text, this.#rest, this.#prefix, this.#language) ? 'takes' : 'more';
  }

  /** Whether the answer so far (ending with the last line given) takes the closers after a re-typed copy of them, `after` following it. */
  takesCopy(after: string, suffix: string): boolean {
    return takesClosers(this.#text, after, this.#rest, this.#prefix, suffix, this.#language);
  }
}

/** See `ClosersScan`. At a line start, an answer that ends with a line break leaves the closers on a line of their own, which is kept when they close what is open there (`}` after a body). */
export const closersAfterCursor: CompletionFilter = {
  name: 'closersAfterCursor',
  apply(text, ctx) {
    if (!ClosersScan.applies(ctx.prefix, ctx.suffix) || !text.includes('\n')) return text;
    const { linePrefix, lineSuffix } = cursorView(ctx.prefix, ctx.suffix);
    const spans = lineSpans(text);
    if (isBlank(linePrefix) && isBlank(spans.at(-1)!.text)) {
      const rest = lineSuffix.trimEnd();
      const ownLineFits =
        bracketBalance(text, ctx.language).delta <= 0 &&
        lineMisfit(ctx.prefix, text, rest, ctx.language) === 0;
      if (ownLineFits) return text;
    }
    const scan = new ClosersScan(ctx.prefix, ctx.suffix, ctx.language);
    const firstOnly = text.slice(0, spans[0]!.end);
    for (const span of spans) {
      const verdict = scan.next(span.text);
      if (verdict === 'firstOnly' || verdict === 'copying') return firstOnly;
      if (verdict === 'takes') return text.slice(0, span.end);
      if (span !== spans[0] && !isBlank(span.text) && scan.takesCopy(text.slice(span.end), ctx.suffix))
        return text.slice(0, span.end);
    }
    return firstOnly;
  },
};
