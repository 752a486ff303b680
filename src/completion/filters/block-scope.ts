import { continuesCursorLine, cursorLineLimit } from '../rules/cursor-line-policy.js';
import {
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosersOnly,
  isClosingLine,
  isContinuationLine,
  isDefinitionLine,
  lastLineOf,
  opensBlock,
  previousNonBlankLine,
} from './code-lines.js';

/**
 * Where a multi-line completion's block ends. Both the stream stop detector and the
 * `scopeLimit` filter walk the answer's lines through `BlockScope`, so that a streamed answer
 * and a post-processed one agree.
 *
 * The "cursor's block" is:
 * - the answer goes on text on the cursor line: the cursor-line policy
 *   (`rules/cursor-line-policy.ts`): only what belongs to that line; unless closers follow the
 *   cursor (`    mean |)`): they end the answer's last line, so its lines are judged as after a
 *   line start, the completed cursor line first (`filters/closers-after-cursor.ts` then ends the
 *   answer at the line that takes them);
 * - the answer starts with a line break after text on the cursor line: the block that line is
 *   in, or the body of the block it opens;
 * - cursor at a line start: the block of the first completion line, but never wider than the
 *   block the previous prefix line is in (a dedent at the start is respected) and never wider
 *   than the body of a block the previous line opens.
 * In the last two cases the block widens when the code after the cursor shows that the enclosing
 * block is not over yet, or not there at all:
 * - the suffix goes on at a shallower (non-zero) indentation: the completion may go on down to
 *   that level, because code written in that gap naturally continues the enclosing block (a blank
 *   line under `if x:` inside a function is often filled with the body and then more of it);
 * - nothing indented follows (end of file, or the next top-level definition): the completion may
 *   finish the enclosing definition, down to any indented line. Column 0 stays outside, or a new
 *   top-level function would pass.
 * An answer whose first line is a new top-level definition while the cursor is inside an indented
 * block (the cursor line or the code after it is indented) begins after that block has ended:
 * nothing of it is kept.
 */
export interface ScopeAnchor {
  /** Cursor line before the cursor. */
  linePrefix: string;
  /** Last non-blank line of the prefix above the cursor line. */
  previousLine: string | undefined;
  /** Indentation of the first non-blank line after the cursor, when there is one. */
  suffixIndent: number | undefined;
  /** The rest of the cursor line is closers only (`)`, `'))`): they end the answer's last line. */
  closersAfter: boolean;
}

export function scopeAnchor(prefix: string, suffix: string): ScopeAnchor {
  // Closers after text on the cursor line end the answer's last line; the code after the cursor
  // is on the next lines. (Before a `}` at a line start, that `}` is the next line.)
  const linePrefix = lastLineOf(prefix);
  const lineEnd = suffix.indexOf('\n');
  const rest = lineEnd === -1 ? suffix : suffix.slice(0, lineEnd);
  const skipRest = !isBlank(linePrefix) && isClosersOnly(rest);
  const next = firstNonBlankLine(skipRest ? suffix.slice(rest.length) : suffix);
  return {
    linePrefix,
    previousLine: previousNonBlankLine(prefix),
    suffixIndent: next === undefined ? undefined : indentWidth(next),
    closersAfter: isClosersOnly(rest),
  };
}

/** Widens a limit where the suffix shows the enclosing block goes on, or is unfinished. */
function widenForSuffix(strict: number, suffixIndent: number | undefined): number {
  if (suffixIndent !== undefined && suffixIndent > 0) return Math.min(strict, suffixIndent);
  return Math.min(strict, 1);
}

/** The limit for lines after `line`, the last line written before them. */
function limitAfter(line: string, suffixIndent: number | undefined): number {
  const indent = indentWidth(line);
  return widenForSuffix(opensBlock(line) ? indent + 1 : indent, suffixIndent);
}

/** The limit set by the first non-blank line of an answer that starts at a line start. */
function limitFromReference(anchor: ScopeAnchor, reference: string): number {
  const indent = indentWidth(reference);
  const previous = anchor.previousLine;
  if (previous === undefined) return indent;
  const previousIndent = indentWidth(previous);
  const strict =
    opensBlock(previous) && indent > previousIndent ? previousIndent + 1 : Math.min(indent, previousIndent);
  return widenForSuffix(strict, anchor.suffixIndent);
}

function beginsAfterBlock(anchor: ScopeAnchor, reference: string): boolean {
  if (indentWidth(reference) > 0 || !isDefinitionLine(reference)) return false;
  return indentWidth(anchor.linePrefix) > 0 || (anchor.suffixIndent ?? 0) > 0;
}

/**
 * `outward`: the line leaves the block, but the code after the cursor is indented deeper than
 * it, so the answer may be on its way to open the block that code belongs to (the cursor was in
 * an `if` body; the answer finishes it, goes on in the function and opens the loop whose body
 * follows the cursor). Whether it got there is known only at the end: see `reachesSuffix`.
 */
export type LineVerdict = 'inside' | 'closer' | 'end' | 'outward';

/** Where a complete line stands relative to a block whose lines are indented at least `limit`. */
export function classifyLine(line: string, limit: number): Exclude<LineVerdict, 'outward'> {
  if (isBlank(line) || indentWidth(line) >= limit || isContinuationLine(line)) return 'inside';
  return isClosingLine(line) ? 'closer' : 'end';
}

/**
 * An answer that went `outward` is kept whole only if the code after the cursor fits on after its
 * last line: as that line's body (it opens a block and the suffix is deeper) or as its sibling.
 * Otherwise it stops at the first outward line.
 */
export function reachesSuffix(anchor: ScopeAnchor, lastLine: string | undefined): boolean {
  if (lastLine === undefined || anchor.suffixIndent === undefined) return false;
  const indent = indentWidth(lastLine);
  return anchor.suffixIndent === indent || (opensBlock(lastLine) && anchor.suffixIndent > indent);
}

/** Judges the complete lines of one answer, in order. */
export class BlockScope {
  readonly #anchor: ScopeAnchor;
  #index = 0;
  /** Lines indented less than this leave the block; known once the first line(s) set it. */
  #limit: number | undefined;

  constructor(anchor: ScopeAnchor) {
    this.#anchor = anchor;
  }

  /** The next line of the answer, without its line break. */
  next(line: string): LineVerdict {
    const anchor = this.#anchor;
    const index = this.#index++;
    if (this.#limit !== undefined) {
      const verdict = classifyLine(line, this.#limit);
      const indent = indentWidth(line);
      // A clause the block's statement goes on with (`else:`, `} catch (e) {`) brings its body.
      if (verdict === 'inside' && indent < this.#limit && isContinuationLine(line) && opensBlock(line)) {
        this.#limit = indent + 1;
        return verdict;
      }
      if (verdict !== 'end' || indent === 0 || (anchor.suffixIndent ?? 0) <= indent) return verdict;
      this.#limit = indent;
      return 'outward';
    }
    if (index === 0 && !isBlank(anchor.linePrefix) && !anchor.closersAfter) {
      this.#limit = continuesCursorLine(anchor.linePrefix, line)
        ? cursorLineLimit(anchor.linePrefix + line)
        : limitAfter(anchor.linePrefix, anchor.suffixIndent);
      return 'inside';
    }
    const docLine = index === 0 ? anchor.linePrefix + line : line;
    if (isBlank(docLine)) return 'inside';
    if (beginsAfterBlock(anchor, docLine)) return 'end';
    this.#limit = limitFromReference(anchor, docLine);
    return 'inside';
  }
}
