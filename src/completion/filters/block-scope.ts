import {
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosingLine,
  isContinuationLine,
  lastLineOf,
  opensBlock,
  previousNonBlankLine,
} from './code-lines.js';

/**
 * Where a multi-line completion's block ends. Both the stream stop detector and the
 * `scopeLimit` filter use this so that a streamed answer and a post-processed one agree.
 *
 * The "cursor's block" is:
 * - cursor mid-line: the cursor line itself; if that line opens a block (ends with `:`/`{`,
 *   leaves a bracket open) the completion may only go deeper, else it may continue at its level;
 * - cursor at a line start: the block of the first completion line, but never wider than the
 *   block the previous prefix line is in (a dedent at the start is respected) and never wider
 *   than the body of a block the previous line opens — unless the code after the cursor goes on
 *   at a shallower (non-zero) indentation: then the completion may go on down to that level,
 *   because code written in that gap naturally continues the enclosing block (a blank line under
 *   `if x:` inside a function is often filled with the body and then more of the function).
 *   A suffix at column 0 never loosens the limit, or a new top-level function would pass.
 */
export interface ScopeAnchor {
  /** Cursor line before the cursor. */
  linePrefix: string;
  /** Last non-blank line of the prefix above the cursor line. */
  previousLine: string | undefined;
  /** Indentation of the first non-blank line after the cursor, when there is one. */
  suffixIndent: number | undefined;
}

export function scopeAnchor(prefix: string, suffix: string): ScopeAnchor {
  const next = firstNonBlankLine(suffix);
  return {
    linePrefix: lastLineOf(prefix),
    previousLine: previousNonBlankLine(prefix),
    suffixIndent: next === undefined ? undefined : indentWidth(next),
  };
}

/** True when the reference line is the cursor line itself (cursor after some text). */
export function anchoredMidLine(anchor: ScopeAnchor): boolean {
  return !isBlank(anchor.linePrefix);
}

/**
 * Lines indented less than the returned width leave the block. `referenceLine` is the cursor
 * line (mid-line cursor) or the first non-blank completion line, as it will read in the document.
 */
export function indentLimit(anchor: ScopeAnchor, referenceLine: string): number {
  const reference = indentWidth(referenceLine);
  if (anchoredMidLine(anchor)) return opensBlock(referenceLine) ? reference + 1 : reference;
  const previous = anchor.previousLine;
  if (previous === undefined) return reference;
  const previousIndent = indentWidth(previous);
  const strict =
    opensBlock(previous) && reference > previousIndent
      ? previousIndent + 1
      : Math.min(reference, previousIndent);
  const { suffixIndent } = anchor;
  return suffixIndent !== undefined && suffixIndent > 0 ? Math.min(strict, suffixIndent) : strict;
}

export type LineVerdict = 'inside' | 'closer' | 'end';

/** Where a complete line after the reference line stands relative to the block. */
export function classifyLine(line: string, limit: number): LineVerdict {
  if (isBlank(line) || indentWidth(line) >= limit || isContinuationLine(line)) return 'inside';
  return isClosingLine(line) ? 'closer' : 'end';
}
