import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIM_FAMILIES } from '../../config/schema.js';
import type { CompletionInput } from '../types.js';
import { allocateBudget, type BudgetSnippet, keepHead, keepTail } from './budget.js';
import { buildPrompt } from './build.js';
import { FIM_TEMPLATES, renderFimTemplate } from './templates.js';
import { createEstimateCounter } from './tokens.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const perChar = createEstimateCounter(1, []);

describe('keepTail (prefix side)', () => {
  it.each([
    [17, 'aaaa\nbbbb\ncccc\ndd'],
    [16, 'bbbb\ncccc\ndd'],
    [12, 'bbbb\ncccc\ndd'],
    [11, 'cccc\ndd'],
    [7, 'cccc\ndd'],
    [6, 'dd'],
    [2, 'dd'],
    // The cursor line alone is too long: keep its characters nearest the cursor.
    [1, 'd'],
    [0, ''],
  ])('with %i tokens keeps %j', (maxTokens, expected) => {
    expect(keepTail('aaaa\nbbbb\ncccc\ndd', maxTokens, perChar, [])).toBe(expected);
  });

  it('keeps nothing of the previous line when the cursor is at a line start', () => {
    expect(keepTail('aaaa\nbbbb\n', 4, perChar, [])).toBe('');
  });

  it('keeps CRLF pairs whole', () => {
    expect(keepTail('a1\r\nb2\r\nc3', 7, perChar, [])).toBe('b2\r\nc3');
    expect(keepTail('a1\r\nb2\r\nc3', 5, perChar, [])).toBe('c3');
  });

  it.each([
    ['emoji', '😀'.repeat(20), 7, '😀😀😀'],
    ['CJK and emoji', '中文😀字符😀', 5, '字符😀'],
    ['CJK and emoji, odd cut', '中文😀字符😀', 6, '😀字符😀'],
  ])('never splits a surrogate pair (%s)', (_name, text, maxTokens, expected) => {
    const kept = keepTail(text, maxTokens, perChar, []);
    expect(kept).toBe(expected);
    expect(LONE_SURROGATE.test(kept)).toBe(false);
  });

  it('never splits a special token in user text', () => {
    const counter = createEstimateCounter(1, ['<|endoftext|>']);
    // Counting characters, 3 tokens would end at `|>"`; the token counts 1 and stays whole.
    expect(keepTail('x = "<|endoftext|>"', 3, counter, ['<|endoftext|>'])).toBe('"<|endoftext|>"');
    expect(keepTail('x = "<|endoftext|>"', 1, counter, ['<|endoftext|>'])).toBe('"');
    expect(keepTail('a\nx = "<|endoftext|>"', 7, counter, ['<|endoftext|>'])).toBe('x = "<|endoftext|>"');
  });
});

describe('keepHead (suffix side)', () => {
  it.each([
    [8, 'ab\ncd\nef'],
    [7, 'ab\ncd\n'],
    [6, 'ab\ncd\n'],
    [5, 'ab\n'],
    [3, 'ab\n'],
    [2, 'ab'],
    [1, 'a'],
    [0, ''],
  ])('with %i tokens keeps %j', (maxTokens, expected) => {
    expect(keepHead('ab\ncd\nef', maxTokens, perChar, [])).toBe(expected);
  });

  it('keeps CRLF pairs whole, also when cutting inside the cursor line', () => {
    expect(keepHead('x\r\ny\r\nz', 5, perChar, [])).toBe('x\r\n');
    expect(keepHead('abc\r\nd', 4, perChar, [])).toBe('abc');
    expect(keepHead('abc\r\nd', 2, perChar, [])).toBe('ab');
  });

  it('never splits a surrogate pair or a special token', () => {
    expect(keepHead('😀😀😀😀', 5, perChar, [])).toBe('😀😀');
    const counter = createEstimateCounter(1, ['<MID>']);
    expect(keepHead('a <MID> b', 4, counter, ['<MID>'])).toBe('a <MID> ');
    expect(keepHead('a <MID> b', 2, counter, ['<MID>'])).toBe('a ');
    expect(keepHead('a <MID> b', 3, counter, ['<MID>'])).toBe('a <MID>');
  });
});

