import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { repetitiveLines } from './repetitive-lines.js';

const cases: GoldenCase[] = [
  {
    name: 'a line repeated over and over keeps one copy',
    prefix: 'def f(xs):\n',
    suffix: '',
    output:
      '    out = []\n    out.append(xs[0])\n    out.append(xs[0])\n    out.append(xs[0])\n    out.append(xs[0])\n',
    expected: '    out = []\n    out.append(xs[0])\n',
  },
  {
    name: 'a two-line group repeated, the last copy cut off',
    prefix: '',
    suffix: '',
    output: 'x = 1\nprint(x)\nx = 1\nprint(x)\nx = 1\nprint(x)\nx = 1\npri',
    expected: 'x = 1\nprint(x)\n',
  },
  {
    name: 'trailing blank lines after the loop are dropped with it',
    prefix: '',
    suffix: '',
    output: 'a()\nb()\nb()\nb()\n\n\n',
    expected: 'a()\nb()\n',
  },
  {
    name: 'python: the cursor line, once completed, repeated as whole lines',
    prefix: 'def f(s):\n    for c ',
    suffix: '\n        print(c)\n',
    output: 'in s:\n    for c in s:\n    for c in s:\n    for c in s:',
    expected: 'in s:\n',
  },
  {
    name: 'java: copies separated by blank lines',
    prefix: 'class A {\n  void f() {\n    ',
    suffix: '\n  }\n}\n',
    output: 'count++;\n\n    count++;\n\n    count++;\n\n    count++;\n',
    expected: 'count++;\n',
    language: 'java',
  },
  {
    name: 'does not fire: two identical lines in a row are plausible code',
    prefix: '',
    suffix: '',
    output: 'stack.pop()\nstack.pop()\nreturn stack\n',
    expected: 'stack.pop()\nstack.pop()\nreturn stack\n',
  },
  {
    name: 'does not fire: closers at different indentation',
    prefix: '',
    suffix: '',
    output: '      }\n    }\n  }\n}',
    expected: '      }\n    }\n  }\n}',
    language: 'javascript',
  },
  {
    name: 'does not fire: similar but different lines',
    prefix: '',
    suffix: '',
    output: 'a[0] = 0\na[1] = 0\na[2] = 0\na[3] = 0\n',
    expected: 'a[0] = 0\na[1] = 0\na[2] = 0\na[3] = 0\n',
  },
];

describe('repetitiveLines', () => {
  it.each(cases)('$name', (c) => {
    expect(repetitiveLines.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
