import { describe, expect, it } from 'vitest';
import { bracketBalance } from './code-lines.js';

describe('bracketBalance: line comments follow the language', () => {
  it.each<[string, string | undefined, number]>([
    ['range(len(arr) // 2', 'python', 1],
    ['half = (len(arr) // 2)', 'python', 0],
    ['x = f(a  # (not counted', 'python', 1],
    ['call(a, // (not counted', 'typescript', 1],
    ['call(a, // (not counted', 'javascript', 1],
    ['foo(x, // (not counted', 'go', 1],
    ['foo(x, // (not counted', 'java', 1],
    ['printf("%d", x  // )', 'c', 1],
    ['#define SQUARE(x) ((x) * (x))', 'c', 0],
    ['this.#count = f(', 'typescript', 1],
    ['call(a, // (unknown language: both markers count', undefined, 1],
    ['f(a # (unknown language: both markers count', undefined, 1],
  ])('%j in %s → %d', (text, language, delta) => {
    expect(bracketBalance(text, language).delta).toBe(delta);
  });
});
