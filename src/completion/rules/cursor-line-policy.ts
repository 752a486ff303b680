import { indentWidth, isBlank } from '../filters/code-lines.js';

/**
 * The cursor-line policy: how much of an answer to show when the cursor sits after text on its
 * line and the rest of the line is blank or only closers (those requests are asked for several
 * lines; see `decideLineMode`). The answer's first line completes the cursor line. What follows
 * is shown only while it belongs to that line, judged from the completed line and the answer's
 * indentation, never from the cursor line alone:
 * - the completed line opens a block (`:`, `{`, `=>`, an open bracket): its body, which is
 *   indented deeper, and the line closing it at its own level;
 * - the statement goes on: continuation lines indented deeper (`.then(…)`, `+ b`), and clauses of
 *   the same statement (`else:`, `} catch (e) {`);
 * - otherwise the line is complete, and lines at its level or shallower are new statements that
 *   the user did not start: one line only.
 * An answer that starts with a line break leaves the cursor line as typed; its lines are judged
 * like those of a cursor at a line start (see `filters/block-scope.ts`).
 *
 * Returns the indentation below which a later answer line leaves the cursor line's statement
 * (closers and `else`-like clauses at the line's own level are judged by `classifyLine`).
 */
export function cursorLineLimit(completedLine: string): number {
  return indentWidth(completedLine) + 1;
}

/** Whether the answer's first line goes on the cursor line's text (the policy above applies). */
export function continuesCursorLine(linePrefix: string, firstAnswerLine: string): boolean {
  return !isBlank(linePrefix) && !isBlank(firstAnswerLine);
}
