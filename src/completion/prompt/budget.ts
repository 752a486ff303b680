import type { TokenCounter } from './tokens.js';

/**
 * Token budgeting of the prompt's user parts (prefix, suffix, context snippets).
 *
 * Policy, with B = the tokens left for user text (context window − max output − template):
 *  1. Suffix: at most ⌊B·suffixShare⌋ tokens, the text nearest the cursor (cut from the end).
 *  2. Snippets reserve R = min(⌊B·contextShare⌋, what all non-blank snippets would cost).
 *  3. Prefix: at most B − suffix − R tokens, the text nearest the cursor (cut from the front).
 *  4. Snippets, nearest (lowest distance) first, whole or not at all, while they fit in
 *     min(⌊B·contextShare⌋, B − suffix − prefix); a snippet whose content already appears in
 *     the kept prefix+suffix window is dropped (the model sees it anyway).
 *  5. Whatever of R the snippets did not use goes back to the prefix (one re-cut); snippets
 *     that the longer prefix now contains are dropped, their tokens stay unused.
 * So the prefix has priority over snippets only beyond the context share, and unused suffix
 * share flows to prefix and snippets.
 *
 * Cuts: whole lines (the partial line at a cut is dropped; CRLF stays intact because a cut is
 * right after "\n"). Only when even the cursor line does not fit is it cut inside, keeping the
 * characters nearest the cursor. Any cut is moved so that it never splits a UTF-16 surrogate
 * pair or a special token occurring in the user's text.
 */

export interface BudgetSnippet {
  /** The snippet as it will appear in the prompt (formatted), what it costs. */
  text: string;
  /** The raw content, compared against the kept window for duplicates. */
  content: string;
  distance: number;
}

export interface BudgetRequest {
  prefix: string;
  suffix: string;
  snippets: readonly BudgetSnippet[];
  /** Tokens available for prefix + suffix + snippets. */
  budget: number;
  suffixShare: number;
  contextShare: number;
  counter: TokenCounter;
  /** Strings a cut must not split. */
  specialTokens: readonly string[];
}

export interface BudgetResult {
  prefix: string;
  suffix: string;
  /** What the budget counted for the kept prefix and suffix, so nobody counts them again. */
  prefixTokens: number;
  suffixTokens: number;
  /** Indexes into `request.snippets` of the snippets kept, nearest first. */
  snippets: number[];
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

function splitsSurrogatePair(text: string, at: number): boolean {
  return (
    at > 0 &&
    at < text.length &&
    isHighSurrogate(text.charCodeAt(at - 1)) &&
    isLowSurrogate(text.charCodeAt(at))
  );
}

/** The occurrence of a special token that strictly contains position `at`, if any. */
function specialTokenAround(
  text: string,
  at: number,
  specialTokens: readonly string[],
): [number, number] | undefined {
  for (const token of specialTokens) {
    if (token.length < 2) continue;
    let from = Math.max(0, at - token.length + 1);
    for (
      let found = text.indexOf(token, from);
      found !== -1 && found < at;
      found = text.indexOf(token, from)
    ) {
      if (found + token.length > at) return [found, found + token.length];
      from = found + 1;
    }
  }
  return undefined;
}

/** Moves a cut position (towards `direction`) until it splits neither a character nor a special token. */
function safeCut(text: string, at: number, direction: 1 | -1, specialTokens: readonly string[]): number {
  let cut = at;
  for (;;) {
    if (splitsSurrogatePair(text, cut)) {
      cut += direction;
      continue;
    }
    const around = specialTokenAround(text, cut, specialTokens);
    if (around) {
      cut = direction === 1 ? around[1] : around[0];
      continue;
    }
    return cut;
  }
}

/**
 * Smallest index in [lo, hi] for which `fits` holds, assuming fits is (mostly) monotone;
 * only returns indexes that were actually checked, `undefined` if none fits.
 */
function firstFitting(lo: number, hi: number, fits: (index: number) => boolean): number | undefined {
  let best: number | undefined;
  let low = lo;
  let high = hi;
  while (low <= high) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) {
      best = mid;
      high = mid - 1;
    } else low = mid + 1;
  }
  return best;
}

/** Kept text and its token count, as counted while cutting it. */
interface Kept {
  text: string;
  tokens: number;
}

const NOTHING: Kept = { text: '', tokens: 0 };

/** The end of `text` (nearest the cursor when `text` is the prefix) that fits `maxTokens`. */
export function keepTail(
  text: string,
  maxTokens: number,
  counter: TokenCounter,
  specialTokens: readonly string[],
): string {
  return tailWithin(text, maxTokens, counter, specialTokens).text;
}

