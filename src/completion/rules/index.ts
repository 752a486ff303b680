import type { RejectRuleName } from '../../config/schema.js';
import { type CompletionInput, type CursorView, cursorView } from '../types.js';
import { afterStatementEnd } from './after-statement-end.js';
import { emptyDocument } from './empty-document.js';
import { insideWord } from './inside-word.js';
import type { RejectRule } from './rule.js';

export { decideLineMode } from './line-mode.js';
export type { RejectRule } from './rule.js';

/** In the order of REJECT_RULES, which is the order reasons are reported in. */
export const REJECT_RULE_CHECKS: readonly RejectRule[] = [afterStatementEnd, insideWord, emptyDocument];

/**
 * The first enabled rule that rejects the request, or undefined to go on. A manual trigger is
 * an explicit ask, so no rule applies to it.
 */
export function checkRejectRules(
  input: CompletionInput,
  enabled: Record<RejectRuleName, boolean>,
  view: CursorView = cursorView(input.prefix, input.suffix),
): RejectRuleName | undefined {
  if (input.triggerMode === 'manual') return undefined;
  return REJECT_RULE_CHECKS.find((rule) => enabled[rule.name] && rule.check(input, view))?.name;
}
