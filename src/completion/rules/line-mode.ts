import { isBlank, isClosersOnly } from '../filters/code-lines.js';
import type { CompletionInput, LineMode } from '../types.js';
import { type CursorView, cursorView } from '../types.js';

/**
 * Whether to ask the model for one line or several. A client-forced mode wins, then the
 * configuration. In `auto`, text after the cursor on its line (`foo(|, b)`, `x| + 1`) means the
 * answer must end on this line: one line. With the rest of the line blank, or only closers
 * (`)`, `'))`, `]):`, `);` — what an editor auto-inserts), the model may write several lines, and
 * what is shown is decided from its answer: a block at a line start (see
 * `filters/block-scope.ts`), after text on the line only what belongs to that line (see
 * `cursor-line-policy.ts`), and before closers the lines up to the one they close (see
 * `filters/closers-after-cursor.ts`): `    mean ` + `= sum(xs) / len(xs)` is complete, so the
 * `)` after the cursor closes a later line.
 */
export function decideLineMode(
  input: CompletionInput,
  configured: 'auto' | 'always' | 'never',
  view: CursorView = cursorView(input.prefix, input.suffix),
): LineMode {
  if (input.lineMode) return input.lineMode;
  if (configured === 'always') return 'multi';
  if (configured === 'never') return 'single';
  return isBlank(view.lineSuffix) || isClosersOnly(view.lineSuffix) ? 'multi' : 'single';
}
