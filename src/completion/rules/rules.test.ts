import { describe, expect, it } from 'vitest';
import type { RejectRuleName } from '../../config/schema.js';
import { type CompletionInput, cursorView } from '../types.js';
import { afterStatementEnd } from './after-statement-end.js';
import { emptyDocument } from './empty-document.js';
import { checkRejectRules } from './index.js';
import { insideWord } from './inside-word.js';
import type { RejectRule } from './rule.js';

function at(prefix: string, suffix: string, extra: Partial<CompletionInput> = {}): CompletionInput {
  return { prefix, suffix, language: 'typescript', stop: [], snippets: [], triggerMode: 'auto', ...extra };
}

const check = (rule: RejectRule, input: CompletionInput) =>
  rule.check(input, cursorView(input.prefix, input.suffix));

describe('afterStatementEnd', () => {
  it.each([
    ['foo();', '', true],
    ['foo();  ', '\n', true],
    ['x = 1;\t', '   \r\nnext', true],
    ['}', '\nmore', true],
    ['call(a)', '', true],
    ['<div>', '\n', true],
    ['a\nfoo();', '', true],
    ['foo();', ' bar', false],
    ['foo(', ')', false],
    ['const x = ', '', false],
    ['const f = () =>', '', false],
    ['fn f() ->', '', false],
    ['List<int>', '', true],
    ['foo();\n', '', false],
    ['', '', false],
  ])('prefix %j, suffix %j → %s', (prefix, suffix, rejected) => {
    expect(check(afterStatementEnd, at(prefix, suffix))).toBe(rejected);
  });
});

describe('insideWord', () => {
  it.each([
    ['fo', 'o()', true],
    ['x', '1', true],
    ['a', '_b', true],
    ['名', '前', true],
    ['foo', '()', false],
    ['foo', ' bar', false],
    ['foo', '', false],
    ['foo', '\nbar', false],
  ])('prefix %j, suffix %j → %s', (prefix, suffix, rejected) => {
    expect(check(insideWord, at(prefix, suffix))).toBe(rejected);
  });
});

describe('emptyDocument', () => {
  it.each([
    ['', '', true],
    ['  \n\t', '\r\n ', true],
    ['x', '', false],
    ['', 'x', false],
  ])('prefix %j, suffix %j → %s', (prefix, suffix, rejected) => {
    expect(check(emptyDocument, at(prefix, suffix))).toBe(rejected);
  });
});

describe('checkRejectRules', () => {
  const allOn: Record<RejectRuleName, boolean> = {
    afterStatementEnd: true,
    insideWord: true,
    emptyDocument: true,
  };

  it.each<[string, CompletionInput, Record<RejectRuleName, boolean>, RejectRuleName | undefined]>([
    ['finished statement', at('foo();', ''), allOn, 'afterStatementEnd'],
    ['inside a word', at('fo', 'o'), allOn, 'insideWord'],
    ['empty document', at(' ', ''), allOn, 'emptyDocument'],
    ['nothing wrong', at('const x = ', ''), allOn, undefined],
    ['rule switched off', at('foo();', ''), { ...allOn, afterStatementEnd: false }, undefined],
    ['first enabled rule wins', at('a;', 'b'), allOn, 'insideWord'],
    ['manual trigger skips all rules', at('', '', { triggerMode: 'manual' }), allOn, undefined],
    ['continue trigger is checked', at('', '', { triggerMode: 'continue' }), allOn, 'emptyDocument'],
  ])('%s', (_name, input, enabled, expected) => {
    expect(checkRejectRules(input, enabled)).toBe(expected);
  });
});
