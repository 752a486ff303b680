import { cursorView } from '../types.js';
import {
  bracketBalance,
  firstNonBlankLines,
  isBlank,
  isClosersOnly,
  lastLineOf,
  lineSpans,
  splitLines,
} from './code-lines.js';
import type { CompletionFilter } from './filter.js';
import { lineMisfit } from './line-fit.js';

/** Below this many non-space characters an overlap is too common (`}`, `x`, `i++`) to trust. */
const MIN_OVERLAP_CHARS = 8;
/**
 * A copy of whole lines, indentation included, would put two identical lines in a row, which real
 * code rarely has; so it is trusted from fewer characters (`return s`, `i += 1`).
 */
const MIN_WHOLE_LINE_OVERLAP_CHARS = 4;

function nonSpaceLength(text: string): number {
  return text.replace(/\s/g, '').length;
}

/** Only closing brackets and punctuation: whether it is a duplicate depends on the brackets. */
function isPunctuationOnly(text: string): boolean {
  return /^[\s)\]}>;,:.'"`]*$/.test(text);
}

/**
 * Whether `overlap` (re-typed text that the document already has after the cursor), coming after
 * `before`, is a duplicate worth cutting rather than a coincidence.
 */
function isConvincingOverlap(before: string, overlap: string, wholeLines: boolean): boolean {
  if (nonSpaceLength(overlap) === 0) return false;
  if (isPunctuationOnly(overlap)) return bracketBalance(before).delta <= 0;
  if (nonSpaceLength(overlap) >= (wholeLines ? MIN_WHOLE_LINE_OVERLAP_CHARS : MIN_OVERLAP_CHARS)) return true;
  return splitLines(overlap).filter((line) => !isBlank(line)).length >= 2;
}

/** `suffix.slice(0, k)` ends a line of the suffix (the rest of that line is blank). */
function endsSuffixLine(suffix: string, k: number): boolean {
  return suffix[k - 1] === '\n' || /^[ \t]*(\r?\n|$)/.test(suffix.slice(k));
}

/**
 * A copy of the suffix starts where the suffix itself starts: not inside a word, and, when the
 * cursor sits in a line's indentation, at that same indentation (so `  }` does not count as a
 * copy of a `}` one level out, nor `        return x` of `    return x`).
 */
function startsLikeSuffix(before: string, overlap: string, linePrefix: string): boolean {
  if (/^\w/.test(overlap) && /\w$/.test(linePrefix + before)) return false;
  const lineBreak = before.lastIndexOf('\n');
  const lineBefore = lineBreak === -1 ? linePrefix + before : before.slice(lineBreak + 1);
  return !isBlank(linePrefix) || !isBlank(lineBefore) || lineBefore === linePrefix;
}

function cutExactOverlap(text: string, prefix: string, suffix: string, language: string): string | undefined {
  const linePrefix = lastLineOf(prefix);
  const startsAtLineStart = (before: string): boolean =>
    before === '' ? isBlank(linePrefix) : before.endsWith('\n');
  const body = text.replace(/[ \t]+$/, '');
  const last = body.charCodeAt(body.length - 1);
  for (let k = Math.min(body.length, suffix.length); k > 0; k--) {
    // A copy of suffix[0..k) ends the body only if their last characters agree: most k stop here,
    // before the two slices and the regular expression below (this runs on every answer).
    if (suffix.charCodeAt(k - 1) !== last) continue;
    if (!endsSuffixLine(suffix, k) || !body.endsWith(suffix.slice(0, k))) continue;
    const before = body.slice(0, body.length - k);
    const overlap = suffix.slice(0, k);
    if (!startsLikeSuffix(before, overlap, linePrefix)) continue;
    // Closers re-typed on the cursor line: judged by how the line reads with and without them.
    if (isPunctuationOnly(overlap) && !overlap.includes('\n')) {
      const lineSuffix = overlap.trimEnd();
      return lineMisfit(prefix, before, lineSuffix, language) < lineMisfit(prefix, body, lineSuffix, language)
        ? before
        : undefined;
    }
    return isConvincingOverlap(before, overlap, startsAtLineStart(before)) ? before : undefined;
  }
  return undefined;
}

