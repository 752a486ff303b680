import { describe, expect, it } from 'vitest';
import { type CachedAnswer, type CacheKeyParts, CompletionCache } from './cache.js';

const base: CacheKeyParts = {
  model: 'coder',
  promptParts: ['<PRE>', 'def add(a, b):\n    ', '<SUF>', '\n', '<MID>'],
  suffix: undefined,
  maxTokens: 128,
  temperature: 0.1,
  stop: ['\n\n'],
  lineMode: 'multi',
};

const answer: CachedAnswer = { text: 'return a + b', filters: ['trailingWhitespace'] };

describe('CompletionCache exact reuse', () => {
  it('returns what was stored under the same key parts', () => {
    const cache = new CompletionCache(100, 60_000);
    cache.set(cache.key(base), answer);
    expect(cache.get(cache.key({ ...base, stop: [...base.stop] }))).toEqual(answer);
  });

  it('misses on an unknown key', () => {
    const cache = new CompletionCache(100, 60_000);
    expect(cache.get(cache.key(base))).toBeUndefined();
  });

  it.each<[string, Partial<CacheKeyParts>]>([
    ['model', { model: 'other' }],
    ['prompt', { promptParts: [...base.promptParts, ' '] }],
    ['suffix (set vs unset)', { suffix: '' }],
    ['suffix (different text)', { suffix: ')' }],
    ['maxTokens', { maxTokens: 129 }],
    ['temperature', { temperature: 0.2 }],
    ['stop (other string)', { stop: ['\n'] }],
    ['stop (extra string)', { stop: ['\n\n', '```'] }],
    ['stop (none)', { stop: [] }],
    ['lineMode', { lineMode: 'single' }],
  ])('misses when only the %s differs', (_name, change) => {
    const cache = new CompletionCache(100, 60_000);
    cache.set(cache.key(base), answer);
    expect(cache.key({ ...base, ...change })).not.toBe(cache.key(base));
    expect(cache.get(cache.key({ ...base, ...change }))).toBeUndefined();
    expect(cache.get(cache.key(base))).toEqual(answer);
  });

  it('does not confuse stop lists that concatenate to the same text', () => {
    const cache = new CompletionCache(100, 60_000);
    expect(cache.key({ ...base, stop: ['ab', 'c'] })).not.toBe(cache.key({ ...base, stop: ['a', 'bc'] }));
    expect(cache.key({ ...base, stop: ['abc'] })).not.toBe(cache.key({ ...base, stop: ['ab', 'c'] }));
  });

  it('keys a prompt by its text, however it was cut into pieces', () => {
    // The same prompt reached through another template cut is the same request to the model.
    const cache = new CompletionCache(100, 60_000);
    cache.set(cache.key(base), answer);
    const whole = base.promptParts.join('');
    expect(cache.get(cache.key({ ...base, promptParts: [whole] }))).toEqual(answer);
    expect(cache.get(cache.key({ ...base, promptParts: [whole.slice(0, 3), whole.slice(3)] }))).toEqual(
      answer,
    );
  });

  it('does not confuse a prompt/suffix boundary shift', () => {
    const cache = new CompletionCache(100, 60_000);
    expect(cache.key({ ...base, promptParts: ['ab'], suffix: 'c' })).not.toBe(
      cache.key({ ...base, promptParts: ['a'], suffix: 'bc' }),
    );
  });

  it('forgets entries after ttlMs', async () => {
    const cache = new CompletionCache(100, 150);
    const key = cache.key(base);
    cache.set(key, answer);
    expect(cache.get(key)).toEqual(answer);
    await new Promise((r) => setTimeout(r, 250));
    expect(cache.get(key)).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new CompletionCache(2, 60_000);
    const k1 = cache.key({ ...base, promptParts: ['1'] });
    const k2 = cache.key({ ...base, promptParts: ['2'] });
    const k3 = cache.key({ ...base, promptParts: ['3'] });
    cache.set(k1, answer);
    cache.set(k2, answer);
    cache.get(k1);
    cache.set(k3, answer);
    expect(cache.get(k1)).toEqual(answer);
    expect(cache.get(k2)).toBeUndefined();
    expect(cache.get(k3)).toEqual(answer);
  });
});

