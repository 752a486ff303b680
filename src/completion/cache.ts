import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { FilterName } from '../config/schema.js';

/**
 * Two in-process reuse paths, both bounded:
 * - exact: same model, same final prompt and parameters → the same answer, no model call;
 * - typed-through: the user typed the first characters of the suggestion we just gave, so the
 *   new prefix is the old prefix plus a beginning of that suggestion (same suffix): the rest of
 *   the suggestion is still the answer.
 */

export interface CachedAnswer {
  text: string;
  /** Filters that shaped the answer, reported again on a hit. */
  filters: FilterName[];
}

export interface TypedThroughHit {
  text: string;
  /** How many characters of the earlier suggestion the user had typed. */
  typed: number;
}

interface RecentAnswer {
  prefix: string;
  text: string;
}

const RECENT_PER_DOCUMENT = 4;

/** A list among the parts is hashed as its join: the prompt's pieces hash like the whole prompt. */
function digest(parts: readonly (string | number | readonly string[])[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    if (typeof p === 'object') for (const piece of p) h.update(piece);
    else h.update(String(p));
    h.update('\u0000');
  }
  return h.digest('base64url');
}

export interface CacheKeyParts {
  model: string;
  /** The final prompt in the pieces it was built from (BuiltPrompt.promptParts). */
  promptParts: readonly string[];
  suffix: string | undefined;
  maxTokens: number;
  temperature: number;
  stop: readonly string[];
  lineMode: string;
}

export class CompletionCache {
  private readonly exact: LRUCache<string, CachedAnswer> | undefined;
  private readonly recent: LRUCache<string, RecentAnswer[]> | undefined;

  constructor(maxEntries: number, ttlMs: number) {
    if (maxEntries <= 0) return;
    this.exact = new LRUCache({ max: maxEntries, ttl: ttlMs });
    this.recent = new LRUCache({ max: Math.max(16, Math.floor(maxEntries / 4)), ttl: ttlMs });
  }

  key(p: CacheKeyParts): string {
    // Hashing a whole document costs CPU on every request; with the cache off nothing reads it.
    if (!this.exact) return '';
    return digest([
      p.model,
      p.promptParts,
      p.suffix ?? '\u0001',
      p.maxTokens,
      p.temperature,
      p.stop.join('\u0002'),
      p.lineMode,
    ]);
  }

  get(key: string): CachedAnswer | undefined {
    return this.exact?.get(key);
  }

  set(key: string, answer: CachedAnswer): void {
    this.exact?.set(key, answer);
  }

  /**
   * The key of a position's document for typed-through reuse: the model and everything after the
   * cursor. A hash of the whole suffix (it can be most of a long file), so a request computes it
   * once and passes it to both {@link typedThrough} and {@link remember}; '' with the cache off.
   */
  documentKey(model: string, suffix: string): string {
    if (!this.recent) return '';
    return digest([model, suffix]);
  }

  /** Remembers a suggestion given at `prefix` so typing through it can reuse the rest. */
  remember(documentKey: string, prefix: string, text: string): void {
    if (!this.recent || text.length === 0) return;
    const list = this.recent.get(documentKey) ?? [];
    const next = [{ prefix, text }, ...list.filter((e) => e.prefix !== prefix)].slice(0, RECENT_PER_DOCUMENT);
    this.recent.set(documentKey, next);
  }

  typedThrough(documentKey: string, prefix: string): TypedThroughHit | undefined {
    const list = this.recent?.get(documentKey);
    if (!list) return undefined;
    for (const e of list) {
      if (prefix.length <= e.prefix.length || !prefix.startsWith(e.prefix)) continue;
      const typed = prefix.slice(e.prefix.length);
      if (typed.length < e.text.length && e.text.startsWith(typed)) {
        return { text: e.text.slice(typed.length), typed: typed.length };
      }
    }
    return undefined;
  }
}
