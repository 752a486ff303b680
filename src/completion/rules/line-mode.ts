import { isBlank } from '../filters/code-lines.js';
import type { CompletionInput, LineMode } from '../types.js';
import { type CursorView, cursorView } from '../types.js';

/**
 * Whether to ask the model for one line or several. A client-forced mode wins, then the
 * configuration. In `auto`, text after the cursor on its line (even closers such as `)` or `'))`)
 * means the answer must end on this line: one line. With the rest of the line blank the model may
 * write several lines, and what is shown is decided from its answer: a block at a line start (see
 * `filters/block-scope.ts`), and after text on the line only what belongs to that line (see
 * `cursor-line-policy.ts`): `    f` + `or b in brackets:` keeps the loop body it goes on with,
 * `    total = ` + `sum(xs)` stays one line when the next line is a new statement.
 */
export function decideLineMode(
  input: CompletionInput,
  configured: 'auto' | 'always' | 'never',
  view: CursorView = cursorView(input.prefix, input.suffix),
): LineMode {
  if (input.lineMode) return input.lineMode;
  if (configured === 'always') return 'multi';
  if (configured === 'never') return 'single';
  return isBlank(view.lineSuffix) ? 'multi' : 'single';
}