/** Typed-through look-up as the engine makes it: the document's key first, then the position. */
function typedAt(cache: CompletionCache, model: string, prefix: string, suffix: string) {
  return cache.typedThrough(cache.documentKey(model, suffix), prefix);
}

describe('CompletionCache typed-through reuse', () => {
  const prefix = 'def add(a, b):\n    ';
  const suffix = '\n\nprint(add(1, 2))\n';
  const suggestion = 'return a + b';

  function primed(): CompletionCache {
    const cache = new CompletionCache(100, 60_000);
    cache.remember(cache.documentKey('coder', suffix), prefix, suggestion);
    return cache;
  }

  it('returns the rest of the suggestion when the user typed its beginning', () => {
    expect(typedAt(primed(), 'coder', `${prefix}ret`, suffix)).toEqual({ text: 'urn a + b', typed: 3 });
    expect(typedAt(primed(), 'coder', `${prefix}return a + `, suffix)).toEqual({ text: 'b', typed: 11 });
  });

  it('does not reuse when the typed text diverges from the suggestion', () => {
    expect(typedAt(primed(), 'coder', `${prefix}rex`, suffix)).toBeUndefined();
  });

  it('does not reuse when nothing was typed or the whole suggestion was typed', () => {
    expect(typedAt(primed(), 'coder', prefix, suffix)).toBeUndefined();
    expect(typedAt(primed(), 'coder', `${prefix}${suggestion}`, suffix)).toBeUndefined();
    expect(typedAt(primed(), 'coder', `${prefix}${suggestion}x`, suffix)).toBeUndefined();
  });

  it('does not reuse when the text before the remembered prefix changed', () => {
    expect(typedAt(primed(), 'coder', `# x\n${prefix}ret`, suffix)).toBeUndefined();
    expect(typedAt(primed(), 'coder', 'def add(a, b):\nret', suffix)).toBeUndefined();
  });

  it('does not reuse when the suffix differs', () => {
    expect(typedAt(primed(), 'coder', `${prefix}ret`, `${suffix}x`)).toBeUndefined();
    expect(typedAt(primed(), 'coder', `${prefix}ret`, '')).toBeUndefined();
  });

  it('does not reuse another model’s suggestion', () => {
    expect(typedAt(primed(), 'other', `${prefix}ret`, suffix)).toBeUndefined();
  });

  it('ignores empty suggestions', () => {
    const cache = new CompletionCache(100, 60_000);
    cache.remember(cache.documentKey('coder', suffix), prefix, '');
    expect(typedAt(cache, 'coder', `${prefix}r`, suffix)).toBeUndefined();
  });

  it('uses the newest suggestion for the same prefix', () => {
    const cache = primed();
    cache.remember(cache.documentKey('coder', suffix), prefix, 'raise ValueError()');
    expect(typedAt(cache, 'coder', `${prefix}r`, suffix)).toEqual({
      text: 'aise ValueError()',
      typed: 1,
    });
    expect(typedAt(cache, 'coder', `${prefix}ret`, suffix)).toBeUndefined();
  });

  it('keeps suggestions for several positions in one document', () => {
    const cache = primed();
    cache.remember(cache.documentKey('coder', suffix), `${prefix}x = 1\n    `, 'y = 2');
    expect(typedAt(cache, 'coder', `${prefix}ret`, suffix)).toEqual({ text: 'urn a + b', typed: 3 });
    expect(typedAt(cache, 'coder', `${prefix}x = 1\n    y`, suffix)).toEqual({ text: ' = 2', typed: 1 });
  });

  it('forgets suggestions after ttlMs', async () => {
    const cache = new CompletionCache(100, 150);
    cache.remember(cache.documentKey('coder', suffix), prefix, suggestion);
    await new Promise((r) => setTimeout(r, 250));
    expect(typedAt(cache, 'coder', `${prefix}ret`, suffix)).toBeUndefined();
  });
});

describe('CompletionCache with maxEntries 0', () => {
  it('stores and reuses nothing', () => {
    const cache = new CompletionCache(0, 60_000);
    const key = cache.key(base);
    cache.set(key, answer);
    expect(cache.get(key)).toBeUndefined();
    cache.remember(cache.documentKey('coder', ''), 'a', 'bcd');
    expect(typedAt(cache, 'coder', 'ab', '')).toBeUndefined();
  });
});
