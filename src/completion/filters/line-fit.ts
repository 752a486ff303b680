import { bracketBalance, indentWidth, isBlank, lastLineOf, splitLines } from './code-lines.js';

/** How far back to look for the start of the statement the cursor line belongs to. */
const STATEMENT_LOOKBACK_LINES = 30;

/** The last `count` lines of `text` (the part after its last line break included). */
function lastLines(text: string, count: number): string[] {
  let start = text.length;
  for (let i = 0; i < count && start > 0; i++) start = text.lastIndexOf('\n', start - 1);
  return splitLines(text.slice(start + 1));
}

/**
 * Brackets left open when `line` starts, opened by the lines above it. Counted from the nearest
 * line above that is indented less (where the statement or block `line` is in starts): a block
 * opener (`{`, `:`) there starts a block of statements, so only the lines after it count; anything
 * else (`x = foo(` above `    a, b`) is the start of this very statement. At the top level, from
 * the nearest line at the same level.
 */
function openBracketsBefore(above: string[], line: string, language: string | undefined): number {
  const indent = indentWidth(line);
  const first = Math.max(0, above.length - STATEMENT_LOOKBACK_LINES);
  for (let i = above.length - 1; i >= first; i--) {
    const candidate = above[i]!;
    if (isBlank(candidate)) continue;
    const candidateIndent = indentWidth(candidate);
    if (candidateIndent > indent || (candidateIndent === indent && indent > 0)) continue;
    const from = candidateIndent < indent && /[{:]\s*$/.test(candidate) ? i + 1 : i;
    return Math.max(0, bracketBalance(above.slice(from).join('\n'), language).delta);
  }
  return 0;
}

/**
 * How badly the cursor line would read with `answer` inserted: brackets it leaves open or closes
 * twice (beyond what the lines above opened), plus one for a string left open. 0 reads right.
 * The line is the answer's last line with the rest of the cursor line after it.
 */
export function lineMisfit(prefix: string, answer: string, lineSuffix: string, language?: string): number {
  const lines = splitLines(prefix.slice(prefix.lastIndexOf('\n') + 1) + answer);
  const line = `${lines.at(-1)!}${lineSuffix}`;
  const above = [...lastLines(prefix, STATEMENT_LOOKBACK_LINES).slice(0, -1), ...lines.slice(0, -1)];
  const balance = bracketBalance(line, language);
  return Math.abs(balance.delta + openBracketsBefore(above, line, language)) + (balance.openQuote ? 1 : 0);
}

/**
 * Like `lineMisfit`, for an answer that goes on with the cursor line's statement over several
 * lines (a hanging indent, one argument or entry per line) before `lineSuffix` ends it: the
 * brackets are counted over the whole statement from the cursor line on. Counting from the
 * statement's last line instead would take a `{` ending the cursor line (`config = {`) for a
 * block's opener and not count it.
 */
export function statementMisfit(
  prefix: string,
  answer: string,
  lineSuffix: string,
  language?: string,
): number {
  const cursorLine = lastLineOf(prefix);
  const above = lastLines(prefix, STATEMENT_LOOKBACK_LINES).slice(0, -1);
  const statement = bracketBalance(`${cursorLine}${answer}${lineSuffix}`, language);
  return (
    Math.abs(statement.delta + openBracketsBefore(above, cursorLine, language)) +
    (statement.openQuote ? 1 : 0)
  );
}
