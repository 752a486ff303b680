import { anchoredMidLine, classifyLine, indentLimit, scopeAnchor } from './block-scope.js';
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
 * Multi-line answers stop where the cursor's block ends: at the first line indented less than
 * the block (continuations like `else:` or `} catch {` excepted). A closing line there is kept
 * once, unless the suffix already closes the block. Single-line answers are limited to one line
 * before the chain runs (see `runFilters`).
 */
export const scopeLimit: CompletionFilter = {
  name: 'scopeLimit',
  apply(text, ctx) {
    if (ctx.lineMode === 'single') return text;
    const anchor = scopeAnchor(ctx.prefix, ctx.suffix);
    const spans = lineSpans(text);
    const docLine = (i: number): string => (i === 0 ? anchor.linePrefix + spans[0]!.text : spans[i]!.text);
    let reference = 0;
    if (!anchoredMidLine(anchor)) {
      while (reference < spans.length && isBlank(docLine(reference))) reference++;
      if (reference === spans.length) return text;
    }
    const limit = indentLimit(anchor, docLine(reference));
    for (let i = reference + 1; i < spans.length; i++) {
      const span = spans[i]!;
      const verdict = classifyLine(span.text, limit);
      if (verdict === 'inside') continue;
      if (verdict === 'closer' && !suffixClosesBlock(span.text, ctx.suffix)) return text.slice(0, span.next);
      return text.slice(0, span.start);
    }
    return text;
  },
};
