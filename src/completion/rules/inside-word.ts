import type { RejectRule } from './rule.js';

const WORD_START = /^[\p{L}\p{N}_]/u;

/** The user is editing inside an identifier or number: a suggestion would split it. */
export const insideWord: RejectRule = {
  name: 'insideWord',
  check(input) {
    return WORD_START.test(input.suffix);
  },
};
