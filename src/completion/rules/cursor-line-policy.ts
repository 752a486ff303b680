import { indentWidth, isBlank } from '../filters/code-lines.js';

/**
 * The cursor-line policy: how much of an answer to show when the cursor sits after text on its
 * line with the rest of the line blank (such requests ask for several lines, see
 * `decideLineMode`). The answer's first line completes the cursor line; whether more follows is
 * decided from that completed line and the answer's indentation, not from the text typed so far:
 * - the completed line opens a block (ends in `:`, `{`, `=>`, or leaves a bracket open),
 *   so it cannot stand alone: the block is shown, its body indented deeper and the line closing it
 *   (`    f` + `or b in brackets:` + the loop body). The block ends where a line comes back to the
 *   cursor line's level: that is a new statement the user did not start.
 * - the completed line is a statement of its own. Only lines that continue it are shown:
 *   indented deeper (`.then(…)`, `+ b`) or a clause of the same statement (`else:`,
 *   `} catch (e) {`); a new statement at its level or shallower ends the answer (`    total = `
 *   + `sum(xs)` stays one line even if the model goes on with `return total`).
 * A clause the statement goes on with (`else:`, `} catch (e) {`) brings its own body, indented
 * deeper than the clause (`        odd = []` + `    else:` + `        odd = [n]`).
 * An answer that starts with a line break leaves the cursor line as typed; its lines are judged
 * like those of a cursor at a line start (see `filters/block-scope.ts`). So are the lines of an
 * answer before closers left after the cursor (`    mean |)`): those closers end the answer's
 * last line, wherever that is, and `filters/closers-after-cursor.ts` finds it.
 *
 * Returns the indentation below which a later answer line leaves the cursor line's statement: in
 * both cases only deeper lines belong to it (closers and clauses at its level are judged by
 * `classifyLine` in `filters/block-scope.ts`).
 */
export function cursorLineLimit(completedLine: string): number {
  return indentWidth(completedLine) + 1;
}

/** Whether the answer's first line goes on the cursor line's text (the policy above applies). */
export function continuesCursorLine(linePrefix: string, firstAnswerLine: string): boolean {
  return !isBlank(linePrefix) && !isBlank(firstAnswerLine);
}
