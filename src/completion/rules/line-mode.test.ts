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
    ['python', 'def f():\n    ', '\n', 'multi'],
    ['python', '', '', 'multi'],
    ['python', 'def f(a, b):', '\n', 'multi'],
    ['python', 'if x', '\n', 'multi'],
    ['python', 'async def run', '\r\n', 'multi'],
    ['python', 'result = compute', '\n', 'single'],
    ['python', 'iffy = 1', '\n', 'single'],
    ['python', 'x = y if z else', '\n', 'single'],
    ['typescript', 'export async function load', '\n', 'multi'],
    ['typescript', 'const a = {', '\n', 'multi'],
    ['typescript', 'const a = [', '  \n', 'multi'],
    ['typescript', 'const a = b', '\n', 'single'],
    ['typescript', '} else', '\n', 'multi'],
    ['go', 'func main()', '\n', 'multi'],
    ['go', 'x := 1', '\n', 'single'],
    ['java', 'public static void main(String[] args)', '\n', 'multi'],
    ['c++', 'namespace app', '\n', 'multi'],
    ['rust', 'pub fn new() -> Self', '\n', 'multi'],
    ['rust', 'let x = 1', '\n', 'single'],
    ['ruby', 'def greet', '\n', 'multi'],
    ['ruby', 'puts x', '\n', 'single'],
    ['php', 'foreach ($xs as $x)', '\n', 'multi'],
    ['unknown-lang', 'function go', '\n', 'multi'],
    ['unknown-lang', 'go', '\n', 'single'],
  ])('auto, %s: prefix %j, suffix %j → %s', (language, prefix, suffix, expected) => {
    expect(decideLineMode(at(language, prefix, suffix), 'auto')).toBe(expected);
  });
});
