import type { RejectRuleName } from '../../config/schema.js';
import type { CompletionInput, CursorView } from '../types.js';

/** A "don't complete here" rule: `check` answers true when the request should be rejected. */
export interface RejectRule {
  name: RejectRuleName;
  /** `view` is the cursor line of `input`, computed once per request. */
  check(input: CompletionInput, view: CursorView): boolean;
}
