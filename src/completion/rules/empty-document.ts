import type { RejectRule } from './rule.js';

/** Nothing to condition on: the model would only guess. */
export const emptyDocument: RejectRule = {
  name: 'emptyDocument',
  check(input) {
    return input.prefix.trim() === '' && input.suffix.trim() === '';
  },
};
