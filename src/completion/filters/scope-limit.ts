import { BlockScope, reachesSuffix, scopeAnchor } from './block-scope.js';
import { firstNonBlankLine, indentWidth, isBlank, isClosingLine, lineSpans } from './code-lines.js';
import type { CompletionFilter } from './filter.js';

/**
 * Whether the text after the cursor already closes (or still continues) the block that `closer`
 * would close: then adding the closer would leave one too many.
 */
function suffixClosesBlock(closer: string, suffix: string): boolean {
  const next = firstNonBlankLine(suffix);
  if (next === undefined) return false;
  const nextIndent = indentWidth(next);
  const closerIndent = indentWidth(closer);
  // Deeper: the cursor sits inside the block and the suffix continues it.
  if (nextIndent > closerIndent) return true;
  return nextIndent === closerIndent && (isClosingLine(next) || /^\s*[)\]}]/.test(next));
}

/**
 * Multi-line answers stop where the cursor's block ends (see `BlockScope`): at the first line
 * indented less than the block (continuations like `else:` or `} catch {` excepted). A closing
 * line there is kept once, unless the suffix already closes the block. An answer that begins
 * after the cursor's block has ended keeps nothing. Single-line answers are limited to one line
 * before the chain runs (see `runFilters`).
 */
export const scopeLimit: CompletionFilter = {
  name: 'scopeLimit',
  apply(text, ctx) {
    if (ctx.lineMode === 'single') return text;
    const anchor = scopeAnchor(ctx.prefix, ctx.suffix);
    const scope = new BlockScope(anchor);
    const spans = lineSpans(text);
    let outwardAt: number | undefined;
    let kept = text.length;
    for (const span of spans) {
      const verdict = scope.next(span.text);
      if (verdict === 'outward') outwardAt ??= span.start;
      if (verdict === 'inside' || verdict === 'outward') continue;
      kept = verdict === 'closer' && !suffixClosesBlock(span.text, ctx.suffix) ? span.next : span.start;
      break;
    }
    if (outwardAt !== undefined) {
      const lastLine = lineSpans(text.slice(0, kept))
        .map((s, i) => (i === 0 ? anchor.linePrefix + s.text : s.text))
        .filter((line) => !isBlank(line))
        .at(-1);
      if (!reachesSuffix(anchor, lastLine)) kept = outwardAt;
    }
    return text.slice(0, kept);
  },
};
