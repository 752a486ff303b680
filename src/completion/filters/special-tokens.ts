import type { CompletionFilter } from './filter.js';

/**
 * Tokens that only pad or open a sequence carry no meaning in the middle of an answer, so they
 * are removed; any other special token (end of text, FIM markers, file separators) means the
 * model has left the hole and everything from it on is junk.
 */
const HARMLESS_TOKEN = /pad|unk|^<s>$|^<bos>$|begin[_▁ ]?of[_▁ ]?(text|sentence)/i;

export function endsCompletion(token: string): boolean {
  return !HARMLESS_TOKEN.test(token);
}

/** A cut-off token at the very end (the stream stopped inside it); `<|`, `<｜fim▁` and the like. */
function partialTokenAtEnd(text: string, tokens: string[]): number {
  let longest = 0;
  for (const token of tokens) {
    for (let k = Math.min(token.length - 1, text.length); k >= 2; k--) {
      const head = token.slice(0, k);
      if (k > longest && /[|｜▁]/.test(head) && text.endsWith(head)) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

function once(text: string, tokens: string[]): string {
  let cut = text.length;
  for (const token of tokens) {
    if (!endsCompletion(token)) continue;
    const at = text.indexOf(token);
    if (at !== -1 && at < cut) cut = at;
  }
  let result = text.slice(0, cut);
  for (const token of tokens) if (!endsCompletion(token)) result = result.split(token).join('');
  return result.slice(0, result.length - partialTokenAtEnd(result, tokens));
}

export const specialTokens: CompletionFilter = {
  name: 'specialTokens',
  apply(text, ctx) {
    const tokens = ctx.specialTokens.filter((t) => t.length > 0);
    if (tokens.length === 0) return text;
    // Removing one token can join two halves into another one; repeat until nothing changes.
    let current = text;
    for (;;) {
      const next = once(current, tokens);
      if (next === current) return current;
      current = next;
    }
  },
};