describe('allocateBudget', () => {
  const snippet = (content: string, distance: number): BudgetSnippet => ({
    text: `${content}\n`,
    content,
    distance,
  });
  const base = {
    prefix: 'p1\np2\np3\n',
    suffix: 's1\ns2\n',
    suffixShare: 0.25,
    contextShare: 0.5,
    counter: perChar,
    specialTokens: [],
  };

  it('takes snippets nearest first, skips ones that do not fit, keeps whole ones only', () => {
    const result = allocateBudget({
      ...base,
      budget: 40,
      snippets: [snippet('far', 3), snippet('x'.repeat(30), 0), snippet('near', 1), snippet('mid', 2)],
    });
    // suffix cap 10 keeps all 6; context cap 20: the 31-token one is skipped, 5 + 4 + 4 fit.
    expect(result).toEqual({
      prefix: 'p1\np2\np3\n',
      suffix: 's1\ns2\n',
      prefixTokens: 9,
      suffixTokens: 6,
      snippets: [2, 3, 0],
    });
  });

  it('stops adding snippets at the context share', () => {
    const result = allocateBudget({
      ...base,
      budget: 40,
      snippets: [snippet('aaaaaaaa', 0), snippet('bbbbbbbb', 1), snippet('cccc', 2)],
    });
    // Cap 20: 9 + 9 = 18, then "cccc\n" (5) would exceed it.
    expect(result.snippets).toEqual([0, 1]);
  });

  it('drops snippets already in the kept window, and blank ones', () => {
    const result = allocateBudget({
      ...base,
      budget: 40,
      snippets: [snippet('p2\np3', 0), snippet('  \n', 1), snippet('s1', 2), snippet('other', 3)],
    });
    expect(result.snippets).toEqual([3]);
  });

  it('gives the prefix what the snippets leave unused', () => {
    const result = allocateBudget({
      ...base,
      prefix: 'a'.repeat(20) + '\n' + 'b'.repeat(9) + '\n',
      suffix: '',
      budget: 32,
      snippets: [snippet('x'.repeat(20), 0)],
    });
    // Reserve 16 leaves the prefix 16 (just the b line); the 21-token snippet is skipped,
    // so the prefix is cut again with all 32.
    expect(result).toEqual({
      prefix: 'a'.repeat(20) + '\n' + 'b'.repeat(9) + '\n',
      suffix: '',
      prefixTokens: 31,
      suffixTokens: 0,
      snippets: [],
    });
  });

  it('gives the prefix priority beyond the context share', () => {
    const result = allocateBudget({
      ...base,
      prefix: 'a'.repeat(30) + '\n' + 'b'.repeat(9) + '\n',
      suffix: '',
      budget: 32,
      snippets: [snippet('x'.repeat(10), 0)],
    });
    expect(result).toEqual({
      prefix: 'b'.repeat(9) + '\n',
      suffix: '',
      prefixTokens: 10,
      suffixTokens: 0,
      snippets: [0],
    });
  });

  it.each([0, -5])('returns nothing for a budget of %i', (budget) => {
    expect(allocateBudget({ ...base, budget, snippets: [snippet('a', 0)] })).toEqual({
      prefix: '',
      suffix: '',
      prefixTokens: 0,
      suffixTokens: 0,
      snippets: [],
    });
  });

  it('handles a one-token budget', () => {
    expect(allocateBudget({ ...base, budget: 1, snippets: [snippet('a', 0)] })).toEqual({
      prefix: '',
      suffix: '',
      prefixTokens: 0,
      suffixTokens: 0,
      snippets: [],
    });
    expect(allocateBudget({ ...base, prefix: 'ab', budget: 1, snippets: [] }).prefix).toBe('b');
  });
});

describe('buildPrompt budget properties', () => {
  const fragments = [
    'a',
    'foo',
    ' ',
    '    ',
    '\n',
    '\r\n',
    '😀',
    '中文',
    '𝒳',
    '<|endoftext|>',
    '<fim_prefix>',
    '<｜fim▁hole｜>',
    '<PRE>',
    '[SUFFIX]',
    '<|fim',
    '|>',
    '}',
    ';',
  ];
  const text = fc.array(fc.constantFrom(...fragments), { maxLength: 60 }).map((parts) => parts.join(''));
  const snippets = fc.array(
    fc.record({
      path: fc.option(fc.constantFrom('a.py', 'src/b.ts'), { nil: undefined }),
      content: text,
      distance: fc.integer({ min: 0, max: 5 }),
    }),
    { maxLength: 4 },
  );

  it('reports the token counts of what it kept, as the counter counts them', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.constantFrom(...FIM_FAMILIES),
        fc.integer({ min: -5, max: 80 }),
        fc.constantFrom(1, 2.5, 4),
        (prefix, suffix, family, budget, charsPerToken) => {
          const specialTokens = FIM_TEMPLATES[family].specialTokens;
          const counter = createEstimateCounter(charsPerToken, specialTokens);
          const kept = allocateBudget({
            prefix,
            suffix,
            snippets: [],
            budget,
            suffixShare: 0.25,
            contextShare: 0.5,
            counter,
            specialTokens,
          });
          expect(kept.prefixTokens).toBe(counter.count(kept.prefix));
          expect(kept.suffixTokens).toBe(counter.count(kept.suffix));
        },
      ),
    );
  });

  it('never exceeds the budget and only cuts away text far from the cursor', () => {
    fc.assert(
      fc.property(
        text,
        text,
        snippets,
        fc.constantFrom(...FIM_FAMILIES),
        fc.constantFrom<'template' | 'suffix'>('template', 'suffix'),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom(1, 2, 2.5, 3, 4),
        fc.integer({ min: 0, max: 90 }),
        fc.integer({ min: 0, max: 90 }),
        (
          prefix,
          suffix,
          snippetList,
          family,
          fim,
          contextWindow,
          maxTokens,
          charsPerToken,
          suffixPct,
          contextPct,
        ) => {
          const input: CompletionInput = {
            prefix,
            suffix,
            language: 'python',
            stop: [],
            snippets: snippetList,
            triggerMode: 'auto',
          };
          const built = buildPrompt(
            input,
            { family, fim, contextWindow, charsPerToken, stop: [] },
            { maxTokens, suffixShare: suffixPct / 100, contextShare: contextPct / 100, lineMode: 'multi' },
          );
          const template = FIM_TEMPLATES[family];
          const overhead = createEstimateCounter(charsPerToken, template.specialTokens).count(
            renderFimTemplate(template, '', ''),
          );
          expect(built.promptTokens).toBeLessThanOrEqual(Math.max(contextWindow - maxTokens, overhead));
          expect(prefix.endsWith(built.usedPrefix)).toBe(true);
          expect(suffix.startsWith(built.usedSuffix)).toBe(true);
          expect(LONE_SURROGATE.test(built.usedPrefix + built.usedSuffix)).toBe(false);
          expect(LONE_SURROGATE.test(built.prompt + (built.suffix ?? ''))).toBe(false);
          for (const index of built.includedSnippets) expect(snippetList[index]).toBeDefined();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
