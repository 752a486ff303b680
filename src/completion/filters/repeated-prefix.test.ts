import { describe, expect, it } from 'vitest';
import { contextOf, type GoldenCase } from './golden.js';
import { repeatedPrefix } from './repeated-prefix.js';

const cases: GoldenCase[] = [
  {
    name: 'the answer only re-types the line above',
    prefix: 'total = 0\nfor x in xs:\n    total += x\n    ',
    suffix: '\nreturn total\n',
    output: 'total += x',
    expected: '',
  },
  {
    name: 'the answer re-types the last two lines above, blank lines ignored',
    prefix: 'a = 1\nb = 2\n\n',
    suffix: '',
    output: 'a = 1\n\nb = 2\n',
    expected: '',
  },
  {
    name: 'does not fire: the same closer one level further out closes another block',
    prefix: 'function f() {\n  if (x) {\n    y();\n  }\n',
    suffix: '\n',
    output: '}',
    expected: '}',
    language: 'javascript',
  },
  {
    name: 'does not fire: a new line after a copied one',
    prefix: 'a = 1\n',
    suffix: '',
    output: 'a = 1\nb = 2\n',
    expected: 'a = 1\nb = 2\n',
  },
  {
    name: 'does not fire (and ends): a document that starts with a blank line and fewer lines than the answer',
    prefix: '\n\ndef f(n):\n',
    suffix: '',
    output: '    a = 1\n    b = 2\n    c = 3\n    return a + b + c\n',
    expected: '    a = 1\n    b = 2\n    c = 3\n    return a + b + c\n',
  },
  {
    name: 'does not fire: the true next statement',
    prefix: 'def area(r):\n    import math\n    ',
    suffix: '\n',
    output: 'return math.pi * r * r',
    expected: 'return math.pi * r * r',
  },
];

describe('repeatedPrefix', () => {
  it.each(cases)('$name', (c) => {
    expect(repeatedPrefix.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
