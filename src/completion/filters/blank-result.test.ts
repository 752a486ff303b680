import { describe, expect, it } from 'vitest';
import { blankResult } from './blank-result.js';
import { contextOf, type GoldenCase } from './golden.js';

const cases: GoldenCase[] = [
  { name: 'spaces and line breaks only', prefix: 'x = ', suffix: '', output: '  \n\t\n', expected: '' },
  { name: 'empty stays empty', prefix: 'x = ', suffix: '', output: '', expected: '' },
  { name: 'does not fire: any code', prefix: 'x = ', suffix: '', output: ' 1', expected: ' 1' },
];

describe('blankResult', () => {
  it.each(cases)('$name', (c) => {
    expect(blankResult.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
