import type { RejectRuleName } from '../../config/schema.js';
import type { CompletionInput } from '../types.js';

/** A "don't complete here" rule: `check` answers true when the request should be rejected. */
export interface RejectRule {
  name: RejectRuleName;
  check(input: CompletionInput): boolean;
}
