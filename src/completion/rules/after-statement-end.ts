import type { RejectRule } from './rule.js';

// `>` ends a statement as a closed tag or generic (`<div>`, `List<int>`), not as the arrow of
// `() =>` or `->`, after which the body is exactly what the user wants completed.
const STATEMENT_END = /(?:[;})]|(?<![=-])>)$/;

/** The cursor sits after a finished statement with nothing after it on the line. */
export const afterStatementEnd: RejectRule = {
  name: 'afterStatementEnd',
  check(_input, { linePrefix, lineSuffix }) {
    return STATEMENT_END.test(linePrefix.trimEnd()) && lineSuffix.trim() === '';
  },
};