function tailWithin(
  text: string,
  maxTokens: number,
  counter: TokenCounter,
  specialTokens: readonly string[],
): Kept {
  if (maxTokens <= 0 || text === '') return NOTHING;
  const whole = counter.count(text);
  if (whole <= maxTokens) return { text, tokens: whole };
  const fitsFrom = (start: number) => counter.count(text.slice(start)) <= maxTokens;

  const lastLineStart = text.lastIndexOf('\n') + 1;
  let start: number;
  if (fitsFrom(lastLineStart)) {
    const lineStarts = [0];
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lineStarts.push(at + 1);
    const index = firstFitting(0, lineStarts.length - 1, (i) => fitsFrom(lineStarts[i]!));
    start = index === undefined ? lastLineStart : lineStarts[index]!;
  } else {
    // Probes are moved to safe cut points first, which keeps the size monotone in the probe.
    const safe = (at: number) => safeCut(text, at, 1, specialTokens);
    start = safe(firstFitting(lastLineStart, text.length, (at) => fitsFrom(safe(at))) ?? text.length);
  }
  const kept = text.slice(safeCut(text, start, 1, specialTokens));
  const tokens = counter.count(kept);
  return tokens <= maxTokens ? { text: kept, tokens } : NOTHING;
}

/** The start of `text` (nearest the cursor when `text` is the suffix) that fits `maxTokens`. */
export function keepHead(
  text: string,
  maxTokens: number,
  counter: TokenCounter,
  specialTokens: readonly string[],
): string {
  return headWithin(text, maxTokens, counter, specialTokens).text;
}

function headWithin(
  text: string,
  maxTokens: number,
  counter: TokenCounter,
  specialTokens: readonly string[],
): Kept {
  if (maxTokens <= 0 || text === '') return NOTHING;
  const whole = counter.count(text);
  if (whole <= maxTokens) return { text, tokens: whole };
  const fitsUntil = (end: number) => counter.count(text.slice(0, end)) <= maxTokens;

  const firstBreak = text.indexOf('\n');
  let end: number;
  if (firstBreak !== -1 && fitsUntil(firstBreak + 1)) {
    const lineEnds: number[] = [];
    for (let at = firstBreak; at !== -1; at = text.indexOf('\n', at + 1)) lineEnds.push(at + 1);
    // Search from the far end so that "first fitting" means "longest fitting".
    const reversed = lineEnds.reverse();
    const index = firstFitting(0, reversed.length - 1, (i) => fitsUntil(reversed[i]!));
    end = index === undefined ? firstBreak + 1 : reversed[index]!;
  } else {
    // Even the cursor line is too long: cut inside it, never between its "\r" and "\n".
    let lineEnd = firstBreak === -1 ? text.length : firstBreak;
    if (lineEnd > 0 && text[lineEnd - 1] === '\r' && firstBreak !== -1) lineEnd -= 1;
    const safe = (at: number) => safeCut(text, at, -1, specialTokens);
    const index = firstFitting(0, lineEnd, (i) => fitsUntil(safe(lineEnd - i)));
    end = index === undefined ? 0 : safe(lineEnd - index);
  }
  const kept = text.slice(0, safeCut(text, end, -1, specialTokens));
  const tokens = counter.count(kept);
  return tokens <= maxTokens ? { text: kept, tokens } : NOTHING;
}

export function allocateBudget(request: BudgetRequest): BudgetResult {
  const { budget, counter, specialTokens } = request;
  if (budget <= 0) return { prefix: '', suffix: '', prefixTokens: 0, suffixTokens: 0, snippets: [] };

  const { text: suffix, tokens: suffixTokens } = headWithin(
    request.suffix,
    Math.floor(budget * request.suffixShare),
    counter,
    specialTokens,
  );

  const contextCap = Math.floor(budget * request.contextShare);
  const candidates = request.snippets
    .map((snippet, index) => ({
      index,
      snippet,
      cost: counter.count(snippet.text),
      needle: snippet.content.trim(),
    }))
    .filter((c) => c.needle !== '')
    .sort((a, b) => a.snippet.distance - b.snippet.distance || a.index - b.index);
  const reserve = Math.min(
    contextCap,
    candidates.reduce((sum, c) => sum + c.cost, 0),
  );

  let prefix = tailWithin(request.prefix, budget - suffixTokens - reserve, counter, specialTokens);
  let room = Math.min(contextCap, budget - suffixTokens - prefix.tokens);
  let chosen: typeof candidates = [];
  const firstWindow = prefix.text + suffix;
  for (const candidate of candidates) {
    if (candidate.cost > room || firstWindow.includes(candidate.needle)) continue;
    chosen.push(candidate);
    room -= candidate.cost;
  }

  const snippetTokens = chosen.reduce((sum, c) => sum + c.cost, 0);
  if (snippetTokens < reserve) {
    prefix = tailWithin(request.prefix, budget - suffixTokens - snippetTokens, counter, specialTokens);
    const window = prefix.text + suffix;
    chosen = chosen.filter((c) => !window.includes(c.needle));
  }
  return {
    prefix: prefix.text,
    suffix,
    prefixTokens: prefix.tokens,
    suffixTokens,
    snippets: chosen.map((c) => c.index),
  };
}
