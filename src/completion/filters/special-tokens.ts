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

/** Characters that mark a template token; a cut-off head of one must contain one of them. */
const MARKER = /[|｜▁]/;

/**
 * What the filter needs to know about one template's token list. A template's list is one
 * array for the life of the process, so this is worked out once per list, not per answer.
 */
interface TokenPlan {
  ending: string[];
  harmless: string[];
  all: string[];
  /** Longest cut-off head worth looking for (longest token minus one character). */
  longestHead: number;
}

const plans = new WeakMap<readonly string[], TokenPlan>();

function planFor(list: readonly string[]): TokenPlan {
  let plan = plans.get(list);
  if (plan) return plan;
  const all = list.filter((t) => t.length > 0);
  plan = {
    all,
    ending: all.filter(endsCompletion),
    harmless: all.filter((t) => !endsCompletion(t)),
    longestHead: Math.max(0, ...all.map((t) => t.length - 1)),
  };
  plans.set(list, plan);
  return plan;
}

/** A cut-off token at the very end (the stream stopped inside it); `<|`, `<｜fim▁` and the like. */
function partialTokenAtEnd(text: string, plan: TokenPlan): number {
  // Nearly every answer ends in plain code: no marker in its last few characters, nothing to cut.
  if (plan.longestHead < 2 || !MARKER.test(text.slice(-plan.longestHead))) return 0;
  let longest = 0;
  for (const token of plan.all) {
    for (let k = Math.min(token.length - 1, text.length); k > Math.max(longest, 1); k--) {
      const head = token.slice(0, k);
      if (MARKER.test(head) && text.endsWith(head)) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

function once(text: string, plan: TokenPlan): string {
  let cut = text.length;
  for (const token of plan.ending) {
    const at = text.indexOf(token);
    if (at !== -1 && at < cut) cut = at;
  }
  let result = cut < text.length ? text.slice(0, cut) : text;
  for (const token of plan.harmless) if (result.includes(token)) result = result.split(token).join('');
  const partial = partialTokenAtEnd(result, plan);
  return partial === 0 ? result : result.slice(0, result.length - partial);
}

export const specialTokens: CompletionFilter = {
  name: 'specialTokens',
  apply(text, ctx) {
    const plan = planFor(ctx.specialTokens);
    if (plan.all.length === 0) return text;
    // Removing one token can join two halves into another one; repeat until nothing changes.
    let current = text;
    for (;;) {
      const next = once(current, plan);
      if (next === current) return current;
      current = next;
    }
  },
};
