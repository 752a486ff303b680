/**
 * Prompt size estimation. There is no real tokenizer yet: the estimate charges every special
 * token one token and the remaining characters `ceil(length / charsPerToken)`. Budgeting only
 * talks to `TokenCounter`, so a real tokenizer (or an upstream /tokenize call) can replace it.
 */

export interface TokenCounter {
  count(text: string): number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Matches any of `tokens`, longest first so that e.g. `▁<EOT>` wins over `<EOT>` at the same
 * position. Undefined when there is nothing to match.
 */
export function specialTokenPattern(tokens: readonly string[]): RegExp | undefined {
  // Built once per token list: every request of a model uses the same one (the same array, so
  // the identity look-up answers before the list is joined into a key).
  const known = patternByList.get(tokens);
  if (known !== undefined || patternByList.has(tokens)) return known;
  const key = tokens.join('\u0000');
  if (patternCache.has(key)) {
    const cached = patternCache.get(key);
    patternByList.set(tokens, cached);
    return cached;
  }
  const pattern = buildPattern(tokens);
  if (patternCache.size >= 256) patternCache.clear();
  patternCache.set(key, pattern);
  patternByList.set(tokens, pattern);
  return pattern;
}

const patternCache = new Map<string, RegExp | undefined>();
const patternByList = new WeakMap<readonly string[], RegExp | undefined>();

function buildPattern(tokens: readonly string[]): RegExp | undefined {
  const distinct = [...new Set(tokens.filter((t) => t !== ''))].sort((a, b) => b.length - a.length);
  if (distinct.length === 0) return undefined;
  return new RegExp(distinct.map(escapeRegExp).join('|'), 'g');
}

export function createEstimateCounter(charsPerToken: number, specialTokens: readonly string[]): TokenCounter {
  if (!(charsPerToken > 0)) throw new RangeError(`charsPerToken must be positive, got ${charsPerToken}`);
  const pattern = specialTokenPattern(specialTokens);
  return {
    count(text: string): number {
      if (text === '') return 0;
      let specials = 0;
      let specialChars = 0;
      if (pattern) {
        // exec on the shared pattern, not matchAll (which copies the RegExp on every call):
        // budgeting counts many slices per request. Synchronous, so no other caller sees lastIndex.
        pattern.lastIndex = 0;
        for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
          specials += 1;
          specialChars += match[0].length;
        }
      }
      return specials + Math.ceil((text.length - specialChars) / charsPerToken);
    },
  };
}
