import { cursorView } from '../types.js';
import {
  bracketBalance,
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosersOnly,
  lastLineOf,
  lineSpans,
  withoutTrailingComment,
} from './code-lines.js';
import type { CompletionFilter } from './filter.js';
import { lineMisfit, statementMisfit } from './line-fit.js';

/** How badly the cursor line would read with an answer and the closers after it (0 reads right). */
type Misfit = typeof lineMisfit;

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
  misfit: Misfit = lineMisfit,
): boolean {
  if (fits(answer, rest, prefix, language, misfit)) return true;
  const bodies = [answer, answer.replace(/[ \t]*[:;,{][ \t]*$/, '')];
  for (let k = rest.length; k > 0; k--) {
    const copy = rest.slice(0, k);
    for (const body of bodies) {
      if (!body.endsWith(copy) || !fits(body.slice(0, -k), rest, prefix, language, misfit)) continue;
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
function fits(
  answer: string,
  rest: string,
  prefix: string,
  language: string,
  misfit: Misfit = lineMisfit,
): boolean {
  if (misfit(prefix, answer, rest, language) !== 0) return false;
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
 * - it still needs them, or needs more (`    total = sum(` + `x * 2`, or + nothing, before `)`):
 *   the statement stays open, and the answer may go on with it on lines deeper than the cursor
 *   line or lines that start with a closer (a hanging indent, arguments one per line). Such a line
 *   may balance the brackets by count (`        x * 2` + `)`) and still not end the statement, so
 *   the statement ends only where a line at the cursor line's level or shallower starts (or the
 *   answer ends). Counting brackets over the whole statement: if the closers end it there, the
 *   answer ends with its last non-blank line; if the answer closed it itself, the closers belong
 *   to a later line, as above; otherwise only the first line is kept, as a single-line request
 *   would. A statement ended by a re-typed copy of the closers counts where the answer ends after
 *   it or goes on re-typing the code after the cursor (suffixOverlap cuts the copy).
 * `ClosersScan` decides line by line (where an open statement ends, mostly as soon as the first
 * character of the line after it shows its indentation), so the stream stop detector ends the
 * answer as soon as it is decided (the upstream request is closed then) and the filter agrees
 * with it.
 */
export class ClosersScan {
  readonly #prefix: string;
  readonly #suffix: string;
  readonly #rest: string;
  readonly #language: string;
  readonly #nextInSuffix: string | undefined;
  #text = '';
  #index = 0;
  /**
   * While the cursor line's statement is open: the indentation of the completed cursor line,
   * which the statement's later lines go deeper than.
   */
  #openStatementIndent: number | undefined;
  /** While the statement is open: the answer through its last non-blank line so far. */
  #statement = '';

  constructor(prefix: string, suffix: string, language: string) {
    const { lineSuffix } = cursorView(prefix, suffix);
    this.#prefix = prefix;
    this.#suffix = suffix;
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
   * its first line, `takes` after this line, `statementEnd` after the last non-blank line before
   * this one, `more` reads on; `copying` means this line re-types the code after the cursor: the
   * answer ended before it (after its first line, or after a line that ends with a re-typed copy
   * of the closers, see `takesCopy`).
   */
  next(line: string): 'firstOnly' | 'takes' | 'statementEnd' | 'copying' | 'more' {
    const index = this.#index++;
    this.#text = index === 0 ? line : `${this.#text}\n${line}`;
    if (index === 0) return this.#firstLine(line);
    if (isBlank(line)) return 'more';
    const copying = line.trimEnd() === this.#nextInSuffix;
    if (this.#openStatementIndent !== undefined) {
      if (!copying && this.#continuesStatement(line)) {
        this.#statement = this.#text;
        return 'more';
      }
      const verdict = this.#statementEnd(copying);
      if (verdict) return verdict;
      // The answer closed the statement itself: this line starts what the closers may end.
      this.#openStatementIndent = undefined;
    }
    if (copying) return 'copying';
    return fits(this.#text, this.#rest, this.#prefix, this.#language) ? 'takes' : 'more';
  }

  #firstLine(line: string): 'firstOnly' | 'more' {
    const misfit = (after: string) => lineMisfit(this.#prefix, line, after, this.#language);
    const complete = misfit('') === 0;
    // A block header (`if x:`, `for (…) {`) ends its line: nothing but the `}` of an empty block
    // can follow it there, whatever the bracket count says (`{` + `)`, `'(':` + `')':`).
    const cursorLine = lastLineOf(this.#prefix) + line;
    const code = withoutTrailingComment(cursorLine);
    const rest = this.#rest;
    const header = (code.endsWith('{') && !rest.startsWith('}')) || (code.endsWith(':') && complete);
    if (header || (complete && misfit(rest) > 0)) return 'more';
    if (complete) return 'firstOnly';
    this.#openStatementIndent = indentWidth(cursorLine);
    this.#statement = line;
    return 'more';
  }

  #continuesStatement(lineStart: string): boolean {
    return indentWidth(lineStart) > this.#openStatementIndent! || /^\s*[)\]}]/.test(lineStart);
  }

  /**
   * Whether a line of the answer after the first, judged from its start alone (up to its first
   * non-blank character, so that a line still streaming in is judged as soon as that much of it
   * has arrived), ends the open statement: `statementEnd` or `firstOnly` as `next` will say for
   * the whole line; undefined while the statement goes on, when there is none, or when the rest of
   * the line decides.
   */
  endsStatement(lineStart: string): 'statementEnd' | 'firstOnly' | undefined {
    if (this.#openStatementIndent === undefined || isBlank(lineStart)) return undefined;
    if (this.#continuesStatement(lineStart)) return undefined;
    const mayBeCopy = this.#nextInSuffix?.startsWith(lineStart.trimEnd()) === true;
    return this.#statementEnd(mayBeCopy ? undefined : false);
  }

  /**
   * How the answer ends when a line that does not go on with the open statement follows it;
   * `copying`: whether that line re-types the code after the cursor, undefined while only its start
   * is known. Undefined when the answer closed the statement itself (the closers then belong to a
   * later line: read on as after a complete first line), or when only the rest of the line can
   * tell.
   */
  #statementEnd(copying: boolean | undefined): 'statementEnd' | 'firstOnly' | undefined {
    if (this.#statementTakesClosers(false)) return 'statementEnd';
    if (copying !== false && this.#statementTakesClosers(true)) return copying ? 'statementEnd' : undefined;
    if (copying) return 'firstOnly';
    const closedByAnswer = statementMisfit(this.#prefix, this.#statement, '', this.#language) === 0;
    return closedByAnswer ? undefined : 'firstOnly';
  }

  /**
   * The closers end the open statement, its brackets counted from the cursor line; with `copies`,
   * also a re-typed copy of them at its end (nothing after the statement is kept, so the answer
   * counts as stopping after the copy).
   */
  #statementTakesClosers(copies: boolean): boolean {
    const statement = this.#statement;
    if (!copies) return fits(statement, this.#rest, this.#prefix, this.#language, statementMisfit);
    const suffix = this.#suffix;
    return takesClosers(statement, '', this.#rest, this.#prefix, suffix, this.#language, statementMisfit);
  }

  /**
   * Whether the answer so far (ending with the last line given) takes the closers after a re-typed
   * copy of them, `after` following it. Not while the statement is open: there a line that
   * balances the brackets need not end it, and where it ends is decided by the lines after it.
   */
  takesCopy(after: string): boolean {
    if (this.#openStatementIndent !== undefined) return false;
    return takesClosers(this.#text, after, this.#rest, this.#prefix, this.#suffix, this.#language);
  }

  /**
   * The answer ended after the last line given, undecided: whether it ends with the open statement
   * (the closers, or a re-typed copy of them, end it), at the statement's last non-blank line,
   * rather than after its first line. Whitespace after that line is not kept: at a line start it
   * would push the closers onto a line of their own, out of the statement's indentation.
   */
  endsWithStatement(): boolean {
    return this.#openStatementIndent !== undefined && this.#statementTakesClosers(true);
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
    let lastCodeLineEnd = spans[0]!.end;
    for (const span of spans) {
      const verdict = scan.next(span.text);
      if (verdict === 'firstOnly' || verdict === 'copying') return firstOnly;
      if (verdict === 'takes') return text.slice(0, span.end);
      if (verdict === 'statementEnd') return text.slice(0, lastCodeLineEnd);
      if (span === spans[0] || isBlank(span.text)) continue;
      lastCodeLineEnd = span.end;
      if (scan.takesCopy(text.slice(span.end))) return text.slice(0, span.end);
    }
    return scan.endsWithStatement() ? text.slice(0, lastCodeLineEnd) : firstOnly;
  },
};
