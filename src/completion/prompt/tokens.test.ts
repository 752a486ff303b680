import { describe, expect, it } from 'vitest';
import { createEstimateCounter } from './tokens.js';

describe('createEstimateCounter', () => {
  const counter = createEstimateCounter(3, ['<|endoftext|>', '<EOT>', '▁<EOT>']);

  it.each([
    ['', 0],
    ['a', 1],
    ['abc', 1],
    ['abcd', 2],
    ['<|endoftext|>', 1],
    ['ab<|endoftext|>cd', 1 + 2],
    ['<EOT><EOT>', 2],
    // The longer token wins at the same position: one token, not "▁" plus "<EOT>".
    ['▁<EOT>', 1],
    ['<|endoftext', 4],
  ])('counts %j as %i', (text, tokens) => {
    expect(counter.count(text)).toBe(tokens);
  });

  it('rejects a non-positive charsPerToken', () => {
    expect(() => createEstimateCounter(0, [])).toThrow(RangeError);
  });

  it('counts plain characters when there are no special tokens', () => {
    expect(createEstimateCounter(2.5, []).count('x'.repeat(11))).toBe(5);
  });

  it('answers each text by its own content, in any order', () => {
    const fresh = createEstimateCounter(3, ['<EOT>']);
    const texts = ['abcdef', '<EOT>', 'abcdef<EOT>', 'abc', 'abcdef', `${'ab'}cdef`, '<EOT>'];
    const expected = [2, 1, 3, 1, 2, 2, 1];
    for (const round of [0, 1]) {
      expect(
        texts.map((t) => fresh.count(t)),
        `round ${round}`,
      ).toEqual(expected);
    }
  });
});
