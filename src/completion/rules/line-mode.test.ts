import { describe, expect, it } from 'vitest';
import type { CompletionInput, LineMode } from '../types.js';
import { decideLineMode } from './line-mode.js';

function at(language: string, prefix: string, suffix = '\n'): CompletionInput {
  return { prefix, suffix, language, stop: [], snippets: [], triggerMode: 'auto' };
}

describe('decideLineMode', () => {
  it.each<[string, CompletionInput, 'auto' | 'always' | 'never', LineMode]>([
    ['client choice wins over always', { ...at('python', 'x = '), lineMode: 'single' }, 'always', 'single'],
    ['client choice wins over never', { ...at('python', 'x = '), lineMode: 'multi' }, 'never', 'multi'],
    ['always', at('python', 'x = ', 'foo'), 'always', 'multi'],
    ['never', at('python', 'def f():\n'), 'never', 'single'],
  ])('%s', (_name, input, configured, expected) => {
    expect(decideLineMode(input, configured)).toBe(expected);
  });

  it.each<[string, string, string, LineMode]>([
    ['python', 'x = foo(', 'a, b)\n', 'single'],
    ['python', 'x = foo(', ')\n', 'multi'],
    ['python', 'for c in range(len(', ')):\n', 'multi'],
    ['python', "print(f'{x", "}')\n", 'multi'],
    ['python', 'x = foo(', ') + 1\n', 'single'],
    ['python', 'def f():\n    ', '\n', 'multi'],
    ['python', '', '', 'multi'],
    ['python', 'def f(a, b):', '\n', 'multi'],
    ['python', '    f', '\n        print(b)\n', 'multi'],
    ['python', 'result = compute', '\n', 'multi'],
    ['python', 'async def run', '\r\n', 'multi'],
    ['typescript', 'const a = [', '  \n', 'multi'],
    ['typescript', 'const a = b', '\n', 'multi'],
    ['typescript', 'if (ready', ') {\n', 'single'],
    ['go', 'x := 1', '\n', 'multi'],
    ['java', 'System.out.println(', ');\n', 'multi'],
    ['java', 'System.out.println(', ', x);\n', 'single'],
    ['c', 'printf("%d\\n", ', ');\n', 'multi'],
    ['go', 'fmt.Println(', ')\n', 'multi'],
  ])('auto, %s: prefix %j, suffix %j → %s', (language, prefix, suffix, expected) => {
    expect(decideLineMode(at(language, prefix, suffix), 'auto')).toBe(expected);
  });
});
