import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { suffixOverlap } from './suffix-overlap.js';

const cases: GoldenCase[] = [
  {
    name: 'the answer continues into the lines that follow the cursor',
    prefix: 'def f(xs):\n',
    suffix: '    return total\n',
    output: '    total = sum(xs)\n    return total\n',
    expected: '    total = sum(xs)\n',
  },
  {
    name: 'cursor at a line end: the re-typed next line after a line break',
    prefix: 'def f(xs):\n    total = ',
    suffix: '\n    return total * 2\n',
    output: 'sum(xs)\n    return total * 2',
    expected: 'sum(xs)',
  },
  {
    name: 'the re-typed rest of the cursor line (closing bracket the answer did not open)',
    prefix: 'print(',
    suffix: ')\n',
    output: 'name, age)',
    expected: 'name, age',
    lineMode: 'single',
  },
  {
    name: 'the re-typed rest of the line with a quote and a bracket',
    prefix: 'print("',
    suffix: '")\n',
    output: 'hello")',
    expected: 'hello',
    lineMode: 'single',
  },
  {
    name: 'a copy that skips the suffix blank lines is still found',
    prefix: 'def f(x):\n',
    suffix: '\n\n    return helper(x)\n',
    output: '    x = x + 1\n    return helper(x)\n',
    expected: '    x = x + 1\n',
  },
  {
    name: 'a copy taking the place of the line break the suffix starts with',
    prefix: 'def f(x):\n',
    suffix: '\n    return helper(x)\n',
    output: '    x = x + 1\n    return helper(x)\n',
    expected: '    x = x + 1',
  },
  {
    name: 'does not fire: the closing bracket closes one the answer opened',
    prefix: 'print(',
    suffix: ')\n',
    output: 'len(xs)',
    expected: 'len(xs)',
    lineMode: 'single',
  },
  {
    name: 'does not fire: a lone } that matches the suffix (too common to trust)',
    prefix: 'function f() {\n  if (a) {\n',
    suffix: '}\n',
    output: '    b();\n  }\n',
    expected: '    b();\n  }\n',
    language: 'javascript',
  },
  {
    name: 'does not fire: the same statement one level deeper',
    prefix: 'def f(x):\n',
    suffix: '    return None\n',
    output: '    if x is None:\n        return None\n',
    expected: '    if x is None:\n        return None\n',
  },
  {
    name: 'does not fire: suffix text only as part of a longer word',
    prefix: 'x = ',
    suffix: 'value\n',
    output: 'default_value',
    expected: 'default_value',
    lineMode: 'single',
  },
];

describe('suffixOverlap', () => {
  it.each(cases)('$name', (c) => {
    expect(suffixOverlap.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