/**
 * Re-typing that skips or adds blank lines: the answer's last non-blank lines are the suffix's
 * first non-blank lines, indentation included (so `return x` in a nested block is not mistaken
 * for the `return x` that follows it one level up).
 */
function cutLineOverlap(text: string, prefix: string, suffix: string): string | undefined {
  const linePrefix = lastLineOf(prefix);
  const spans = lineSpans(text);
  const docLine = (i: number): string => (i === 0 ? linePrefix + spans[0]!.text : spans[i]!.text).trimEnd();
  // The answer can re-type at most as many lines as it has.
  const suffixLines = firstNonBlankLines(suffix, spans.length).map((line) => line.trimEnd());
  const firstCandidate = isBlank(linePrefix) ? 0 : 1;
  for (let start = firstCandidate; start < spans.length; start++) {
    if (isBlank(docLine(start))) continue;
    const written: string[] = [];
    for (let i = start; i < spans.length; i++) if (!isBlank(docLine(i))) written.push(docLine(i));
    if (written.length > suffixLines.length) continue;
    const matches = written.every((line, i) => {
      const expected = suffixLines[i]!;
      return line === expected || (i === written.length - 1 && expected.startsWith(line));
    });
    if (!matches) continue;
    const before = text.slice(0, spans[start]!.start);
    return isConvincingOverlap(before, written.join('\n'), true) ? before : undefined;
  }
  return undefined;
}

/** What a model writes after re-typing those closers: the statement's last character. */
const STATEMENT_END = /[ \t]*[:;,{]$/;

/**
 * The answer ends with the closers that already follow the cursor: all of them (perhaps plus the
 * statement's last character, `x)):` before `))`) or only the first few (`x)` before `))`). Which
 * closers are the model's own and which are copies is read from the cursor line's brackets and
 * quotes (with those the lines above left open): a copy is cut when the line reads better
 * without it (`return len(s` + `)` + `)`), and kept when the answer closes what it opened
 * (`print(` + `len(xs)` + `)`). Quotes cannot be told apart that way (`out = ` + `''` before
 * `''` balances either way), but two string literals in a row are not code: a whole copy of
 * closers with a quote is cut whenever the line reads right without it.
 * At a line start the copy is judged the same way when the answer's last line has code before
 * it; closers alone on a line are a closing line, duplicatedClosingLine's to judge.
 */
function cutRetypedCloser(
  text: string,
  prefix: string,
  suffix: string,
  language: string,
): string | undefined {
  const { linePrefix, lineSuffix } = cursorView(prefix, suffix);
  const rest = lineSuffix.trimEnd();
  if (!isClosersOnly(rest)) return undefined;
  // A multi-line answer cut after its first line ends with that line's break.
  const body = text.replace(/\s+$/, '');
  const misfit = (answer: string) => lineMisfit(prefix, answer, lineSuffix, language);
  const asIs = misfit(body);
  const quoted = /['"`]/.test(rest);
  if (asIs === 0 && !quoted) return undefined;
  const hasCodeBefore = (before: string) => !isBlank(lastLineOf(linePrefix + before));
  const statementEnd = STATEMENT_END.exec(body);
  for (let k = rest.length; k > 0; k--) {
    const copy = rest.slice(0, k);
    const candidates = [body.endsWith(copy) ? body.slice(0, -k) : undefined];
    if (k === rest.length && statementEnd) {
      const beforeEnd = body.slice(0, statementEnd.index);
      if (beforeEnd.endsWith(copy)) candidates.push(beforeEnd.slice(0, -k));
    }
    for (const before of candidates) {
      if (before === undefined || before.endsWith('\n') || !hasCodeBefore(before)) continue;
      const better = asIs === 0 ? k === rest.length && misfit(before) === 0 : misfit(before) < asIs;
      if (better) return before;
    }
  }
  return undefined;
}

/** The end of the answer re-types what already follows the cursor: cut the copy. */
export const suffixOverlap: CompletionFilter = {
  name: 'suffixOverlap',
  apply(text, ctx) {
    if (isBlank(text) || isBlank(ctx.suffix)) return text;
    return (
      cutRetypedCloser(text, ctx.prefix, ctx.suffix, ctx.language) ??
      cutExactOverlap(text, ctx.prefix, ctx.suffix, ctx.language) ??
      cutLineOverlap(text, ctx.prefix, ctx.suffix) ??
      text
    );
  },
};
