import { bracketBalance, indentWidth, isBlank, splitLines } from './code-lines.js';

/** How far back to look for the start of the statement the cursor line belongs to. */
const STATEMENT_LOOKBACK_LINES = 30;

/** The last `count` lines of `text` (the part after its last line break included). */
function lastLines(text: string, count: number): string[] {
  let start = text.length;
  for (let i = 0; i < count && start > 0; i++) start = text.lastIndexOf('\n', start - 1);
  return splitLines(text.slice(start + 1));
}

/**
 * Brackets left open when `line` starts, opened by the lines above it: counted from the nearest
 * line above that is not indented deeper than `line`, where its statement most likely starts
 * (`x = foo(` above `    a, b`; a plain statement above contributes nothing).
 */
function openBracketsBefore(above: string[], line: string): number {
  const indent = indentWidth(line);
  for (let i = above.length - 1; i >= Math.max(0, above.length - STATEMENT_LOOKBACK_LINES); i--) {
    const candidate = above[i]!;
    if (isBlank(candidate) || indentWidth(candidate) > indent) continue;
    return Math.max(0, bracketBalance(above.slice(i).join('\n')).delta);
  }
  return 0;
}

/**
 * How badly the cursor line would read with `answer` inserted: brackets it leaves open or closes
 * twice (beyond what the lines above opened), plus one for a string left open. 0 reads right.
 * The line is the answer's last line with the rest of the cursor line after it.
 */
export function lineMisfit(prefix: string, answer: string, lineSuffix: string): number {
  const lines = splitLines(prefix.slice(prefix.lastIndexOf('\n') + 1) + answer);
  const line = `${lines.at(-1)!}${lineSuffix}`;
  const above = [...lastLines(prefix, STATEMENT_LOOKBACK_LINES).slice(0, -1), ...lines.slice(0, -1)];
  const balance = bracketBalance(line);
  return Math.abs(balance.delta + openBracketsBefore(above, line)) + (balance.openQuote ? 1 : 0);
}
