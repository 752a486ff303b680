import { type CursorView, viewOf } from '../types.js';
import { BlockScope, reachesSuffix, scopeAnchor } from './block-scope.js';
import {
  firstNonBlankLine,
  indentWidth,
  isBlank,
  isClosersOnly,
  isClosingLine,
  lineSpans,
} from './code-lines.js';
import type { CompletionFilter } from './filter.js';
import { lineMisfit } from './line-fit.js';

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
 * With closers left after text on the cursor line (`)`, `'))`) they end the answer's last line
 * (when several lines were asked for anyway, `multiline: always`). A multi-line answer whose last
 * line does not read right with them (the model re-typed them on its first line and went on with
 * a body) keeps only its first line, which suffixOverlap then judges.
 */
function fitClosers(text: string, prefix: string, view: CursorView): string {
  const { linePrefix, lineSuffix } = view;
  if (isBlank(linePrefix) || !isClosersOnly(lineSuffix) || !text.includes('\n')) return text;
  if (lineMisfit(prefix, text.replace(/\s+$/, ''), lineSuffix) === 0) return text;
  return text.slice(0, lineSpans(text)[0]!.end);
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
    return fitClosers(text.slice(0, kept), ctx.prefix, viewOf(ctx));
  },
};
