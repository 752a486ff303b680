import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { trailingWhitespace } from './trailing-whitespace.js';

const cases: GoldenCase[] = [
  {
    name: 'trims trailing spaces and blank lines, keeps one line break',
    prefix: 'def f():\n',
    suffix: 'x = 1\n',
    output: '    return 1   \n\n  \n',
    expected: '    return 1\n',
  },
  {
    name: 'keeps CRLF when the document uses it',
    prefix: 'def f():\r\n',
    suffix: '',
    output: '    a = 1  \n    return a\r\n\r\n',
    expected: '    a = 1\r\n    return a\r\n',
  },
  {
    name: 'turns stray CRLF into LF in an LF document',
    prefix: 'x = 1\n',
    suffix: '',
    output: 'y = 2\r\nz = 3',
    expected: 'y = 2\nz = 3',
  },
  {
    name: 'keeps the indentation of a blank line inside the answer (python)',
    prefix: 'def count(xs):\n',
    suffix: '',
    output: '    total = 0\n    \n    for x in xs:\n        total += x  \n    return total\n',
    expected: '    total = 0\n    \n    for x in xs:\n        total += x\n    return total\n',
  },
  {
    name: 'keeps a tab-indented blank line between statements (go)',
    prefix: 'func sum(xs []int) int {\n',
    suffix: '}\n',
    output: '\ttotal := 0\n\t\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n\t\n',
    expected: '\ttotal := 0\n\t\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n',
    language: 'go',
  },
  {
    name: 'after text on the cursor line, no line break before the suffix that starts with one',
    prefix: 'def mean(xs):\n    total = su',
    suffix: '\n    return total / len(xs)\n',
    output: 'm(xs)\n',
    expected: 'm(xs)',
  },
  {
    name: 'after text on the cursor line at the end of the file, no line break either',
    prefix: 'def nothing():\n    return ',
    suffix: '',
    output: 'None\n',
    expected: 'None',
  },
  {
    name: 'does not fire: spaces before text that continues on the cursor line',
    prefix: 'x = ',
    suffix: 'y\n',
    output: 'a + ',
    expected: 'a + ',
    lineMode: 'single',
  },
  {
    name: 'does not fire: already tidy',
    prefix: 'def f():\n',
    suffix: '',
    output: '    return 1',
    expected: '    return 1',
  },
];

describe('trailingWhitespace', () => {
  it.each(cases)('$name', (c) => {
    expect(trailingWhitespace.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
