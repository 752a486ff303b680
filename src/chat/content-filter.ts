import { HttpError } from '../http/errors.js';
import { textOf } from './history.js';
import type { ChatMessage, OutputFilter } from './types.js';

/**
 * The configured word list (`chat.contentFilter`): questions containing a word are refused, and
 * words in answers are masked as they stream. Matching folds ASCII letters only (A–Z = a–z):
 * that keeps every match the same length in the text as in the word, which the streaming code
 * relies on, and other scripts (CJK) have no case.
 */

interface TrieNode {
  next: Map<string, TrieNode>;
  /** Length of the word ending here (in UTF-16 units), if one does. */
  word?: number;
}

/** The words as a trie over case-folded characters; built once per word list. */
export class WordMatcher {
  readonly #root: TrieNode = { next: new Map() };
  readonly empty: boolean;

  constructor(words: readonly string[]) {
    let count = 0;
    for (const word of words) {
      if (word.length === 0) continue;
      let node = this.#root;
      for (const ch of fold(word)) {
        let child = node.next.get(ch);
        if (!child) {
          child = { next: new Map() };
          node.next.set(ch, child);
        }
        node = child;
      }
      node.word = word.length;
      count++;
    }
    this.empty = count === 0;
  }

  /**
   * The longest word starting at `at`: its length, 0 when none does, or 'more' when the text
   * ends while a longer word could still follow (only when `final` is false).
   */
  matchAt(text: string, at: number, final: boolean): number | 'more' {
    let node = this.#root;
    let longest = 0;
    for (let i = at; ; i++) {
      if (i === text.length) return !final && node.next.size > 0 ? 'more' : longest;
      const child = node.next.get(foldChar(text[i]!));
      if (!child) return longest;
      node = child;
      if (node.word !== undefined) longest = node.word;
    }
  }

  /** The first word in `text` (as written there), if any. */
  find(text: string): string | undefined {
    for (let i = 0; i < text.length; i++) {
      const length = this.matchAt(text, i, true);
      if (typeof length === 'number' && length > 0) return text.slice(i, i + length);
    }
    return undefined;
  }
}

/**
 * Refuses a question that contains a configured word: HttpError 400 naming the message and the
 * word as the user wrote it. The user typed it, so naming it discloses nothing new and tells them
 * what to change (the original did the same, chat-server §2.7); the rest of the list stays unseen.
 */
export function checkInput(messages: readonly ChatMessage[], words: readonly string[] | WordMatcher): void {
  const matcher = words instanceof WordMatcher ? words : new WordMatcher(words);
  if (matcher.empty) return;
  messages.forEach((message, index) => {
    const found = matcher.find(textOf(message.content));
    if (found !== undefined) {
      throw new HttpError(
        400,
        'invalid_request_error',
        `messages.${index}.content contains a blocked word ("${found}"); rephrase the question without it`,
        `messages.${index}.content`,
      );
    }
  });
}

/** Without words there is nothing to hold back: one filter, stateless, for every answer. */
const PASS_THROUGH: OutputFilter = Object.freeze({ push: (text: string) => text, flush: () => '' });

/**
 * Masks configured words in a streamed answer. Scanning left to right, the longest word starting
 * at each position is replaced by `mask`; the output is the same however the answer is chunked,
 * because text is only let out once no word can start in it and still be completed by later
 * chunks. What is held back is at most one word's length minus one.
 */
export function createMaskingFilter(words: readonly string[] | WordMatcher, mask: string): OutputFilter {
  const matcher = words instanceof WordMatcher ? words : new WordMatcher(words);
  if (matcher.empty) return PASS_THROUGH;
  let pending = '';
  const run = (final: boolean): string => {
    let out = '';
    let plainFrom = 0;
    let i = 0;
    while (i < pending.length) {
      const length = matcher.matchAt(pending, i, final);
      if (length === 'more') break;
      if (length === 0) {
        i++;
        continue;
      }
      out += pending.slice(plainFrom, i) + mask;
      i += length;
      plainFrom = i;
    }
    out += pending.slice(plainFrom, i);
    pending = pending.slice(i);
    return out;
  };
  return {
    push(text) {
      pending += text;
      return run(false);
    },
    flush() {
      return run(true);
    },
  };
}

/** Masks a whole text at once; the streaming filter gives the same result for any chunking. */
export function maskText(text: string, words: readonly string[] | WordMatcher, mask: string): string {
  const filter = createMaskingFilter(words, mask);
  return filter.push(text) + filter.flush();
}

function fold(text: string): string[] {
  return Array.from({ length: text.length }, (_, i) => foldChar(text[i]!));
}

function foldChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : ch;
}
