import { describe, expect, it } from 'vitest';
import { closersAfterCursor } from './closers-after-cursor.js';
import { contextOf, type GoldenCase } from './golden.js';

const cases: GoldenCase[] = [
  {
    name: 'python: a complete first line cannot take the `)`: the answer ends at the line that does',
    prefix: 'def mean_absolute_deviation(numbers):\n    mean ',
    suffix: ')\n',
    output:
      '= sum(numbers) / len(numbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers\n\n\ndef other():\n',
    expected: '= sum(numbers) / len(numbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers',
  },
  {
    name: 'python: a block opened on the cursor line, its body, and the call the `)` closes',
    prefix: 'def intersperse(numbers, delimeter):\n    res',
    suffix: ')\n        result.append(delimeter)\n',
    output:
      'ult = []\n\n    for n in numbers[:-1]:\n        result.append(n\n        result.append(delimeter)\n',
    expected: 'ult = []\n\n    for n in numbers[:-1]:\n        result.append(n',
  },
  {
    name: 'python: the line that takes the closers re-types them: it is kept for suffixOverlap to cut',
    prefix: 'def f(l):\n    l = li',
    suffix: ')\n    return l\n',
    output: 'st(l)\n    l[::3] = sorted(l[::3])',
    expected: 'st(l)\n    l[::3] = sorted(l[::3])',
  },
  {
    name: 'python: an answer that starts with a line break leaves the cursor line as it is',
    prefix: 'def f(n):\n    if n == 1: return 1',
    suffix: ')\n',
    output: '\n    return 18 * (10 ** (n - 2)\n',
    expected: '\n    return 18 * (10 ** (n - 2)',
  },
  {
    name: 'python: closers re-typed on the cursor line and the code after it copied: first line only',
    prefix: 'def f(numbers):\n    mean = sum(numbers) / len(nu',
    suffix: ')\n    return sum(abs(x - mean) for x in numbers) / len(numbers)\n',
    output: 'mbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers)\n',
    expected: 'mbers)',
  },
  {
    name: 'python: a body after re-typed closers is not the model’s code: first line only',
    prefix: 'def f(n):\n    for i in reversed(range(',
    suffix: ')):\n        if n % i == 0:\n            return i\n',
    output: 'n)):\n        print(i)\n',
    expected: 'n)):',
  },
  {
    name: 'python: a cursor line that still needs the `)` keeps the answer on it, as a single-line request would',
    prefix: 'def f(xs):\n    total = sum(',
    suffix: ')\n    return total\n',
    output: 'x * 2 for x in xs\n    print(total)\n',
    expected: 'x * 2 for x in xs',
  },
  {
    name: 'python: an incomplete cursor line followed by a new statement at its level: first line only',
    prefix: 'def f(numbers):\n    min_number = min(',
    suffix: ')\n    max_number = max(numbers)\n',
    output: 'numbers\n    min_number = min(numbers)\n',
    expected: 'numbers',
  },
  {
    name: 'python: `//` is floor division, not a comment: the cursor line is complete without `)`',
    prefix: 'def first_half(arr):\n    half = (len(arr',
    suffix: ')\n',
    output: ') // 2)\n    return sum(arr[:half]\n',
    expected: ') // 2)\n    return sum(arr[:half]',
  },
  {
    name: 'typescript: the statement ends on the cursor line, the call the `)` closes is on the next',
    prefix: 'export function total(items: Item[]): number {\n  const prices = items.map((i) => i.price',
    suffix: ');\n}\n',
    output: ');\n  return sum(prices\n}\n',
    expected: ');\n  return sum(prices',
    language: 'typescript',
  },
  {
    name: 'javascript: a method chain continued on a deeper line takes the `);`',
    prefix: 'function names(list) {\n  const items = list.map((x) => x.name',
    suffix: ');\n  return items;\n}\n',
    output: ')\n    .filter(Boolean\n  return items;\n',
    expected: ')\n    .filter(Boolean',
    language: 'javascript',
  },
  {
    name: 'javascript: an arrow body cannot end before `});` on the cursor line: first line only',
    prefix: "button.addEventListener('click', () =",
    suffix: '});\n',
    output: '> {\n  count += 1;\n  render(count);\n',
    expected: '> {',
    language: 'javascript',
  },
  {
    name: 'go: an if condition completed on the cursor line; the `)` belongs to the call in its body',
    prefix: 'func find(xs []int, x int) int {\n\tfor i, v := range xs {\n\t\tif v == x {',
    suffix: ')\n\t\t}\n\t}\n\treturn -1\n}\n',
    output: '\n\t\t\tlog.Printf("found %d", i\n\t\t}\n',
    expected: '\n\t\t\tlog.Printf("found %d", i',
    language: 'go',
  },
  {
    name: 'java: the cursor line needs the `);`: a second statement after it is dropped',
    prefix: 'class Greeter {\n  void greet(String name) {\n    System.out.println(',
    suffix: ');\n  }\n}\n',
    output: '"Hello, " + name\n    count++;\n',
    expected: '"Hello, " + name',
    language: 'java',
  },
  {
    name: 'c: a loop header completed on the cursor line; `);` closes the call in its body',
    prefix: 'void dump(const int *xs, int n) {\n  for (int i = 0; i < n; i++) {',
    suffix: ');\n  }\n}\n',
    output: '\n    printf("%d\\n", xs[i]\n  }\n}\n',
    expected: '\n    printf("%d\\n", xs[i]',
    language: 'c',
  },
  {
    name: 'c: at a line start, a body ending with a line break leaves `}` on its own line',
    prefix: 'int twice(int a) {\n',
    suffix: '}\n',
    output: '  return a * 2;\n',
    expected: '  return a * 2;\n',
    language: 'c',
  },
  {
    name: 'does not fire: nothing but a line break after the cursor',
    prefix: 'def f(x):\n    y = ',
    suffix: '\n    return y\n',
    output: 'x + 1\n    z = 2\n',
    expected: 'x + 1\n    z = 2\n',
  },
  {
    name: 'does not fire: a one-line answer (suffixOverlap judges its end)',
    prefix: 'print(',
    suffix: ')\n',
    output: 'name, age)',
    expected: 'name, age)',
  },
];

describe('closersAfterCursor', () => {
  it.each(cases)('$name', (c) => {
    expect(closersAfterCursor.apply(c.output, contextOf(c))).toBe(c.expected);
  });
});
